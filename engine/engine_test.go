package engine_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
	"github.com/lethe-privacy/lethe/keyring"
	"github.com/lethe-privacy/lethe/policy"
)

// testStart is the clock reading every test begins at (C): whole seconds,
// so that the stores' millisecond resolution loses nothing.
var testStart = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// farFuture is how far after C the tests set timestamp fields that are not
// the basis of the rule under test, so that they never trigger a rule.
const farFuture = 50 * 365 * 24 * time.Hour

// testClock is a clock the test moves. The engine reads it from background
// goroutines (re-planning), so it is guarded.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

// Now reads the clock.
func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set moves the clock.
func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// testEnv is an engine over a real store: a SQLite file in a temporary
// directory, or a fresh PostgreSQL database (see openTestStore).
type testEnv struct {
	t     *testing.T
	ctx   context.Context
	clock *testClock
	store lethe.Store
	eng   *engine.Engine
	kek   keyring.Wrapper
}

// newTestEnv opens a fresh store and engine at testStart; sweepBatch 0
// keeps the engine's default batch size.
func newTestEnv(t *testing.T, sweepBatch int) *testEnv {
	t.Helper()
	master := make([]byte, 32)
	rand.Read(master)
	kek, err := keyring.NewFileKEK(master)
	if err != nil {
		t.Fatal(err)
	}
	return newEnvWith(t, engine.Config{KEK: kek, SweepBatch: sweepBatch})
}

// newEnvWith opens a fresh store at testStart and an engine on it with
// cfg (its KEK set; Store and Now are filled in), closed when t ends.
func newEnvWith(t *testing.T, cfg engine.Config) *testEnv {
	t.Helper()
	ctx := context.Background()
	clock := &testClock{t: testStart}
	st := openTestStore(t, clock.Now)
	cfg.Store, cfg.Now = st, clock.Now
	eng, err := engine.New(ctx, cfg)
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		eng.Close()
		if err := st.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return &testEnv{t: t, ctx: ctx, clock: clock, store: st, eng: eng, kek: cfg.KEK}
}

// secondEngine starts another engine on the same store and clock, as a
// second instance on one database would be.
func (e *testEnv) secondEngine() *engine.Engine {
	e.t.Helper()
	eng, err := engine.New(e.ctx, engine.Config{Store: e.store, KEK: e.kek, Now: e.clock.Now})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(eng.Close)
	return eng
}

// tenant creates a tenant using the packs.
func (e *testEnv) tenant(id string, packs ...string) {
	e.t.Helper()
	if _, err := e.eng.CreateTenant(e.ctx, "admin", id, packs); err != nil {
		e.t.Fatalf("create tenant %s: %v", id, err)
	}
}

// put stores one record and fails the test on error.
func (e *testEnv) put(tenant, collection string, nr engine.NewRecord) *engine.Doc {
	e.t.Helper()
	docs, err := e.eng.Put(e.ctx, tenant, collection, []engine.NewRecord{nr})
	if err != nil {
		e.t.Fatalf("put %s/%s: %v", tenant, collection, err)
	}
	return docs[0]
}

// get reads one record and fails the test on error.
func (e *testEnv) get(tenant, collection, id string) *engine.Doc {
	e.t.Helper()
	d, err := e.eng.Get(e.ctx, lethe.RecordRef{Tenant: tenant, Collection: collection, ID: id})
	if err != nil {
		e.t.Fatalf("get %s/%s/%s: %v", tenant, collection, id, err)
	}
	return d
}

// gone asserts that the record no longer exists.
func (e *testEnv) gone(tenant, collection, id string) {
	e.t.Helper()
	_, err := e.eng.Get(e.ctx, lethe.RecordRef{Tenant: tenant, Collection: collection, ID: id})
	if !errors.Is(err, lethe.ErrNotFound) {
		e.t.Fatalf("get %s/%s/%s: err = %v, want lethe.ErrNotFound", tenant, collection, id, err)
	}
}

// sweepAt moves the clock and sweeps.
func (e *testEnv) sweepAt(at time.Time) *engine.SweepResult {
	e.t.Helper()
	e.clock.Set(at)
	res, err := e.eng.Sweep(e.ctx)
	if err != nil {
		e.t.Fatalf("sweep at %s: %v", at.Format(time.RFC3339), err)
	}
	return res
}

// putSettings stores settings and waits until the re-planning they start
// has finished.
func (e *testEnv) putSettings(tenant, collection string, s *lethe.Settings) {
	e.t.Helper()
	if _, err := e.eng.PutSettings(e.ctx, "admin", tenant, collection, s); err != nil {
		e.t.Fatalf("settings of %s/%s: %v", tenant, collection, err)
	}
	e.waitReplan(tenant, collection)
}

// waitReplan polls ReplanStatus until the collection's re-planning is done.
func (e *testEnv) waitReplan(tenant, collection string) engine.ReplanStatus {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := e.eng.ReplanStatus(tenant, collection)
		if !st.Running {
			if st.Err != "" {
				e.t.Fatalf("replan %s/%s: %s", tenant, collection, st.Err)
			}
			return st
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("replan %s/%s still running after 10s: %+v", tenant, collection, st)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// enableAll switches on every switchable collection of the tenant, so that
// tests can write to the optional ones too.
func (e *testEnv) enableAll(tenant string) {
	e.t.Helper()
	cols, err := e.eng.Collections(e.ctx, tenant)
	if err != nil {
		e.t.Fatal(err)
	}
	on := true
	for _, c := range cols {
		if c.Switchable {
			e.putSettings(tenant, c.Name, &lethe.Settings{Enabled: &on})
		}
	}
}

// rows returns every stored record of a collection, in id order.
func (e *testEnv) rows(tenant, collection string) []*lethe.Record {
	e.t.Helper()
	var out []*lethe.Record
	after := ""
	for {
		recs, err := e.store.ScanRecords(e.ctx, tenant, collection, after, 100)
		if err != nil {
			e.t.Fatal(err)
		}
		if len(recs) == 0 {
			return out
		}
		out = append(out, recs...)
		after = recs[len(recs)-1].ID
	}
}

// rowSum is a checksum of what a store holds for a record: origin, times,
// state, plain fields, sealed envelopes and plan. Two reads with the same
// sum hold the same bytes.
func rowSum(t *testing.T, r *lethe.Record) string {
	t.Helper()
	plain, err := json.Marshal(r.Plain)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s|%s|%s|%s|%d|%d|%s|", r.Tenant, r.Collection, r.ID, r.Origin,
		r.CreatedAt.UnixMilli(), r.UpdatedAt.UnixMilli(), r.State)
	h.Write(plain)
	h.Write([]byte{0})
	h.Write(lethe.EncodeSealed(r.Sealed))
	fmt.Fprintf(h, "|%s|%s|%d", r.Plan.Action, r.Plan.Rule, r.Plan.DueAt.UnixMilli())
	return hex.EncodeToString(h.Sum(nil))
}

// mustPack loads an embedded pack.
func mustPack(t *testing.T, name string) *policy.Policy {
	t.Helper()
	p, err := policy.Pack(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// testPacks are the packs the tests walk through, rule by rule.
var testPacks = []string{"chatbot", "conversations", "erp-marketplace"}

// sampleFields fills every field of the collection with a value of its
// type. Timestamps are set to ts (callers pass one far in the future for
// fields that must not start a rule); n makes identifiers distinct.
func sampleFields(c *policy.Collection, ts time.Time, n int) map[string]any {
	out := make(map[string]any, len(c.Fields))
	for _, f := range c.Fields {
		out[f.Name] = sampleValue(f, ts, n)
	}
	return out
}

// sampleValue is a valid value for the field, as a JSON decoder with
// UseNumber (the HTTP layer's) would hand it in.
func sampleValue(f *policy.Field, ts time.Time, n int) any {
	switch f.Type {
	case policy.TypeString:
		switch f.Subject {
		case "email":
			return fmt.Sprintf("person%d@example.com", n)
		case "phone":
			return fmt.Sprintf("+49 30 %07d", 1000000+n)
		case "ip_address":
			return fmt.Sprintf("2001:db8::%x", n+1)
		case "":
			return f.Name + " value"
		default:
			return fmt.Sprintf("%s-%d", f.Subject, n)
		}
	case policy.TypeText:
		return "Some text about " + f.Name
	case policy.TypeInteger:
		return json.Number("42")
	case policy.TypeNumber:
		return json.Number("2.5")
	case policy.TypeBoolean:
		return true
	case policy.TypeTimestamp:
		return ts.Format(time.RFC3339)
	case policy.TypeDate:
		return ts.Format("2006-01-02")
	case policy.TypeID:
		// A customer number as ERPs send it, a JSON number; document
		// numbers as strings.
		if f.Subject != "" {
			return json.Number(fmt.Sprint(1000 + n))
		}
		return fmt.Sprintf("%s-%d", f.Name, n)
	case policy.TypeObject:
		return map[string]any{"key": "value", "count": json.Number("3"), "nested": map[string]any{"ok": true}}
	case policy.TypeJSON:
		return []any{map[string]any{"entity": "email", "value": "x@example.com", "confidence": json.Number("0.97")}, json.Number("7"), "token", nil}
	case policy.TypeList:
		item := make(map[string]any, len(f.Items))
		for _, it := range f.Items {
			item[it.Name] = sampleValue(it, ts, n)
		}
		return []any{item}
	}
	panic("sampleValue: unknown field type " + string(f.Type))
}
