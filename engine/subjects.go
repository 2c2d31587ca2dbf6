package engine

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/lethe-privacy/lethe"
)

// SubjectKinds lists the identifier kinds the tenant's collections
// blind-index (email, phone, customer_id, ...), sorted.
func (e *Engine) SubjectKinds(ctx context.Context, tenant string) ([]string, error) {
	ts, err := e.tenant(ctx, tenant)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, c := range ts.set.Collections() {
		for _, f := range c.Fields {
			if f.Subject != "" {
				seen[f.Subject] = true
			}
			for _, it := range f.Items {
				if it.Subject != "" {
					seen[it.Subject] = true
				}
			}
		}
	}
	withFindingKinds(seen, ts.set.Collections())
	kinds := make([]string, 0, len(seen))
	for k := range seen {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	return kinds, nil
}

// FindSubject returns every record of the tenant that holds any of the
// given identifiers (kind → value), across collections, with the records
// linked to them and those of the identifiers same_person ties to them
// (G1; see reach). It goes through the blind index only: values are
// normalized and hashed with the tenant's index key, never compared
// against decrypted data.
func (e *Engine) FindSubject(ctx context.Context, tenant string, ids map[string]string) ([]*Doc, error) {
	if len(ids) == 0 {
		return nil, &lethe.FieldError{Field: "query", Reason: "name at least one identifier, e.g. ?email=..."}
	}
	kinds, err := e.SubjectKinds(ctx, tenant)
	if err != nil {
		return nil, err
	}
	keys, err := e.keys.Tenant(ctx, tenant)
	if err != nil {
		return nil, err
	}
	ts, err := e.tenant(ctx, tenant)
	if err != nil {
		return nil, err
	}
	var start []lethe.ScopeIdentity
	for kind, v := range ids {
		i := sort.SearchStrings(kinds, kind)
		if i == len(kinds) || kinds[i] != kind {
			return nil, &lethe.FieldError{Field: kind, Reason: fmt.Sprintf("not an identifier of this tenant's collections; known: %s", strings.Join(kinds, ", "))}
		}
		h, err := keys.BlindIndex(kind, v)
		if err != nil {
			return nil, &lethe.FieldError{Field: kind, Reason: fmt.Sprintf("not a valid %s: %v", kind, err)}
		}
		start = append(start, lethe.ScopeIdentity{Kind: kind, Hash: h})
	}
	read := e.startRead()
	defer read.abandon()
	rc, err := e.reachOf(ctx, ts, keys, tenant, start)
	if err != nil {
		return nil, err
	}
	recs := rc.records()
	docs := make([]*Doc, 0, len(recs))
	for _, r := range recs {
		d, err := e.doc(ctx, r)
		if err != nil {
			return nil, err
		}
		docs = append(docs, d)
	}
	kindNames := make([]string, 0, len(ids))
	for k := range ids {
		kindNames = append(kindNames, k)
	}
	sort.Strings(kindNames)
	if err := e.logRead(ctx, &read, tenant, "subject.find", recs, map[string]any{"kinds": kindNames}); err != nil {
		return nil, err
	}
	return docs, nil
}

// Stats counts a collection's records grouped by a plain field (and per
// day): the statistics that survive anonymization (O6).
func (e *Engine) Stats(ctx context.Context, tenant, collection, field string, perDay bool) ([]lethe.StatRow, error) {
	_, c, err := e.collection(ctx, tenant, collection)
	if err != nil {
		return nil, err
	}
	// Stores group by one named field and refuse an empty name; say so
	// here as a field error, so that the API can tell which input to fix.
	if field == "" {
		return nil, &lethe.FieldError{Field: "group_by", Reason: fmt.Sprintf("required: name a plain field of collection %s to group by", collection)}
	}
	f := c.Field(field)
	if f == nil {
		return nil, &lethe.FieldError{Field: "group_by", Reason: fmt.Sprintf("unknown field of collection %s", collection)}
	}
	if f.IsPII() {
		return nil, &lethe.FieldError{Field: "group_by", Reason: fmt.Sprintf("%s is personal data and sealed; statistics group by plain fields only", field)}
	}
	return e.store.Stats(ctx, tenant, collection, field, perDay)
}
