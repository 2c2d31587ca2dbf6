package engine

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/keyring"
	"github.com/lethe-privacy/lethe/sqlite"
)

// TestCommitLazy_MergesPlainReadsOfOneCallerOnly drives one lazy commit
// by hand, so that what shares an entry does not depend on timing.
func TestCommitLazy_MergesPlainReadsOfOneCallerOnly(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "lethe.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	master := make([]byte, 32)
	rand.Read(master)
	kek, err := keyring.NewFileKEK(master)
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(ctx, Config{Store: st, KEK: kek})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	if _, err := e.CreateTenant(ctx, "admin", "shop", []string{"chatbot"}); err != nil {
		t.Fatal(err)
	}

	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	read := func(actor, ip, id string, extra map[string]any) lazyItem {
		return lazyItem{read: &readEvent{tenant: "shop", caller: Caller{Actor: actor, IP: ip}, event: "record.read",
			at: t0.Add(time.Duration(len(id)) * time.Millisecond), extra: extra,
			recs: []readRec{{Collection: "variables", ID: id, Fields: []string{"value"}}}}}
	}
	pass, err := e.entry("shop", lethe.LogSecurity, "key:a", "auth.success", map[string]any{"ip": "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	items := []lazyItem{
		read("key:a", "192.0.2.1", "r1", nil),
		{entry: pass},
		read("key:b", "192.0.2.1", "r22", nil),
		read("key:a", "192.0.2.1", "r333", nil),
		read("key:a", "192.0.2.2", "r4444", nil),                             // another address
		read("key:a", "192.0.2.1", "r55555", map[string]any{"via": "patch"}), // details of its own
		read("key:a", "192.0.2.1", "r666666", nil),
	}
	if err := e.commitLazy(ctx, items); err != nil {
		t.Fatal(err)
	}
	if got := len(items[0].read.recs); got != 1 {
		t.Fatalf("the first caller's read now lists %d records: a merge must not change a caller's own read (it is retried alone when the commit fails)", got)
	}

	m, _, err := e.AuditLog(ctx, lethe.AuditQuery{Tenant: "shop", Log: lethe.LogManager, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		actor, ip, ids string
		via            any
		at             time.Time
	}{
		{"key:a", "192.0.2.1", `["r1","r333","r666666"]`, nil, t0.Add(2 * time.Millisecond)},
		{"key:b", "192.0.2.1", `["r22"]`, nil, t0.Add(3 * time.Millisecond)},
		{"key:a", "192.0.2.2", `["r4444"]`, nil, t0.Add(5 * time.Millisecond)},
		{"key:a", "192.0.2.1", `["r55555"]`, "patch", t0.Add(6 * time.Millisecond)},
	}
	var reads []*LogEntry
	for _, en := range m {
		if en.Event == "record.read" {
			reads = append(reads, en)
		}
	}
	if len(reads) != len(want) {
		t.Fatalf("%d read entries, want %d", len(reads), len(want))
	}
	for i, w := range want {
		en := reads[i]
		sealed, _ := en.Data["sealed"].(map[string]any)
		var ids []string
		groups, _ := sealed["read"].([]any)
		for _, g := range groups {
			for _, id := range g.(map[string]any)["ids"].([]any) {
				ids = append(ids, id.(string))
			}
		}
		gotIDs, _ := json.Marshal(ids)
		if en.Actor != w.actor || sealed["ip"] != w.ip || string(gotIDs) != w.ids || en.Data["via"] != w.via ||
			en.Data["records"] != float64(len(ids)) || !en.Time.Equal(w.at) {
			t.Errorf("entry %d: actor %s ip %v records %s (count %v) via %v at %v; want %s %s %s via %v at %v",
				i, en.Actor, sealed["ip"], gotIDs, en.Data["records"], en.Data["via"], en.Time, w.actor, w.ip, w.ids, w.via, w.at)
		}
	}
	sec, _, err := e.AuditLog(ctx, lethe.AuditQuery{Tenant: "shop", Log: lethe.LogSecurity, Event: "auth.success", Limit: 100})
	if err != nil || len(sec) != 1 {
		t.Fatalf("security log: %d auth.success entries (%v), want the pass committed with the reads", len(sec), err)
	}
	if s := e.AuditStats(); s.LazyEntries != 5 {
		t.Errorf("LazyEntries = %d, want 5 (4 read entries and the pass)", s.LazyEntries)
	}
	rep, err := e.VerifyAudit(ctx)
	if err != nil || len(rep.Breaks) > 0 {
		t.Fatalf("verify: %v %v", err, rep.Breaks)
	}
}

func TestGroupReads(t *testing.T) {
	rec := func(coll, id string, fields ...string) readRec {
		return readRec{Collection: coll, ID: id, Fields: fields}
	}
	for _, tc := range []struct {
		name string
		recs []readRec
		want string
	}{
		{"one record", []readRec{rec("a", "1", "email")},
			`[{"collection":"a","fields":["email"],"ids":["1"]}]`},
		{"same collection and fields share a group", []readRec{rec("a", "1", "email"), rec("a", "2", "email")},
			`[{"collection":"a","fields":["email"],"ids":["1","2"]}]`},
		{"other fields, other group", []readRec{rec("a", "1", "email"), rec("a", "2", "email", "name"), rec("a", "3", "email")},
			`[{"collection":"a","fields":["email"],"ids":["1","3"]},{"collection":"a","fields":["email","name"],"ids":["2"]}]`},
		{"other collection, other group", []readRec{rec("b", "1", "email"), rec("a", "1", "email")},
			`[{"collection":"b","fields":["email"],"ids":["1"]},{"collection":"a","fields":["email"],"ids":["1"]}]`},
		{"a record read twice is listed twice", []readRec{rec("a", "1", "email"), rec("a", "1", "email")},
			`[{"collection":"a","fields":["email"],"ids":["1","1"]}]`},
		{"no sealed fields", []readRec{rec("a", "1")},
			`[{"collection":"a","fields":null,"ids":["1"]}]`},
		{"names cannot run together", []readRec{rec("a", "1", "b\x00c"), rec("a", "2", "b", "c")},
			`[{"collection":"a","fields":["b\u0000c"],"ids":["1"]},{"collection":"a","fields":["b","c"],"ids":["2"]}]`},
	} {
		got, err := json.Marshal(groupReads(tc.recs))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
}
