package engine_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
	"github.com/lethe-privacy/lethe/keyring"
	"github.com/lethe-privacy/lethe/sqlite"
)

// audEnv is an engine over a real SQLite file whose path the audit tests
// need (byte scans, direct SQL).
type audEnv struct {
	t     testing.TB
	ctx   context.Context
	dir   string
	clock *testClock
	store *sqlite.Store
	eng   *engine.Engine
}

var audStart = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func audNewEnv(t testing.TB, cfg engine.Config) *audEnv {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	clock := &testClock{t: audStart}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "lethe.db"), sqlite.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	master := make([]byte, 32)
	rand.Read(master)
	kek, err := keyring.NewFileKEK(master)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Store, cfg.KEK, cfg.Now = st, kek, clock.Now
	eng, err := engine.New(ctx, cfg)
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	e := &audEnv{t: t, ctx: ctx, dir: dir, clock: clock, store: st, eng: eng}
	t.Cleanup(e.close)
	if _, err := eng.CreateTenant(ctx, "admin", "shop", []string{"chatbot"}); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *audEnv) close() {
	if e.eng != nil {
		e.eng.Close()
		e.store.Close()
		e.eng = nil
	}
}

// audPut stores a runtime_log record holding the e-mail address.
func (e *audEnv) audPut(email string) *engine.Doc {
	e.t.Helper()
	docs, err := e.eng.Put(e.ctx, "shop", "runtime_log", []engine.NewRecord{{Fields: map[string]any{
		"event": "auth_fail", "email": email, "message": "login failed for " + email}}})
	if err != nil {
		e.t.Fatalf("Put: %v", err)
	}
	return docs[0]
}

// audLog reads a whole log of a tenant.
func (e *audEnv) audLog(tenant string, log lethe.Log) []*engine.LogEntry {
	e.t.Helper()
	got, _, err := e.eng.AuditLog(e.ctx, lethe.AuditQuery{Tenant: tenant, Log: log, Limit: 1000})
	if err != nil {
		e.t.Fatalf("AuditLog %s/%s: %v", tenant, log, err)
	}
	return got
}

// audFind returns the last entry of an event, failing when there is none.
func audFind(t *testing.T, entries []*engine.LogEntry, event string) *engine.LogEntry {
	t.Helper()
	for i := len(entries) - 1; i >= 0; i-- {
		if entries[i].Event == event {
			return entries[i]
		}
	}
	t.Fatalf("no %s entry among %d", event, len(entries))
	return nil
}

func (e *audEnv) audVerifyOK() {
	e.t.Helper()
	rep, err := e.eng.VerifyAudit(e.ctx)
	if err != nil {
		e.t.Fatalf("VerifyAudit: %v", err)
	}
	if len(rep.Breaks) > 0 {
		e.t.Fatalf("chains broken: %v", rep.Breaks[0])
	}
}

func TestAudit_ReadOfDecryptedPIIIsLoggedWithCallerSealed(t *testing.T) {
	e := audNewEnv(t, engine.Config{})
	d := e.audPut("reader-canary@example.org")
	ctx := engine.WithCaller(e.ctx, engine.Caller{Actor: "key:abc", IP: "198.51.100.23"})
	if _, err := e.eng.Get(ctx, lethe.RecordRef{Tenant: "shop", Collection: "runtime_log", ID: d.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.eng.FindSubject(ctx, "shop", map[string]string{"email": "reader-canary@example.org"}); err != nil {
		t.Fatal(err)
	}
	m := e.audLog("shop", lethe.LogManager)
	read := audFind(t, m, "record.read")
	if read.Actor != "key:abc" || !read.Time.Equal(audStart) {
		t.Fatalf("read entry actor %q time %v", read.Actor, read.Time)
	}
	sealed, _ := read.Data["sealed"].(map[string]any)
	if sealed["ip"] != "198.51.100.23" {
		t.Fatalf("sealed part %v: want the caller's ip", read.Data)
	}
	b, _ := json.Marshal(sealed["read"])
	want := `[{"collection":"runtime_log","fields":["email","message"],"ids":["` + d.ID + `"]}]`
	if string(b) != want {
		t.Fatalf("read records %s, want %s", b, want)
	}
	find := audFind(t, m, "subject.find")
	if b, _ := json.Marshal(find.Data["kinds"]); string(b) != `["email"]` || find.Data["records"] != float64(1) {
		t.Fatalf("subject.find data %v", find.Data)
	}
	e.audVerifyOK()
}

func TestAudit_EachEventKindAppearsWithItsFields(t *testing.T) {
	e := audNewEnv(t, engine.Config{})
	ctx := e.ctx
	if _, err := e.eng.CreateAPIKey(ctx, "admin", "shop", nil); err != nil {
		t.Fatal(err)
	}
	if err := e.eng.LogAuth(ctx, engine.AuthAttempt{OK: true, Actor: "key:k1", Tenant: "shop", IP: "192.0.2.1", Route: "GET /x"}); err != nil {
		t.Fatal(err)
	}
	if err := e.eng.LogAuth(ctx, engine.AuthAttempt{OK: false, Actor: "unknown", IP: "192.0.2.9", Route: "GET /x"}); err != nil {
		t.Fatal(err)
	}
	if err := e.eng.LogServer(ctx, "server.start", map[string]any{"addr": "127.0.0.1:1"}); err != nil {
		t.Fatal(err)
	}
	d := e.audPut("gone@example.org")
	if err := e.eng.Delete(ctx, "admin", lethe.RecordRef{Tenant: "shop", Collection: "runtime_log", ID: d.ID}); err != nil {
		t.Fatal(err)
	}
	sec := e.audLog("shop", lethe.LogSecurity)
	for _, ev := range []string{"tenant.create", "apikey.create", "record.delete"} {
		audFind(t, sec, ev)
	}
	ok := audFind(t, sec, "auth.success")
	if ok.Actor != "key:k1" || ok.Data["ip"] != "192.0.2.1" || ok.Data["route"] != "GET /x" {
		t.Fatalf("auth.success %+v", ok)
	}
	fail := audFind(t, e.audLog(lethe.SystemTenant, lethe.LogSecurity), "auth.failure")
	if fail.Actor != "unknown" || fail.Data["ip"] != "192.0.2.9" {
		t.Fatalf("auth.failure %+v", fail)
	}
	if start := audFind(t, e.audLog(lethe.SystemTenant, lethe.LogRuntime), "server.start"); start.Data["addr"] != "127.0.0.1:1" {
		t.Fatalf("server.start %+v", start)
	}
	e.audVerifyOK()
}

func TestAudit_ReadFailsWhenItsEntryCannotBeWritten(t *testing.T) {
	e := audNewEnv(t, engine.Config{})
	d := e.audPut("closed@example.org")
	// Both files: reads log to the manager log's, deletions to the main.
	main := filepath.Join(e.dir, "lethe.db")
	for _, path := range []string{main, sqlite.ManagerLogPath(main)} {
		db, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec(`CREATE TRIGGER audit_broken BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'audit storage broken'); END`); err != nil {
			t.Fatal(err)
		}
	}
	ref := lethe.RecordRef{Tenant: "shop", Collection: "runtime_log", ID: d.ID}
	got, err := e.eng.Get(e.ctx, ref)
	if err == nil || got != nil {
		t.Fatalf("Get with a broken audit log = %v, %v; want an error and no data", got, err)
	}
	if _, err := e.eng.FindSubject(e.ctx, "shop", map[string]string{"email": "closed@example.org"}); err == nil {
		t.Fatal("FindSubject with a broken audit log succeeded")
	}
	if err := e.eng.Delete(e.ctx, "admin", ref); err == nil {
		t.Fatal("Delete with a broken audit log succeeded")
	}
	if _, err := e.store.Record(e.ctx, ref); err != nil {
		t.Fatalf("record gone although its deletion could not be audited: %v", err)
	}
}

func TestAudit_ReadAuditSwitchOffWritesNoManagerEntry(t *testing.T) {
	e := audNewEnv(t, engine.Config{NoReadAudit: true})
	d := e.audPut("quiet@example.org")
	if _, err := e.eng.Get(e.ctx, lethe.RecordRef{Tenant: "shop", Collection: "runtime_log", ID: d.ID}); err != nil {
		t.Fatal(err)
	}
	if m := e.audLog("shop", lethe.LogManager); len(m) != 0 {
		t.Fatalf("manager log has %d entries with read auditing off", len(m))
	}
}

func TestAudit_NoPIIInTheClearInTheDatabaseFiles(t *testing.T) {
	e := audNewEnv(t, engine.Config{})
	const email, ip = "canary-7f3a@example.org", "203.0.113.177"
	d := e.audPut(email)
	ctx := engine.WithCaller(e.ctx, engine.Caller{Actor: "admin", IP: ip})
	for range 3 {
		if _, err := e.eng.Get(ctx, lethe.RecordRef{Tenant: "shop", Collection: "runtime_log", ID: d.ID}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.eng.FindSubject(ctx, "shop", map[string]string{"email": email}); err != nil {
		t.Fatal(err)
	}
	if err := e.eng.LogEvent(ctx, "shop", lethe.LogRuntime, "admin", "request.create", map[string]any{"type": "export"}, map[string]any{"email": email}); err != nil {
		t.Fatal(err)
	}
	if err := e.store.Checkpoint(e.ctx); err != nil {
		t.Fatal(err)
	}
	e.close()
	// Both databases (the manager log has a file of its own) and their
	// logs.
	files, _ := filepath.Glob(filepath.Join(e.dir, "lethe*.db*"))
	if !slices.Contains(files, sqlite.ManagerLogPath(filepath.Join(e.dir, "lethe.db"))) {
		t.Fatalf("scanning %v: the manager log's file is not among them", files)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		// The record id is in the records table by design; the e-mail and
		// the reader's address must appear nowhere.
		for _, canary := range []string{email, ip} {
			if bytes.Contains(b, []byte(canary)) {
				t.Errorf("%s holds %q in the clear", filepath.Base(f), canary)
			}
		}
	}
}

func TestAudit_ExpiryRemovesOldEntriesUpToACheckpointAndStillVerifies(t *testing.T) {
	e := audNewEnv(t, engine.Config{})
	d := e.audPut("old@example.org")
	ref := lethe.RecordRef{Tenant: "shop", Collection: "runtime_log", ID: d.ID}
	for i := range 5 {
		e.clock.Set(audStart.Add(time.Duration(i) * time.Hour))
		if _, err := e.eng.Get(e.ctx, ref); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := e.eng.CheckpointAudit(e.ctx); err != nil || n == 0 {
		t.Fatalf("CheckpointAudit = %d, %v", n, err)
	}
	e.clock.Set(audStart.Add(181 * 24 * time.Hour)) // manager log keeps 180 days
	if _, err := e.eng.Get(e.ctx, ref); err != nil {
		t.Fatal(err)
	}
	removed, err := e.eng.ExpireAudit(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if removed != 5 {
		t.Fatalf("expired %d entries, want the 5 old reads", removed)
	}
	m := e.audLog("shop", lethe.LogManager)
	if len(m) != 1 || m[0].Seq != 6 {
		t.Fatalf("manager log after expiry: %d entries, first seq %d; want only seq 6", len(m), m[0].Seq)
	}
	sec := e.audLog("shop", lethe.LogSecurity)
	if len(sec) == 0 || sec[0].Seq != 1 {
		t.Fatal("security log (365 days) lost entries at 181 days")
	}
	e.audVerifyOK()
	// Expiry is idempotent and later appends continue the chain.
	if _, err := e.eng.ExpireAudit(e.ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.eng.Get(e.ctx, ref); err != nil {
		t.Fatal(err)
	}
	e.audVerifyOK()
}

func TestAudit_ConcurrentReadsShareCommitsAndChainsStayWhole(t *testing.T) {
	e := audNewEnv(t, engine.Config{})
	d := e.audPut("many@example.org")
	ref := lethe.RecordRef{Tenant: "shop", Collection: "runtime_log", ID: d.ID}
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for range 200 {
		wg.Go(func() {
			if _, err := e.eng.Get(e.ctx, ref); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Reads of one caller that share a commit share an entry: every read
	// is listed once, in however many entries.
	reads := 0
	for _, en := range e.audLog("shop", lethe.LogManager) {
		if en.Event == "record.read" {
			reads += int(en.Data["records"].(float64))
		}
	}
	if reads != 200 {
		t.Fatalf("manager log lists %d reads, want 200", reads)
	}
	if s := e.eng.AuditStats(); s.Lazy.Items != 200 || s.LazyEntries > 200 || s.LazyEntries < 1 {
		t.Fatalf("audit stats %+v: want 200 reads committed in 1..200 entries", s)
	}
	e.audVerifyOK()
}

func TestAudit_SecurityLogTakesNoSealedData(t *testing.T) {
	e := audNewEnv(t, engine.Config{})
	err := e.eng.LogEvent(e.ctx, "shop", lethe.LogSecurity, "admin", "x", nil, map[string]any{"email": "a@b.c"})
	if !errors.Is(err, lethe.ErrInvalid) {
		t.Fatalf("sealed data in the security log: %v, want ErrInvalid", err)
	}
	if !strings.Contains(err.Error(), "security") {
		t.Fatalf("error %q does not name the log", err)
	}
}

// Every audited read announces itself to the lazy batcher before it
// touches the store (so that a commit waits for it) and ends the
// announcement however it ends: arriving with its entry, or failing on
// the way. A leak would hold every later commit for the batcher's delay.
func TestAudit_ReadsEndTheirAnnouncementWhateverHappens(t *testing.T) {
	e := audNewEnv(t, engine.Config{})
	d := e.audPut("announced@example.org")
	ref := lethe.RecordRef{Tenant: "shop", Collection: "runtime_log", ID: d.ID}
	cancelled, cancel := context.WithCancel(e.ctx)
	cancel()
	for _, tc := range []struct {
		name string
		ok   bool
		call func() error
	}{
		{"get", true, func() error { _, err := e.eng.Get(e.ctx, ref); return err }},
		{"get of a missing record", false, func() error {
			_, err := e.eng.Get(e.ctx, lethe.RecordRef{Tenant: "shop", Collection: "runtime_log", ID: "missing"})
			return err
		}},
		{"get of an unknown collection", false, func() error {
			_, err := e.eng.Get(e.ctx, lethe.RecordRef{Tenant: "shop", Collection: "nope", ID: d.ID})
			return err
		}},
		{"get with its context cancelled", false, func() error { _, err := e.eng.Get(cancelled, ref); return err }},
		{"subject lookup", true, func() error {
			_, err := e.eng.FindSubject(e.ctx, "shop", map[string]string{"email": "announced@example.org"})
			return err
		}},
		{"subject lookup with its context cancelled", false, func() error {
			_, err := e.eng.FindSubject(cancelled, "shop", map[string]string{"email": "announced@example.org"})
			return err
		}},
		{"patch", true, func() error {
			_, err := e.eng.Patch(e.ctx, ref, map[string]any{"message": "patched"})
			return err
		}},
		{"patch of a missing record", false, func() error {
			_, err := e.eng.Patch(e.ctx, lethe.RecordRef{Tenant: "shop", Collection: "runtime_log", ID: "missing"},
				map[string]any{"message": "patched"})
			return err
		}},
	} {
		before := e.eng.AuditStats().Lazy
		err := tc.call()
		if (err == nil) != tc.ok {
			t.Fatalf("%s: err = %v, want ok %v", tc.name, err, tc.ok)
		}
		after := e.eng.AuditStats().Lazy
		if after.Expected != 0 {
			t.Errorf("%s: %d reads still announced after it returned", tc.name, after.Expected)
		}
		if logged := after.Items > before.Items; logged != tc.ok {
			t.Errorf("%s: read logged = %v, want %v", tc.name, logged, tc.ok)
		}
	}
}
