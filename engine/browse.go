package engine

import (
	"context"
	"maps"
	"sort"

	"github.com/lethe-privacy/lethe"
)

// PlainDoc is a record as a listing shows it without decrypting: its plain
// fields, the names of its sealed (PII) fields, and its plan.
type PlainDoc struct {
	Doc
	Sealed []string // names of the PII fields the record holds
}

// BrowseRecords pages through a collection as ListRecords does but opens
// nothing: PII stays sealed, so the page is no read of personal data and
// needs no manager-log entry. A console shows it to choose the one record
// to open (with Get, which is audited).
func (e *Engine) BrowseRecords(ctx context.Context, tenant, collection string, f RecordFilter) (*Page[*PlainDoc], error) {
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
	out := make([]*PlainDoc, len(recs))
	for i, r := range recs {
		out[i] = plainDoc(r)
	}
	return &Page[*PlainDoc]{Items: out, Next: nx}, nil
}

// PlainRecord is one record as BrowseRecords shows it: nothing decrypted,
// nothing audited.
func (e *Engine) PlainRecord(ctx context.Context, ref lethe.RecordRef) (*PlainDoc, error) {
	if _, _, err := e.collection(ctx, ref.Tenant, ref.Collection); err != nil {
		return nil, err
	}
	r, err := e.store.Record(ctx, ref)
	if err != nil {
		return nil, err
	}
	return plainDoc(r), nil
}

func plainDoc(r *lethe.Record) *PlainDoc {
	sealed := make([]string, 0, len(r.Sealed))
	for k := range r.Sealed {
		sealed = append(sealed, k)
	}
	sort.Strings(sealed)
	return &PlainDoc{Doc: Doc{ID: r.ID, Collection: r.Collection, Origin: r.Origin, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
		State: r.State, Fields: maps.Clone(r.Plain), Plan: r.Plan}, Sealed: sealed}
}
