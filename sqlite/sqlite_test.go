package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
)

var t0 = time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)

func openAt(t testing.TB, path string) *Store {
	t.Helper()
	s, err := Open(t.Context(), path, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func openTemp(t testing.TB) *Store {
	t.Helper()
	s := openAt(t, filepath.Join(t.TempDir(), "lethe.db"))
	t.Cleanup(func() { s.Close() })
	return s
}

func rec(tenant, coll, id string) *lethe.Record {
	return &lethe.Record{
		Tenant: tenant, Collection: coll, ID: id, CreatedAt: t0, UpdatedAt: t0, State: lethe.StateActive,
		Plain:    map[string]any{"status": "open", "amount": int64(42)},
		Sealed:   map[string][]byte{"email": []byte("sealed-" + id)},
		Subjects: []lethe.Subject{{Kind: "email", Field: "email", Hash: []byte(fmt.Sprintf("%016s", id))}},
	}
}

func pragma(t *testing.T, ctx context.Context, s *Store, reader bool, name string) string {
	t.Helper()
	db := s.writer
	if reader {
		db = s.reader
	}
	var v string
	if err := db.QueryRowContext(ctx, "PRAGMA "+name).Scan(&v); err != nil {
		t.Fatalf("PRAGMA %s: %v", name, err)
	}
	return v
}

func TestOpen_SetsDurabilityPragmas(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	cases := []struct {
		reader     bool
		name, want string
	}{
		{false, "journal_mode", "wal"},
		{false, "synchronous", "2"}, // FULL
		{false, "secure_delete", "1"},
		{false, "foreign_keys", "1"},
		{false, "busy_timeout", "5000"},
		{true, "journal_mode", "wal"},
		{true, "query_only", "1"},
		{true, "busy_timeout", "5000"},
	}
	for _, c := range cases {
		if got := pragma(t, ctx, s, c.reader, c.name); got != c.want {
			t.Errorf("PRAGMA %s (reader %v) = %q, want %q", c.name, c.reader, got, c.want)
		}
	}
	if _, err := s.reader.ExecContext(ctx, "INSERT INTO meta (key, value) VALUES ('x', 'y')"); err == nil {
		t.Error("reader pool accepted a write")
	}
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Errorf("IntegrityCheck: %v", err)
	}
}

func TestQueries_UseTheirIndexes(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	cases := []struct {
		name, query, index string
		args               []any
	}{
		{"due records", dueQuery, "records_due", []any{1, 10}},
		{"overdue", "SELECT count(*), min(due_at) FROM records WHERE due_at IS NOT NULL AND due_at <= ?", "records_due", []any{1}},
		{"subject lookup", "SELECT rec FROM subjects WHERE tenant = ? AND hash IN (?, ?)", "subjects_hash", []any{"a", []byte("x"), []byte("y")}},
		{"subjects of a record", "DELETE FROM subjects WHERE rec = ?", "subjects_rec", []any{1}},
		{"subjects of a record read", qRecordSubjects, "subjects_rec", []any{1}},
	}
	for _, c := range cases {
		rows, err := s.reader.QueryContext(ctx, "EXPLAIN QUERY PLAN "+c.query, c.args...)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		if p := strings.Join(plan, "; "); !strings.Contains(p, "USING INDEX "+c.index) && !strings.Contains(p, "USING COVERING INDEX "+c.index) {
			t.Errorf("%s: plan %q does not use index %s", c.name, p, c.index)
		}
	}
}

// TestPrepared_SurviveAReplacedConnection checks that the statements
// prepared once in Open keep working when the pool replaces a connection
// (writeLazy discards the writer when it cannot restore synchronous=FULL):
// the transaction prepares them again on the new connection.
func TestPrepared_SurviveAReplacedConnection(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	if err := s.InsertRecords(ctx, []*lethe.Record{rec("t1", "orders", "a")}); err != nil {
		t.Fatal(err)
	}
	sign := func(cp *lethe.Checkpoint) error { cp.MAC = []byte("mac"); return nil }
	for i := range 3 {
		for _, db := range []*sql.DB{s.writer, s.reader, s.managerLog.writer, s.managerLog.reader} {
			conn, err := db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			conn.Raw(func(any) error { return driver.ErrBadConn })
			conn.Close()
		}
		// One entry for each file's writer.
		es := []*lethe.AuditEntry{
			{Tenant: "t1", Log: lethe.LogManager, Actor: "a", Event: "record.read"},
			{Tenant: "t1", Log: lethe.LogSecurity, Actor: "a", Event: "auth.success"},
		}
		if err := s.AppendAuditLazy(ctx, es, sign); err != nil {
			t.Fatalf("append after replacement %d: %v", i, err)
		}
		for _, e := range es {
			if e.Seq != int64(i+1) {
				t.Errorf("append after replacement %d: %s seq %d, want %d", i, e.Log, e.Seq, i+1)
			}
		}
		r, err := s.Record(ctx, lethe.RecordRef{Tenant: "t1", Collection: "orders", ID: "a"})
		if err != nil {
			t.Fatalf("read after replacement %d: %v", i, err)
		}
		if len(r.Subjects) != 1 {
			t.Errorf("read after replacement %d: %d subjects, want 1", i, len(r.Subjects))
		}
	}
	head, err := s.AuditHead(ctx, "t1", lethe.LogManager)
	if err != nil || head.Seq != 3 {
		t.Fatalf("head = %+v, %v; want seq 3", head, err)
	}
}

// TestErase_LeavesNoTraceInFiles checks RELIABILITY test 14 at store
// level: after delete, checkpoint and close, neither the database file nor
// its -wal or -shm holds a byte of the erased values.
func TestErase_LeavesNoTraceInFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lethe.db")
	s := openAt(t, path)
	ctx := t.Context()
	canaryPlain := []byte("canary-plain-7f3a9c1e")
	canarySealed := []byte("canary-sealed-b41d22e0")
	r := rec("a", "orders", "o1")
	r.Plain["note"] = string(canaryPlain)
	r.Sealed["name"] = canarySealed
	var others []*lethe.Record
	for i := range 50 {
		others = append(others, rec("a", "orders", fmt.Sprintf("k%03d", i)))
	}
	// The erased record sits between others, so that its bytes would stay
	// in a freeblock of a live page without secure_delete.
	if err := s.InsertRecords(ctx, append(append(others[:25:25], r), others[25:]...)); err != nil {
		t.Fatalf("InsertRecords: %v", err)
	}
	if err := s.Checkpoint(ctx); err != nil {
		t.Fatalf("Checkpoint: %v", err)
	}
	// The probe can see the canaries while they are stored.
	if n := traces(t, path, canaryPlain, canarySealed); n == 0 {
		t.Fatal("canaries not found in the files before the erasure: the probe is blind")
	}
	if err := s.DeleteRecord(ctx, r.Ref()); err != nil {
		t.Fatalf("DeleteRecord: %v", err)
	}
	if err := s.Checkpoint(ctx); err != nil {
		t.Fatalf("Checkpoint: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if n := traces(t, path, canaryPlain, canarySealed); n != 0 {
		t.Fatalf("%d traces of the erased record left in the files", n)
	}
}

// traces counts the canaries in the database file, its -wal and its -shm.
func traces(t *testing.T, path string, canaries ...[]byte) int {
	t.Helper()
	n := 0
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		b, err := os.ReadFile(f)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range canaries {
			n += bytes.Count(b, c)
		}
	}
	return n
}

func TestReopen_KeepsDataAndAppliesNoMigrationTwice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lethe.db")
	ctx := t.Context()
	s := openAt(t, path)
	if err := s.InsertRecords(ctx, []*lethe.Record{rec("a", "orders", "o1")}); err != nil {
		t.Fatalf("InsertRecords: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("embedded migrations: %v (%d files)", err, len(files))
	}
	// Versions are the files' numbers, which may have gaps while
	// branches each add their own.
	want, top := len(files), 0
	for _, f := range files {
		var v int
		if _, err := fmt.Sscanf(strings.TrimPrefix(f, "migrations/"), "%05d_", &v); err != nil {
			t.Fatalf("migration %s: no version number: %v", f, err)
		}
		top = max(top, v)
	}
	for range 2 {
		s = openAt(t, path)
		if _, err := s.Record(ctx, lethe.RecordRef{Tenant: "a", Collection: "orders", ID: "o1"}); err != nil {
			t.Fatalf("Record after reopen: %v", err)
		}
		var applied, version int
		if err := s.reader.QueryRowContext(ctx,
			"SELECT count(*), max(version_id) FROM goose_db_version WHERE version_id > 0").Scan(&applied, &version); err != nil {
			t.Fatalf("goose_db_version: %v", err)
		}
		if applied != want || version != top {
			t.Fatalf("migrations applied %d rows, version %d; want each of the %d once, up to %d", applied, version, want, top)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
}

func TestInsertRecords_CancelledCallStoresNothing(t *testing.T) {
	s := openTemp(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := s.InsertRecords(ctx, []*lethe.Record{rec("a", "orders", "o1")})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("InsertRecords with cancelled ctx: %v, want context.Canceled", err)
	}
	_, err = s.Record(t.Context(), lethe.RecordRef{Tenant: "a", Collection: "orders", ID: "o1"})
	if !errors.Is(err, lethe.ErrNotFound) {
		t.Fatalf("Record: %v, want ErrNotFound", err)
	}
}

func TestConflict_NamesWhatCollided(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	if err := s.InsertRecords(ctx, []*lethe.Record{rec("a", "orders", "o1")}); err != nil {
		t.Fatal(err)
	}
	err := s.InsertRecords(ctx, []*lethe.Record{rec("a", "orders", "o1")})
	if !errors.Is(err, lethe.ErrConflict) || !strings.Contains(err.Error(), "record o1 exists in collection orders") {
		t.Fatalf("duplicate: %v, want ErrConflict naming o1 in orders", err)
	}
	v := rec("a", "orders", "o2")
	v.Subjects = []lethe.Subject{{Kind: "voucher", Field: "code", Hash: []byte("0123456789abcdef"), Unique: true}}
	w := rec("a", "orders", "o3")
	w.Subjects = v.Subjects
	if err := s.InsertRecords(ctx, []*lethe.Record{v}); err != nil {
		t.Fatal(err)
	}
	err = s.InsertRecords(ctx, []*lethe.Record{w})
	if !errors.Is(err, lethe.ErrConflict) || !strings.Contains(err.Error(), "voucher") {
		t.Fatalf("unique subject: %v, want ErrConflict naming the voucher", err)
	}
}

// TestDiskFull_IsStorageFullAndKeepsAcknowledgedWrites caps the database
// size so that inserts run out of space, as on a full disk.
func TestDiskFull_IsStorageFullAndKeepsAcknowledgedWrites(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	var pages int
	if err := s.writer.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := s.writer.ExecContext(ctx, fmt.Sprintf("PRAGMA max_page_count = %d", pages+40)); err != nil {
		t.Fatal(err)
	}
	var acked []lethe.RecordRef
	var full error
	for i := 0; i < 10000 && full == nil; i++ {
		batch := []*lethe.Record{rec("a", "orders", fmt.Sprintf("o%05d", i))}
		batch[0].Plain["pad"] = strings.Repeat("x", 2000)
		if err := s.InsertRecords(ctx, batch); err != nil {
			full = err
			break
		}
		acked = append(acked, batch[0].Ref())
	}
	if !errors.Is(full, lethe.ErrStorageFull) {
		t.Fatalf("insert into a full database: %v, want ErrStorageFull", full)
	}
	if len(acked) == 0 {
		t.Fatal("no insert succeeded before the database was full")
	}
	for _, ref := range acked {
		if _, err := s.Record(ctx, ref); err != nil {
			t.Fatalf("acknowledged %s: %v", ref.ID, err)
		}
	}
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Fatalf("IntegrityCheck: %v", err)
	}
}

func TestClosed_CallsAreUnavailable(t *testing.T) {
	s := openAt(t, filepath.Join(t.TempDir(), "lethe.db"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := s.InsertRecords(ctx, []*lethe.Record{rec("a", "orders", "o1")}); !errors.Is(err, lethe.ErrUnavailable) {
		t.Errorf("InsertRecords after Close: %v", err)
	}
	if _, err := s.Record(ctx, lethe.RecordRef{Tenant: "a", Collection: "orders", ID: "o1"}); !errors.Is(err, lethe.ErrUnavailable) {
		t.Errorf("Record after Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestPeekMeta_ReadsSetMetaWithoutTouchingFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lethe.db")
	s := openAt(t, path)
	ctx := t.Context()
	if err := s.SetMeta(ctx, "master_key_id", []byte("kek-1")); err != nil {
		t.Fatalf("SetMeta: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := PeekMeta(path, "master_key_id")
	if err != nil || string(got) != "kek-1" {
		t.Fatalf("PeekMeta = %q, %v; want kek-1", got, err)
	}
	if _, err := PeekMeta(path, "unset"); !errors.Is(err, lethe.ErrNotFound) {
		t.Fatalf("PeekMeta unset: %v, want ErrNotFound", err)
	}
	after, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(before, after) {
		t.Fatalf("PeekMeta changed the database file (err %v)", err)
	}
	for _, f := range []string{path + "-wal", path + "-shm"} {
		if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("PeekMeta left %s (err %v)", f, err)
		}
	}
}

func TestSetMeta_IsVisibleToPeekWhileOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lethe.db")
	s := openAt(t, path)
	defer s.Close()
	if err := s.SetMeta(t.Context(), "admin_token", []byte("h1")); err != nil {
		t.Fatalf("SetMeta: %v", err)
	}
	got, err := PeekMeta(path, "admin_token")
	if err != nil || string(got) != "h1" {
		t.Fatalf("PeekMeta while open = %q, %v; want h1", got, err)
	}
}

// TestBusy_IsUnavailable holds the write lock from another connection, as
// a second process would, past the busy timeout.
func TestBusy_IsUnavailable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lethe.db")
	s, err := Open(t.Context(), path, Options{BusyTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	other, err := sql.Open("sqlite", dsn(path, []string{"busy_timeout(50)"}, true))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	lock, err := other.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := s.SetMeta(ctx, "k", []byte("v")); !errors.Is(err, lethe.ErrUnavailable) {
		t.Errorf("SetMeta while locked: %v, want ErrUnavailable", err)
	}
	if err := s.InsertRecords(ctx, []*lethe.Record{rec("a", "orders", "o1")}); !errors.Is(err, lethe.ErrUnavailable) {
		t.Errorf("InsertRecords while locked: %v, want ErrUnavailable", err)
	}
	if err := lock.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := s.InsertRecords(ctx, []*lethe.Record{rec("a", "orders", "o1")}); err != nil {
		t.Errorf("InsertRecords after the lock is gone: %v", err)
	}
}
