package engine

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/lethe-privacy/lethe"
)

// Page sizes of every listing: DefaultPageLimit when the caller names
// none, at most MaxPageLimit, so that one page stays one short read.
const (
	DefaultPageLimit = 100
	MaxPageLimit     = 1000
)

// cursor is what a page's Next carries: the kind of listing it belongs to
// and the last id of the page. Clients treat it as opaque (base64url of
// this JSON); the kind keeps a cursor of one listing from being taken for
// another's.
type cursor struct {
	Kind  string `json:"k"`
	After string `json:"a"`
}

// Listing kinds of a cursor.
const (
	cursorTenants  = "tenants"
	cursorRecords  = "records"
	cursorRequests = "requests"
)

func encodeCursor(kind, after string) string {
	b, _ := json.Marshal(cursor{Kind: kind, After: after})
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor returns the id a cursor of kind says to continue after; ""
// for no cursor.
func decodeCursor(kind, s string) (string, error) {
	if s == "" {
		return "", nil
	}
	bad := &lethe.FieldError{Field: "next", Reason: "not a cursor of this listing; pass the next value of the previous page as it is"}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return "", bad
	}
	var c cursor
	if err := json.Unmarshal(b, &c); err != nil || c.Kind != kind || c.After == "" {
		return "", bad
	}
	return c.After, nil
}

// pageLimit checks a requested page size; 0 means DefaultPageLimit.
func pageLimit(n int) (int, error) {
	switch {
	case n == 0:
		return DefaultPageLimit, nil
	case n < 0 || n > MaxPageLimit:
		return 0, &lethe.FieldError{Field: "limit", Reason: fmt.Sprintf("want 1 to %d", MaxPageLimit)}
	}
	return n, nil
}

// nextOf cuts a page read with one item more than limit back to limit,
// and says whether there is more: the cursor after its last id, or "".
func nextOf[T any](kind string, items []T, limit int, id func(T) string) ([]T, string) {
	if len(items) <= limit {
		return items, ""
	}
	items = items[:limit]
	return items, encodeCursor(kind, id(items[limit-1]))
}

// Page is one page of a listing; Next is "" on the last one.
type Page[T any] struct {
	Items []T
	Next  string
}

// ListTenants pages through every tenant in id order (an admin's view).
// next is the previous page's Next ("" for the first page), limit 0 means
// DefaultPageLimit.
func (e *Engine) ListTenants(ctx context.Context, limit int, next string) (*Page[*lethe.Tenant], error) {
	n, err := pageLimit(limit)
	if err != nil {
		return nil, err
	}
	after, err := decodeCursor(cursorTenants, next)
	if err != nil {
		return nil, err
	}
	ts, err := e.store.ListTenants(ctx, lethe.TenantQuery{After: after, Limit: n + 1})
	if err != nil {
		return nil, err
	}
	items, nx := nextOf(cursorTenants, ts, n, func(t *lethe.Tenant) string { return t.ID })
	return &Page[*lethe.Tenant]{Items: items, Next: nx}, nil
}

// RecordFilter narrows a record listing; zero fields do not filter. The
// time ranges include From and exclude To.
type RecordFilter struct {
	Origin                 string
	State                  lethe.State
	CreatedFrom, CreatedTo time.Time
	UpdatedFrom, UpdatedTo time.Time
	Limit                  int    // 0: DefaultPageLimit
	Next                   string // the previous page's Next
}

// check refuses values no record can have and empty ranges, naming the
// query parameter to fix.
func (f RecordFilter) check() error {
	switch f.State {
	case "", lethe.StateActive, lethe.StateAnonymized:
	default:
		return &lethe.FieldError{Field: "state", Reason: "want active or anonymized"}
	}
	if f.Origin != "" && !originPattern.MatchString(f.Origin) {
		return &lethe.FieldError{Field: "origin", Reason: "want 1-64 lower-case characters of a-z, 0-9, '.', '_' and '-'"}
	}
	if !f.CreatedFrom.IsZero() && !f.CreatedTo.IsZero() && !f.CreatedFrom.Before(f.CreatedTo) {
		return &lethe.FieldError{Field: "created_to", Reason: "must lie after created_from"}
	}
	if !f.UpdatedFrom.IsZero() && !f.UpdatedTo.IsZero() && !f.UpdatedFrom.Before(f.UpdatedTo) {
		return &lethe.FieldError{Field: "updated_to", Reason: "must lie after updated_from"}
	}
	return nil
}

// ListRecords pages through a collection in id order, each record as Get
// returns it, PII decrypted. A page is a read of every record on it, and
// is logged as one: the manager-log entry Get writes, through the same
// path (announced, then logRead), listing the page's records.
func (e *Engine) ListRecords(ctx context.Context, tenant, collection string, f RecordFilter) (*Page[*Doc], error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	n, err := pageLimit(f.Limit)
	if err != nil {
		return nil, err
	}
	after, err := decodeCursor(cursorRecords, f.Next)
	if err != nil {
		return nil, err
	}
	read := e.startRead()
	defer read.abandon()
	if _, _, err := e.collection(ctx, tenant, collection); err != nil {
		return nil, err
	}
	recs, err := e.store.ListRecords(ctx, lethe.RecordQuery{
		Tenant: tenant, Collection: collection, Origin: f.Origin, State: f.State,
		CreatedFrom: f.CreatedFrom, CreatedTo: f.CreatedTo, UpdatedFrom: f.UpdatedFrom, UpdatedTo: f.UpdatedTo,
		After: after, Limit: n + 1,
	})
	if err != nil {
		return nil, err
	}
	recs, nx := nextOf(cursorRecords, recs, n, func(r *lethe.Record) string { return r.ID })
	docs := make([]*Doc, len(recs))
	for i, r := range recs {
		if docs[i], err = e.doc(ctx, r); err != nil {
			return nil, err
		}
	}
	if len(recs) > 0 {
		if err := e.logRead(ctx, &read, tenant, "record.read", recs, map[string]any{"via": "list"}); err != nil {
			return nil, err
		}
	}
	return &Page[*Doc]{Items: docs, Next: nx}, nil
}

// RequestFilter narrows a request listing; zero fields do not filter.
type RequestFilter struct {
	State lethe.RequestState
	Type  lethe.RequestType
	Limit int    // 0: DefaultPageLimit
	Next  string // the previous page's Next
}

func (f RequestFilter) check() error {
	switch f.State {
	case "", lethe.RequestPending, lethe.RequestRunning, lethe.RequestDone, lethe.RequestFailed:
	default:
		return &lethe.FieldError{Field: "state", Reason: "want pending, running, done or failed"}
	}
	switch f.Type {
	case "", lethe.RequestExport, lethe.RequestErase, lethe.RequestAnonymize, lethe.RequestExportThenAnonymize:
	default:
		return &lethe.FieldError{Field: "type", Reason: "want export, erase, anonymize or export_then_anonymize"}
	}
	return nil
}

// ListRequests pages through a tenant's request jobs in the order they
// were submitted.
func (e *Engine) ListRequests(ctx context.Context, tenant string, f RequestFilter) (*Page[*lethe.Request], error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	n, err := pageLimit(f.Limit)
	if err != nil {
		return nil, err
	}
	after, err := decodeCursor(cursorRequests, f.Next)
	if err != nil {
		return nil, err
	}
	if _, err := e.tenant(ctx, tenant); err != nil {
		return nil, err
	}
	jobs, err := e.store.ListRequests(ctx, lethe.RequestQuery{Tenant: tenant, State: f.State, Type: f.Type, After: after, Limit: n + 1})
	if err != nil {
		return nil, err
	}
	items, nx := nextOf(cursorRequests, jobs, n, func(r *lethe.Request) string { return r.ID })
	return &Page[*lethe.Request]{Items: items, Next: nx}, nil
}
