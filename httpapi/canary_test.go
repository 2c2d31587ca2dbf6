package httpapi_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
	"github.com/lethe-privacy/lethe/httpapi"
	"github.com/lethe-privacy/lethe/keyring"
	"github.com/lethe-privacy/lethe/policy"
	"github.com/lethe-privacy/lethe/sqlite"
)

// canaryClock is the server's clock, moved by the test while background
// re-planning reads it.
type canaryClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *canaryClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *canaryClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// canaryLog collects everything the server logs, as an operator's log
// file would.
type canaryLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *canaryLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *canaryLog) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.buf.Bytes())
}

// canarySet is one run's canary PII: every value carries the run's random
// token (or, for the phone number, random digits), so that none can occur
// anywhere by chance.
type canarySet struct {
	token  string // lower-case hex
	email  string
	phone  string // as written: "+49 151 ..."
	digits string // what any normalized form of the phone contains
	custID string
	ip     string // an IPv6 address in its normalized form
}

func newCanarySet(t *testing.T) canarySet {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	tok := hex.EncodeToString(b)
	n, err := rand.Int(rand.Reader, big.NewInt(90_000_000))
	if err != nil {
		t.Fatal(err)
	}
	d := fmt.Sprintf("%08d", 10_000_000+n.Int64())
	return canarySet{
		token:  tok,
		email:  "canary-" + tok + "@example.com",
		phone:  "+49 151 " + d,
		digits: "151" + d,
		custID: "CANARY-CID-" + strings.ToUpper(tok),
		ip:     netip.MustParseAddr(fmt.Sprintf("2001:db8:1%s:1%s:1%s::1", tok[0:3], tok[3:6], tok[6:9])).String(),
	}
}

// needles are the byte strings a scan looks for: the token in the cases
// the values were written in, the e-mail as written and normalized, and
// the phone digits (E.164 and as written).
func (c canarySet) needles() []string {
	return []string{c.token, strings.ToUpper(c.token), c.email, strings.ToLower(c.email), c.digits, "151 " + c.digits[3:], c.ip}
}

// value is a canary for one personal field, of the field's type, or ok
// false when the type cannot carry text (numbers, booleans, timestamps).
func (c canarySet) value(f *policy.Field, variant string) (any, bool) {
	switch f.Type {
	case policy.TypeString, policy.TypeText:
		switch f.Subject {
		case "email":
			return c.email, true
		case "phone":
			return c.phone, true
		case "ip_address":
			return c.ip, true
		case "":
			return fmt.Sprintf("Canary-%s-%s-%s", c.token, f.Name, variant), true
		default:
			return c.custID, true
		}
	case policy.TypeObject:
		return map[string]any{"canary": "Canary-" + c.token + "-" + f.Name + "-" + variant}, true
	}
	return nil, false
}

// canaryFields fills every field of a collection: canaries in every
// personal field (sealed, or plain personal such as a log's actor), and
// ordinary values elsewhere, since plain non-personal fields are kept in
// the clear by design (and kept by anonymization). Timestamps are at, so
// that every rule is planned.
func (c canarySet) fields(fs []*policy.Field, at time.Time, variant string) map[string]any {
	out := make(map[string]any, len(fs))
	for _, f := range fs {
		if f.Type == policy.TypeList {
			out[f.Name] = []any{c.fields(f.Items, at, variant)}
			continue
		}
		if f.IsPersonal() {
			if v, ok := c.value(f, variant); ok {
				out[f.Name] = v
				continue
			}
		}
		switch f.Type {
		case policy.TypeString, policy.TypeText:
			out[f.Name] = f.Name + " value"
		case policy.TypeInteger:
			out[f.Name] = 42
		case policy.TypeNumber:
			out[f.Name] = 2.5
		case policy.TypeBoolean:
			out[f.Name] = true
		case policy.TypeTimestamp:
			out[f.Name] = at.Format(time.RFC3339)
		case policy.TypeObject:
			out[f.Name] = map[string]any{"key": "value"}
		}
	}
	return out
}

// canaryServer is the real API over a real SQLite file whose every log
// line is kept, with a clock the test moves.
func canaryServer(t *testing.T, dir string, kek *keyring.FileKEK, logs *canaryLog, clock *canaryClock) (*testServer, func()) {
	t.Helper()
	return canaryServerWith(t, dir, kek, logs, clock, nil)
}

// canaryServerWith is canaryServer whose tenants also use extra.
func canaryServerWith(t *testing.T, dir string, kek *keyring.FileKEK, logs *canaryLog, clock *canaryClock, extra *policy.Policy) (*testServer, func()) {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	st, err := sqlite.Open(ctx, filepath.Join(dir, "lethe.db"), sqlite.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(ctx, engine.Config{Store: st, KEK: kek, Now: clock.Now, Logger: log, Extra: extra})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.EnsureAdminToken(ctx, adminToken); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpapi.CheckResponses(t, httpapi.New(httpapi.Config{Engine: eng, Logger: log, MaxBody: 1 << 20})))
	ts := &testServer{t: t, url: srv.URL, admin: adminToken, dir: dir, store: st, eng: eng}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			srv.Close()
			eng.Close()
			if err := st.Close(); err != nil {
				t.Errorf("close store: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return ts, stop
}

// TestCanary_ErasedPIILeavesNoTraceOnDiskOrInLogs writes canary PII into
// every collection of every pack through the HTTP API, overwrites it once,
// looks the subject up, exports it (exports are stored sealed), erases it
// by subject, deletes the rest record by record, and sweeps with the clock
// moved past every retention and legal hold. After a checkpoint and a
// clean stop, no byte of the data folder (database, WAL, shared memory;
// the key file aside) nor of the server's log holds a canary in the
// clear, and no sealed value left in the database (record fields, export
// chunks, sealed audit parts) decrypts to one with the tenant's keys.
func TestCanary_ErasedPIILeavesNoTraceOnDiskOrInLogs(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "master.key")
	kek, _, err := keyring.LoadOrCreateKeyFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	clock := &canaryClock{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	logs := &canaryLog{}
	ts, stop := canaryServer(t, dir, kek, logs, clock)
	cs := newCanarySet(t)
	const tenant = "canary"
	key := ts.tenant(tenant, policy.PackNames()...)

	cols, err := ts.eng.Collections(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cols {
		if c.Switchable {
			ts.must(200, ts.do(ts.admin, "PUT", "/v1/tenants/"+tenant+"/settings/"+c.Name, map[string]any{"enabled": true}))
			for ts.eng.ReplanStatus(tenant, c.Name).Running {
				time.Sleep(time.Millisecond)
			}
		}
	}

	// Write, then overwrite every personal field once: the first values
	// then live on only in freed pages and old WAL frames, where
	// secure_delete and the checkpoint must not leave them.
	type ref struct{ collection, id string }
	var written []ref
	withCanary := 0
	for _, c := range cols {
		id := "canary-" + c.Name
		path := "/v1/tenants/" + tenant + "/collections/" + c.Name + "/records"
		r := ts.do(key, "POST", path, map[string]any{"id": id, "origin": "amazon", "fields": cs.fields(c.Fields, clock.Now(), "v1")})
		if r.status != 201 {
			t.Fatalf("create %s: status %d: %s", c.Name, r.status, r.body)
		}
		written = append(written, ref{c.Name, id})
		if containsAny(r.body, cs.needles()) {
			withCanary++
		}
		patch := cs.fields(c.Fields, clock.Now(), "v2")
		r = ts.do(key, "PATCH", path+"/"+id, map[string]any{"fields": patch})
		if r.status != 200 {
			t.Fatalf("patch %s: status %d: %s", c.Name, r.status, r.body)
		}
	}
	if withCanary < len(cols)*3/4 {
		t.Fatalf("only %d of %d collections took a canary", withCanary, len(cols))
	}
	ts.must(200, ts.do(key, "GET", "/v1/tenants/"+tenant+"/subjects?email="+url.QueryEscape(cs.email), nil))
	// The scan can fail: plain personal fields (a security log's actor
	// e-mail, C4) are on disk in the clear until they are erased.
	if n := canaryScanDir(t, dir, keyPath, cs.needles(), nil); n.hits == 0 {
		t.Fatal("before the erasure the scan finds no canary: it would find none afterwards either")
	}
	if _, n := canaryOpenSealed(t, dir, kek, tenant, cs.needles(), func(string, ...any) {}); n == 0 {
		t.Fatal("before the erasure no sealed value decrypts to a canary: the check would find none afterwards either")
	}

	// Export the subject: the export is stored sealed until it expires.
	reqPath := "/v1/tenants/" + tenant + "/requests"
	subject := map[string]any{"email": cs.email, "phone": cs.phone, "customer_id": cs.custID}
	exp := ts.must(201, ts.do(key, "POST", reqPath, map[string]any{"type": "export", "subject": subject})).json(t)
	canaryRunRequests(t, ts)
	expID, _ := exp["id"].(string)
	if got := ts.must(200, ts.do(key, "GET", reqPath+"/"+expID, nil)).json(t); got["state"] != "done" {
		t.Fatalf("export job: %v", got)
	}
	dl := ts.must(200, ts.do(key, "GET", reqPath+"/"+expID+"/export?format=json", nil))
	if !bytes.Contains(dl.body, []byte(cs.email)) {
		t.Fatalf("the export holds none of the subject's data: %.300s", dl.body)
	}

	// Erase the subject, then delete what is left record by record.
	er := ts.must(201, ts.do(key, "POST", reqPath, map[string]any{"type": "erase", "subject": subject})).json(t)
	canaryRunRequests(t, ts)
	erID, _ := er["id"].(string)
	if got := ts.must(200, ts.do(key, "GET", reqPath+"/"+erID, nil)).json(t); got["state"] != "done" {
		t.Fatalf("erase job: %v", got)
	}
	deleteAll := func() (left int) {
		for _, w := range written {
			p := "/v1/tenants/" + tenant + "/collections/" + w.collection + "/records/" + w.id
			switch r := ts.do(key, "DELETE", p, nil); r.status {
			case 204, 404:
			case 409: // a legal hold keeps it for now
				left++
			default:
				t.Fatalf("DELETE %s: status %d: %s", p, r.status, r.body)
			}
		}
		return left
	}
	held := deleteAll()

	// Past every period and legal hold (ten years for invoices): the
	// sweeper takes what was held, expired exports go, and what is still
	// there is deleted by hand.
	for range 4 {
		clock.Add(4 * 365 * 24 * time.Hour)
		ts.must(200, ts.do(ts.admin, "POST", "/v1/sweeps", nil))
		canaryRunRequests(t, ts)
	}
	if left := deleteAll(); left != 0 {
		t.Fatalf("%d records still held after 16 years", left)
	}
	for _, w := range written {
		ts.must(404, ts.do(key, "GET", "/v1/tenants/"+tenant+"/collections/"+w.collection+"/records/"+w.id, nil))
	}
	ts.must(404, ts.do(key, "GET", reqPath+"/"+expID+"/export?format=json", nil))

	// Scan once while the server runs (database, WAL and shared-memory
	// files after a checkpoint) and once after a clean stop.
	if err := ts.store.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	running := canaryScanDir(t, dir, keyPath, cs.needles(), t.Errorf)
	stop()
	stopped := canaryScanDir(t, dir, keyPath, cs.needles(), t.Errorf)
	logHits := canaryScan("server log", logs.Bytes(), cs.needles(), t.Errorf)
	scanned := running.bytes + stopped.bytes + len(logs.Bytes())
	hits := running.hits + stopped.hits + logHits
	if running.files < 2 || scanned < 64<<10 {
		t.Fatalf("scanned only %d files, %d bytes", running.files+stopped.files, scanned)
	}

	// Every sealed value still in the database, decrypted.
	opened, sealedHits := canaryOpenSealed(t, dir, kek, tenant, cs.needles(), t.Errorf)
	hits += sealedHits
	t.Logf("canary scan: %d collections written, %d records held by a legal hold until the clock moved, %d canary strings; "+
		"%d files while running + %d after stop + the log (%d bytes), %d bytes scanned; %d sealed values decrypted; %d hits",
		len(cols), held, len(cs.needles()), running.files, stopped.files, len(logs.Bytes()), scanned, opened, hits)
}

// scanResult counts a scan of a folder.
type scanResult struct{ files, bytes, hits int }

// canaryScanDir reads every file under dir but the key file and counts
// the needles it holds in the clear; report (nil for none) is told each.
func canaryScanDir(t *testing.T, dir, keyPath string, needles []string, report func(string, ...any)) scanResult {
	t.Helper()
	var res scanResult
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || p == keyPath {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		res.files++
		res.bytes += len(b)
		res.hits += canaryScan(filepath.Base(p), b, needles, report)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// canaryScan counts the needles b holds.
func canaryScan(name string, b []byte, needles []string, report func(string, ...any)) int {
	hits := 0
	for _, n := range needles {
		if i := bytes.Index(b, []byte(n)); i >= 0 {
			hits++
			if report != nil {
				report("%s holds canary %q in the clear at offset %d", name, n, i)
			}
		}
	}
	return hits
}

// canaryRunRequests runs every pending request job to its end, as the
// server's request runner would.
func canaryRunRequests(t *testing.T, ts *testServer) {
	t.Helper()
	if _, err := ts.eng.NewRequestRunner().RunPending(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func containsAny(b []byte, needles []string) bool {
	for _, n := range needles {
		if bytes.Contains(b, []byte(n)) {
			return true
		}
	}
	return false
}

// canaryOpenSealed opens the database again and decrypts, with the
// tenant's keys, every sealed value it still holds: record fields (bound
// to tenant, collection, record and field), export chunks and the sealed
// part of audit entries. Each must open (a value that does not would be
// one this check cannot see into) and none may hold a needle. It returns
// how many values it opened and how many held a needle.
func canaryOpenSealed(t *testing.T, dir string, kek *keyring.FileKEK, tenant string, needles []string, report func(string, ...any)) (opened, hits int) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "lethe.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	keys, err := keyring.New(st, kek).Tenant(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	openRO := func(path string) *sql.DB {
		db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	db := openRO(filepath.Join(dir, "lethe.db"))
	defer db.Close()
	mlog := openRO(sqlite.ManagerLogPath(filepath.Join(dir, "lethe.db")))
	defer mlog.Close()
	check := func(what string, env []byte, ad keyring.AD) {
		pt, err := keys.Open(env, ad)
		if err != nil {
			t.Errorf("%s does not open with the tenant's keys: %v", what, err)
			return
		}
		opened++
		if containsAny(pt, needles) {
			hits++
			report("%s decrypts to a canary: %.200q", what, pt)
		}
	}
	query := func(db *sql.DB, q string, scan func(*sql.Rows) error) {
		rows, err := db.QueryContext(ctx, q, tenant)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				t.Fatal(err)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	query(db, `SELECT collection, id, sealed FROM records WHERE tenant = ? AND sealed IS NOT NULL`, func(rows *sql.Rows) error {
		var coll, id string
		var blob []byte
		if err := rows.Scan(&coll, &id, &blob); err != nil {
			return err
		}
		m, err := lethe.DecodeSealed(blob)
		if err != nil {
			t.Errorf("record %s/%s: %v", coll, id, err)
			return nil
		}
		for field, env := range m {
			check("record "+coll+"/"+id+" field "+field, env, keyring.AD{Tenant: tenant, Collection: coll, Record: id, Field: field})
		}
		return nil
	})
	// The engine's export chunk and audit bindings (engine/export.go,
	// engine/audit.go); a change there shows here as values that do not
	// open.
	query(db, `SELECT e.request, e.idx, e.body FROM request_exports e JOIN requests r ON r.id = e.request WHERE r.tenant = ?`, func(rows *sql.Rows) error {
		var req string
		var idx int
		var body []byte
		if err := rows.Scan(&req, &idx, &body); err != nil {
			return err
		}
		check(fmt.Sprintf("export %s chunk %d", req, idx), body, keyring.AD{Tenant: tenant, Collection: "_request_export", Record: req, Field: fmt.Sprint(idx)})
		return nil
	})
	auditParts := func(rows *sql.Rows) error {
		var log string
		var seq int64
		var data string
		if err := rows.Scan(&log, &seq, &data); err != nil {
			return err
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(data), &m); err != nil {
			t.Errorf("audit %s/%d: data is not JSON: %v", log, seq, err)
			return nil
		}
		s, ok := m["sealed"].(string)
		if !ok {
			return nil
		}
		env, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			t.Errorf("audit %s/%d: sealed part is not base64: %v", log, seq, err)
			return nil
		}
		check(fmt.Sprintf("audit %s entry %d", log, seq), env, keyring.AD{Tenant: tenant, Collection: "_audit", Record: log, Field: "sealed"})
		return nil
	}
	// Both files: the manager log (reads) lives in its own.
	for _, db := range []*sql.DB{db, mlog} {
		query(db, `SELECT log, seq, data FROM audit WHERE tenant = ? AND data IS NOT NULL`, auditParts)
	}
	return opened, hits
}
