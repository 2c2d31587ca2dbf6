// Package storetest is the conformance suite every lethe.Store runs: the
// SQLite store today, a PostgreSQL store later. A store passes when it
// behaves as the lethe.Store doc comments say, whatever its SQL.
//
// Use it from a store's tests:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) lethe.Store { return openTemp(t) })
//	}
//
// open must return a new, empty store for each call and arrange its own
// cleanup (t.Cleanup); the suite closes nothing it did not open itself.
// Times in the fixtures are whole milliseconds, the precision every store
// must keep.
package storetest

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
)

// Opener returns a new, empty store for one subtest.
type Opener func(t *testing.T) lethe.Store

// Run runs the conformance suite against stores made by open.
func Run(t *testing.T, open func(t *testing.T) lethe.Store) {
	t.Helper()
	groups := []struct {
		name  string
		tests map[string]func(*testing.T, Opener)
	}{
		{"Meta", metaTests},
		{"Records", recordTests},
		{"Sweep", sweepTests},
		{"Audit", auditTests},
		{"AuditLog", auditLogTests},
		{"Requests", requestTests},
		{"Leases", leaseTests},
		{"Tenants", tenantTests},
		{"Guards", guardTests},
		{"Listing", listingTests},
		{"Idempotency", idempotencyTests},
		{"KeyRotation", rotationTests},
		{"Embeddings", embeddingTests},
		{"Sessions", sessionTests},
		{"TenantDue", tenantDueTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, name := range sortedKeys(g.tests) {
				t.Run(name, func(t *testing.T) { g.tests[name](t, open) })
			}
		})
	}
}

// t0 is the fixtures' clock: a whole millisecond in UTC.
var t0 = time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)

// hash is a 16-byte blind-index hash standing in for the keyring's.
func hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:16]
}

// record builds a typical record: plain and sealed fields and one e-mail
// subject whose hash derives from the id.
func record(tenant, collection, id string) *lethe.Record {
	return &lethe.Record{
		Tenant:     tenant,
		Collection: collection,
		ID:         id,
		Origin:     "shop",
		CreatedAt:  t0,
		UpdatedAt:  t0,
		State:      lethe.StateActive,
		Plain:      map[string]any{"status": "open", "amount": int64(42)},
		Sealed:     map[string][]byte{"email": []byte("sealed-email-" + id), "name": []byte("sealed-name-" + id)},
		Subjects:   []lethe.Subject{{Kind: "email", Field: "email", Hash: hash("mail-" + id)}},
	}
}

// planned sets a record's plan.
func planned(r *lethe.Record, action lethe.Action, due time.Time) *lethe.Record {
	r.Plan = lethe.Plan{Action: action, Rule: "rule-" + string(action), DueAt: due}
	return r
}

// mustInsert inserts records or fails the test.
func mustInsert(t *testing.T, s lethe.Store, recs ...*lethe.Record) {
	t.Helper()
	if err := s.InsertRecords(t.Context(), recs); err != nil {
		t.Fatalf("InsertRecords: %v", err)
	}
}

// wantErr fails unless err matches target.
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

// wantConflict checks that err is a conflict that says, in words for a
// client, what exists (what), and quotes no SQL.
func wantConflict(t *testing.T, what string, err error, want string) {
	t.Helper()
	var ce *lethe.ConflictError
	if !errors.As(err, &ce) {
		t.Fatalf("%s: got error %v, want a lethe.ConflictError", what, err)
	}
	if ce.What != want {
		t.Fatalf("%s: conflict says %q, want %q", what, ce.What, want)
	}
}

// ids lists the records' ids in order.
func ids(recs []*lethe.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.ID
	}
	return out
}

// idf numbers fixture ids so that they sort as numbers.
func idf(i int) string { return fmt.Sprintf("r%04d", i) }
