package journal_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/journal"
	"github.com/lethe-privacy/lethe/keyring"
	"github.com/lethe-privacy/lethe/sqlite"
)

func kek(t *testing.T, b byte) *keyring.FileKEK {
	t.Helper()
	k, err := keyring.NewFileKEK(bytes.Repeat([]byte{b}, keyring.KEKSize))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func ref(i int) lethe.RecordRef {
	return lethe.RecordRef{Tenant: "shop", Collection: "orders", ID: fmt.Sprintf("A-%d", i)}
}

// The journal holds keyed hashes and times only: no record id, tenant or
// collection in the clear, and it reopens under the same master key only.
func TestJournal_HoldsHashesOnlyAndNeedsTheMasterKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), journal.FileName)
	j, err := journal.Open(context.Background(), path, kek(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	if _, err := j.Begin([]journal.Entry{{Ref: ref(1), Action: lethe.ActionDelete}, {Ref: ref(2), Action: lethe.ActionAnonymize}}, now); err != nil {
		t.Fatal(err)
	}
	j.Close()
	b, _ := os.ReadFile(path)
	for _, s := range []string{"A-1", "A-2", "shop", "orders"} {
		if bytes.Contains(b, []byte(s)) {
			t.Errorf("journal holds %q in the clear", s)
		}
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode().Perm())
	}
	if _, err := journal.Open(context.Background(), path, kek(t, 2)); !errors.Is(err, keyring.ErrWrongMasterKey) {
		t.Fatalf("open with another master key: %v", err)
	}
	j, err = journal.Open(context.Background(), path, kek(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	all, err := j.Erasures()
	if err != nil || len(all) != 2 {
		t.Fatalf("Erasures: %v %v", all, err)
	}
	if e := all[string(j.Hash(ref(1)))]; len(e) != 1 || e[0].Action != lethe.ActionDelete || !e[0].At.Equal(now) {
		t.Errorf("entry of A-1: %+v", e)
	}
}

// An aborted batch does not count, a batch cut by a crash does, and a
// torn last line is skipped.
func TestJournal_AbortAndTornLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), journal.FileName)
	j, err := journal.Open(context.Background(), path, kek(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	b1, _ := j.Begin([]journal.Entry{{Ref: ref(1), Action: lethe.ActionDelete}}, now)
	if err := j.Abort(b1); err != nil {
		t.Fatal(err)
	}
	j.Begin([]journal.Entry{{Ref: ref(2), Action: lethe.ActionDelete}}, now) // no abort: the crash case
	j.Close()
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"b":9,"a":"delete","h":"AAAA`) // torn by a crash
	f.Close()
	j, err = journal.Open(context.Background(), path, kek(t, 1))
	if err != nil {
		t.Fatalf("reopen after a torn line: %v", err)
	}
	defer j.Close()
	all, err := j.Erasures()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := all[string(j.Hash(ref(1)))]; ok {
		t.Error("aborted batch counts")
	}
	if _, ok := all[string(j.Hash(ref(2)))]; !ok {
		t.Error("batch without abort line does not count")
	}
	// Batch numbers go on after the highest on disk.
	if b, _ := j.Begin([]journal.Entry{{Ref: ref(3), Action: lethe.ActionDelete}}, now); b <= 2 {
		t.Errorf("batch %d reused a number", b)
	}
}

// Due: only entries from the record's creation on count (a record of the
// same id created after an erasure is another record); a deletion wins.
func TestDue(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	del := journal.Erasure{Action: lethe.ActionDelete, At: t0.Add(time.Hour)}
	anon := journal.Erasure{Action: lethe.ActionAnonymize, At: t0.Add(3 * time.Hour)}
	for _, c := range []struct {
		name    string
		entries []journal.Erasure
		created time.Time
		want    lethe.Action
	}{
		{"deleted after creation", []journal.Erasure{del}, t0, lethe.ActionDelete},
		{"same millisecond", []journal.Erasure{del}, del.At.Add(500 * time.Microsecond), lethe.ActionDelete},
		{"id reused after the deletion", []journal.Erasure{del}, t0.Add(2 * time.Hour), lethe.ActionNone},
		{"reused, then anonymized", []journal.Erasure{del, anon}, t0.Add(2 * time.Hour), lethe.ActionAnonymize},
		{"anonymized then deleted", []journal.Erasure{anon, {Action: lethe.ActionDelete, At: t0.Add(4 * time.Hour)}}, t0, lethe.ActionDelete},
		{"nothing", nil, t0, lethe.ActionNone},
	} {
		if got := journal.Due(c.entries, c.created); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// The store wrapper journals deletions and anonymizations before they
// commit, marks a failed batch aborted, and journals nothing else.
func TestStore_JournalsErasuresOnly(t *testing.T) {
	dir := t.TempDir()
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "lethe.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	j, err := journal.Open(context.Background(), journal.Path(filepath.Join(dir, "lethe.db")), kek(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	ws := journal.Wrap(st, j, nil)
	ctx := context.Background()
	ws.CreateTenant(ctx, &lethe.Tenant{ID: "shop", Packs: []string{"erp-marketplace"}})
	now := time.Now().UTC().Truncate(time.Millisecond)
	var recs []*lethe.Record
	for i := 0; i < 4; i++ {
		recs = append(recs, &lethe.Record{Tenant: "shop", Collection: "orders", ID: ref(i).ID, CreatedAt: now, UpdatedAt: now, State: lethe.StateActive})
	}
	if err := ws.InsertRecords(ctx, recs); err != nil {
		t.Fatal(err)
	}
	if err := ws.DeleteRecord(ctx, ref(0)); err != nil {
		t.Fatal(err)
	}
	anon := *recs[1]
	anon.State, anon.UpdatedAt = lethe.StateAnonymized, now.Add(time.Second)
	plainUpdate := *recs[2]
	plainUpdate.UpdatedAt = now.Add(time.Second)
	if err := ws.ApplyBatch(ctx, &lethe.Batch{Updates: []*lethe.Record{&anon, &plainUpdate}}); err != nil {
		t.Fatal(err)
	}
	// A batch that loses its guard does not commit: aborted.
	err = ws.ApplyBatch(ctx, &lethe.Batch{Deletes: []lethe.RecordRef{ref(3)}, Unchanged: map[lethe.RecordRef]time.Time{ref(3): now.Add(-time.Hour)}})
	if !errors.Is(err, lethe.ErrConflict) {
		t.Fatalf("guarded batch: %v", err)
	}
	all, err := j.Erasures()
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]lethe.Action{0: lethe.ActionDelete, 1: lethe.ActionAnonymize}
	for i := 0; i < 4; i++ {
		e := all[string(j.Hash(ref(i)))]
		got := lethe.ActionNone
		if len(e) > 0 {
			got = e[0].Action
		}
		if got != want[i] {
			t.Errorf("record %d journaled as %q, want %q", i, got, want[i])
		}
	}
	if u, ok := ws.(interface{ Unwrap() lethe.Store }); !ok || u.Unwrap() != st {
		t.Error("the wrapper does not name the store it wraps")
	}
}

// TestJournal_FollowsAMasterKeyRotation: after the master key file is
// rotated, the next open wraps the journal's key under the new version
// (an appended line, so a writer at the same time loses nothing); once
// the old version is destroyed the journal still opens, with the same key.
func TestJournal_FollowsAMasterKeyRotation(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	m, _, err := keyring.LoadOrCreateFileMaster(filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, journal.FileName)
	j, err := journal.Open(ctx, path, m)
	if err != nil {
		t.Fatal(err)
	}
	before := j.Hash(ref(1))
	j.Close()
	old := m.ID()
	if _, err := m.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	if j, err = journal.Open(ctx, path, m); err != nil {
		t.Fatalf("open after rotation: %v", err)
	}
	j.Close()
	if err := m.Destroy(ctx, old); err != nil {
		t.Fatal(err)
	}
	if m.Knows(old) {
		t.Fatal("the old version survived Destroy")
	}
	j, err = journal.Open(ctx, path, m)
	if err != nil {
		t.Fatalf("open after the old version was destroyed: %v", err)
	}
	defer j.Close()
	if !bytes.Equal(j.Hash(ref(1)), before) {
		t.Error("the journal's key changed with the rotation: earlier hashes no longer match")
	}
	b, _ := os.ReadFile(path)
	if n := bytes.Count(b, []byte(`"a":"key"`)); n != 1 {
		t.Errorf("%d key lines after one rotation and two opens, want 1", n)
	}
}
