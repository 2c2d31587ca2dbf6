package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
)

func signTest(cp *lethe.Checkpoint) error { cp.MAC = []byte("mac"); return nil }

// countAudit counts a file's audit rows of a log.
func countAudit(t *testing.T, f *file, log lethe.Log) int {
	t.Helper()
	var n int
	if err := f.writer.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM audit WHERE log = ?", string(log)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestManagerLog_OwnFileLeavesTheReadersCachesAlone(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	if got, want := s.managerLog.path, filepath.Join(filepath.Dir(s.path), "lethe-manager-log.db"); got != want {
		t.Fatalf("manager log at %s, want %s", got, want)
	}
	conn, err := s.reader.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	version := func() int64 {
		var v int64
		if err := conn.QueryRowContext(ctx, "PRAGMA data_version").Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		log     lethe.Log
		changed bool // the main file's readers see a commit
	}{
		{lethe.LogManager, false},
		{lethe.LogManager, false},
		{lethe.LogSecurity, true},
		{lethe.LogRuntime, true},
	} {
		before := version()
		e := &lethe.AuditEntry{Tenant: "t1", Log: tc.log, Actor: "a", Event: "x"}
		if err := s.AppendAuditLazy(ctx, []*lethe.AuditEntry{e}, signTest); err != nil {
			t.Fatal(err)
		}
		if changed := version() != before; changed != tc.changed {
			t.Errorf("%s append: main file changed for its readers = %v, want %v", tc.log, changed, tc.changed)
		}
	}
	if n := countAudit(t, s.file, lethe.LogManager); n != 0 {
		t.Errorf("main file holds %d manager entries, want 0", n)
	}
	if n := countAudit(t, s.managerLog, lethe.LogManager); n != 2 {
		t.Errorf("manager log file holds %d manager entries, want 2", n)
	}
	chains, err := s.AuditChains(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range chains {
		names = append(names, c.Tenant+"/"+string(c.Log))
	}
	if want := []string{"t1/manager", "t1/runtime", "t1/security"}; !slices.Equal(names, want) {
		t.Errorf("chains %v, want %v (both files, sorted)", names, want)
	}
	all, err := s.AuditEntries(ctx, lethe.AuditQuery{Tenant: "t1"})
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, e := range all {
		order = append(order, string(e.Log))
	}
	if want := []string{"manager", "runtime", "security", "manager"}; !slices.Equal(order, want) {
		t.Errorf("every log of t1 in order %v, want %v (by seq, then log)", order, want)
	}
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestManagerLog_MovedOutOfAnOlderMainFile opens a main file that holds
// manager-log rows, as stores did before the log had a file of its own.
func TestManagerLog_MovedOutOfAnOlderMainFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lethe.db")
	s := openAt(t, path)
	ctx := t.Context()
	es := []*lethe.AuditEntry{
		{Tenant: "t1", Log: lethe.LogManager, Time: t0, Actor: "a", Event: "record.read"},
		{Tenant: "t1", Log: lethe.LogManager, Time: t0, Actor: "a", Event: "record.read"},
		{Tenant: "t1", Log: lethe.LogSecurity, Time: t0, Actor: "a", Event: "auth.success"},
	}
	if err := s.AppendAuditSigned(ctx, es, signTest); err != nil {
		t.Fatal(err)
	}
	if err := s.PutCheckpoint(ctx, &lethe.Checkpoint{Tenant: "t1", Log: lethe.LogManager, Seq: 1, Hash: es[0].Hash, Time: t0, MAC: []byte("m")}); err != nil {
		t.Fatal(err)
	}
	// Back to the old layout: the manager rows into the main file.
	for _, q := range []string{
		"ATTACH DATABASE ? AS mlog",
		"INSERT INTO audit SELECT * FROM mlog.audit",
		"INSERT INTO audit_heads SELECT * FROM mlog.audit_heads",
		"INSERT INTO audit_checkpoints SELECT * FROM mlog.audit_checkpoints",
		"DELETE FROM mlog.audit", "DELETE FROM mlog.audit_heads", "DELETE FROM mlog.audit_checkpoints",
		"DETACH DATABASE mlog",
	} {
		var args []any
		if q == "ATTACH DATABASE ? AS mlog" {
			args = []any{s.managerLog.path}
		}
		if _, err := s.writer.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openAt(t, path)
	defer s.Close()
	if n := countAudit(t, s.file, lethe.LogManager); n != 0 {
		t.Errorf("main file still holds %d manager entries", n)
	}
	got, err := s.AuditEntries(ctx, lethe.AuditQuery{Tenant: "t1", Log: lethe.LogManager})
	if err != nil || len(got) != 2 || got[1].Seq != 2 || !slices.Equal(got[1].Hash, es[1].Hash) {
		t.Fatalf("manager log after the move: %d entries, %v", len(got), err)
	}
	head, err := s.AuditHead(ctx, "t1", lethe.LogManager)
	if err != nil || head.Seq != 2 {
		t.Fatalf("manager head after the move: %+v, %v", head, err)
	}
	if cps, err := s.Checkpoints(ctx, "t1", lethe.LogManager); err != nil || len(cps) != 1 {
		t.Fatalf("manager checkpoints after the move: %d, %v", len(cps), err)
	}
	// Appending continues the moved chain.
	next := &lethe.AuditEntry{Tenant: "t1", Log: lethe.LogManager, Actor: "a", Event: "record.read"}
	if err := s.AppendAuditLazy(ctx, []*lethe.AuditEntry{next}, signTest); err != nil || next.Seq != 3 || !slices.Equal(next.Prev, es[1].Hash) {
		t.Fatalf("append after the move: seq %d, %v", next.Seq, err)
	}
}

func TestWriteLazy_FlushesWhenTheLastFlushIsASecondOld(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	f := s.managerLog
	appendRead := func() {
		t.Helper()
		e := &lethe.AuditEntry{Tenant: "t1", Log: lethe.LogManager, Actor: "a", Event: "record.read"}
		if err := s.AppendAuditLazy(ctx, []*lethe.AuditEntry{e}, signTest); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name      string
		lastFlush time.Duration // ago
		flushed   bool
	}{
		{"just flushed", 0, false},
		{"flushed half a second ago", maxUnflushed / 2, false},
		{"flushed a second ago", maxUnflushed, true},
		{"never since open, long ago", time.Hour, true},
	} {
		f.flushed.Store(time.Now().Add(-tc.lastFlush).UnixNano())
		before := f.flushes.Load()
		appendRead()
		if got := f.flushes.Load() > before; got != tc.flushed {
			t.Errorf("%s: lazy commit flushed = %v, want %v", tc.name, got, tc.flushed)
		}
	}
}

// Each file commits in its own kind without a pragma around it (the main
// file flushed, the manager log's lazily); a commit of the other kind sets
// synchronous for itself and the writer is back at the file's setting
// afterwards.
func TestCommit_SetsSynchronousPerCommit(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	level := func(db interface {
		QueryRowContext(context.Context, string, ...any) *sql.Row
	}) string {
		t.Helper()
		var v string
		if err := db.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	const full, normal = "2", "1"
	for _, tc := range []struct {
		name        string
		f           *file
		flush       bool
		in, after   string
		flushCounts bool
	}{
		{"main file, flushed", s.file, true, full, full, true},
		{"main file, lazy", s.file, false, normal, full, false},
		{"manager log, lazy", s.managerLog, false, normal, normal, false},
		{"manager log, flushed", s.managerLog, true, full, normal, true},
	} {
		before := tc.f.flushes.Load()
		err := tc.f.commit(ctx, tc.flush, func(tx *sql.Tx) error {
			if got := level(tx); got != tc.in {
				t.Errorf("%s: synchronous in the transaction = %s, want %s", tc.name, got, tc.in)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := level(tc.f.writer); got != tc.after {
			t.Errorf("%s: synchronous afterwards = %s, want %s", tc.name, got, tc.after)
		}
		if got := tc.f.flushes.Load() > before; got != tc.flushCounts {
			t.Errorf("%s: counted as flushed = %v, want %v", tc.name, got, tc.flushCounts)
		}
	}
}
