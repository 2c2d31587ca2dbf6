package engine_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
	"github.com/lethe-privacy/lethe/keyring"
)

// reqStart is the clock of the request tests.
var reqStart = time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC)

// reqEnv is an engine over a store (a SQLite file, or a PostgreSQL
// database in the PostgreSQL run) that the test can close and open again
// with the same master key (a restart).
type reqEnv struct {
	t      testing.TB
	ctx    context.Context
	path   string // SQLite file or PostgreSQL URL (see testStoreLocation)
	master []byte
	now    time.Time
	mu     sync.Mutex
	store  lethe.Store
	eng    *engine.Engine
}

func (e *reqEnv) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *reqEnv) advance(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.now = e.now.Add(d)
}

func reqNewEnv(t testing.TB, path string, master []byte) *reqEnv {
	e := &reqEnv{t: t, ctx: context.Background(), path: path, master: master, now: reqStart}
	reqOpen(t, e)
	t.Cleanup(func() { reqClose(e) })
	return e
}

func reqFresh(t testing.TB) *reqEnv {
	master := make([]byte, 32)
	rand.Read(master)
	return reqNewEnv(t, testStoreLocation(t), master)
}

func reqOpen(t testing.TB, e *reqEnv) {
	st, err := openStoreAt(e.ctx, e.path, e.clock)
	if err != nil {
		t.Fatal(err)
	}
	kek, err := keyring.NewFileKEK(e.master)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(e.ctx, engine.Config{Store: st, KEK: kek, Now: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	e.store, e.eng = st, eng
}

func reqClose(e *reqEnv) {
	if e.eng != nil {
		e.eng.Close()
		e.store.Close()
		e.eng, e.store = nil, nil
	}
}

func (e *reqEnv) put(tenant, coll string, recs ...engine.NewRecord) {
	e.t.Helper()
	if _, err := e.eng.Put(e.ctx, tenant, coll, recs); err != nil {
		e.t.Fatalf("put %s: %v", coll, err)
	}
}

// run submits a request and runs the queue until it is finished.
func (e *reqEnv) run(tenant string, in engine.RequestInput) *lethe.Request {
	e.t.Helper()
	job, _, err := e.eng.SubmitRequest(e.ctx, "test", tenant, in)
	if err != nil {
		e.t.Fatalf("submit: %v", err)
	}
	if _, err := e.eng.NewRequestRunner().RunPending(e.ctx); err != nil {
		e.t.Fatalf("run: %v", err)
	}
	job, err = e.eng.Request(e.ctx, tenant, job.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	if job.State != lethe.RequestDone {
		e.t.Fatalf("job %s: state %s, error %q", job.ID, job.State, job.Error)
	}
	return job
}

// items lists a job's items without their sequence numbers.
func (e *reqEnv) items(tenant, id string) []lethe.RequestItem {
	e.t.Helper()
	var out []lethe.RequestItem
	var after int64
	for {
		its, err := e.eng.RequestItems(e.ctx, tenant, id, "", after, 5000)
		if err != nil {
			e.t.Fatal(err)
		}
		if len(its) == 0 {
			return out
		}
		after = its[len(its)-1].Seq
		for _, it := range its {
			it.Seq = 0
			out = append(out, it)
		}
	}
}

// reqSeedThreePacks stores Erika's data in every pack under different
// spellings of her e-mail, Max's data beside it, and an archived document
// of Erika's under legal hold.
func reqSeedThreePacks(e *reqEnv) {
	e.t.Helper()
	if _, err := e.eng.CreateTenant(e.ctx, "admin", "t1", []string{"chatbot", "conversations", "erp-marketplace"}); err != nil {
		e.t.Fatal(err)
	}
	rec := func(id string, f map[string]any) engine.NewRecord { return engine.NewRecord{ID: id, Fields: f} }
	e.put("t1", "marketing_consents", rec("mc-erika", map[string]any{"consent": "newsletter", "email": " ERIKA@example.com", "ip_address": "192.0.2.1"}),
		rec("mc-max", map[string]any{"consent": "newsletter", "email": "max@example.com", "ip_address": "192.0.2.2"}))
	e.put("t1", "voucher_codes", rec("v-erika", map[string]any{"code": "SPRING-1", "email": "Erika@Example.COM"}))
	e.put("t1", "orders", rec("o-erika", map[string]any{"name": "Erika Mustermann", "email": "erika@example.com", "plz": "10115", "ort": "Berlin", "kundennummer": "K-1"}),
		rec("o-max", map[string]any{"name": "Max Muster", "email": "max@example.com", "plz": "20095", "ort": "Hamburg", "kundennummer": "K-2"}))
	e.put("t1", "addresses", rec("a-max", map[string]any{"name": "Max Muster", "email": "max@example.com", "kundennummer": "K-2",
		"weitere_ansprechpartner": []any{map[string]any{"name": "Erika", "email": "erika@EXAMPLE.com"}, map[string]any{"name": "Lisa", "email": "lisa@example.com"}}}))
	e.put("t1", "archived_documents", rec("ad-erika", map[string]any{"belegart": "rechnung", "belegnr": "R-1", "kundennummer": "K-1", "document": "JVBERi0="}))
}

func TestRequest_EraseSubjectAcrossPacks_DryRunPredictsAndHoldsStay(t *testing.T) {
	e := reqFresh(t)
	reqSeedThreePacks(e)
	subject := map[string]string{"email": "erika@example.com", "customer_id": "K-1"}

	// Lookup finds her in every collection that holds her identifier.
	docs, err := e.eng.FindSubject(e.ctx, "t1", subject)
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, d := range docs {
		found = append(found, d.ID)
	}
	sort.Strings(found)
	if want := []string{"a-max", "ad-erika", "mc-erika", "o-erika", "v-erika"}; !reflect.DeepEqual(found, want) {
		t.Fatalf("lookup found %v, want %v", found, want)
	}

	dry := e.run("t1", engine.RequestInput{Type: lethe.RequestErase, Subject: subject, DryRun: true})
	for _, id := range found {
		coll := map[string]string{"a-max": "addresses", "ad-erika": "archived_documents", "mc-erika": "marketing_consents", "o-erika": "orders", "v-erika": "voucher_codes"}[id]
		if _, err := e.eng.Get(e.ctx, lethe.RecordRef{Tenant: "t1", Collection: coll, ID: id}); err != nil {
			t.Fatalf("dry run changed %s: %v", id, err)
		}
	}
	real := e.run("t1", engine.RequestInput{Type: lethe.RequestErase, Subject: subject})
	dryItems, realItems := e.items("t1", dry.ID), e.items("t1", real.ID)
	if !reflect.DeepEqual(dryItems, realItems) {
		t.Fatalf("dry run predicted\n%+v\nthe run did\n%+v", dryItems, realItems)
	}
	want := map[string]lethe.Action{"mc-erika": "delete", "v-erika": "delete", "o-erika": "delete", "a-max": "redact", "ad-erika": "hold"}
	if len(realItems) != len(want) {
		t.Fatalf("items %+v", realItems)
	}
	for _, it := range realItems {
		if want[it.RecordID] != it.Action {
			t.Errorf("%s: action %s, want %s", it.RecordID, it.Action, want[it.RecordID])
		}
		if it.Action == lethe.ActionHold && (it.Reason == "" || it.Until.Year() != 2036) {
			t.Errorf("held item without reason or end: %+v", it)
		}
	}
	// Erika is gone except the held document; Max and Lisa stay.
	if docs, _ := e.eng.FindSubject(e.ctx, "t1", map[string]string{"email": "erika@example.com"}); len(docs) != 0 {
		t.Errorf("erika still found in %d records", len(docs))
	}
	if _, err := e.eng.Get(e.ctx, lethe.RecordRef{Tenant: "t1", Collection: "archived_documents", ID: "ad-erika"}); err != nil {
		t.Errorf("held document erased: %v", err)
	}
	for _, q := range []map[string]string{{"email": "max@example.com"}, {"email": "lisa@example.com"}} {
		if docs, _ := e.eng.FindSubject(e.ctx, "t1", q); len(docs) == 0 {
			t.Errorf("%v lost their records", q)
		}
	}
	a, err := e.eng.Get(e.ctx, lethe.RecordRef{Tenant: "t1", Collection: "addresses", ID: "a-max"})
	if err != nil {
		t.Fatal(err)
	}
	if contacts := a.Fields["weitere_ansprechpartner"].([]any); len(contacts) != 1 {
		t.Errorf("contacts after redaction: %v", contacts)
	}

	// The receipt names the hold, holds no identifier values and verifies.
	rc, err := e.eng.VerifyReceipt(e.ctx, real.Receipt)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if rc.HeldCount != 1 || len(rc.Held) != 1 || rc.Held[0].ID != "ad-erika" || rc.Held[0].Reason == "" {
		t.Errorf("receipt held: %+v", rc.Held)
	}
	if rc.Counts["orders"]["delete"] != 1 || rc.Counts["addresses"]["redact"] != 1 {
		t.Errorf("receipt counts: %v", rc.Counts)
	}
	for _, v := range []string{"@example.com", "@EXAMPLE", `"K-1"`} {
		if bytes.Contains(real.Receipt, []byte(v)) {
			t.Errorf("receipt holds identifier value %q", v)
		}
	}
}

func TestRequest_VerifyReceipt_RefusesAlteredReceipts(t *testing.T) {
	e := reqFresh(t)
	reqSeedThreePacks(e)
	job := e.run("t1", engine.RequestInput{Type: lethe.RequestErase, Subject: map[string]string{"email": "max@example.com"}})
	var sr engine.SignedReceipt
	if err := json.Unmarshal(job.Receipt, &sr); err != nil {
		t.Fatal(err)
	}
	tests := map[string][]byte{
		"count changed":  bytes.Replace(job.Receipt, []byte(`"delete": 1`), []byte(`"delete": 2`), 1),
		"type changed":   bytes.Replace(job.Receipt, []byte(`"erase"`), []byte(`"export"`), 1),
		"truncated":      job.Receipt[:len(job.Receipt)/2],
		"no signature":   bytes.Replace(job.Receipt, []byte(sr.Signature), []byte("AAAA"), 1),
		"unknown tenant": bytes.Replace(job.Receipt, []byte(`"tenant": "t1"`), []byte(`"tenant": "t2"`), 1),
	}
	if _, err := e.eng.VerifyReceipt(e.ctx, job.Receipt); err != nil {
		t.Fatalf("untouched receipt: %v", err)
	}
	for name, b := range tests {
		t.Run(name, func(t *testing.T) {
			if bytes.Equal(b, job.Receipt) {
				t.Fatalf("the test did not alter the receipt:\n%s", job.Receipt)
			}
			if _, err := e.eng.VerifyReceipt(e.ctx, b); !errors.Is(err, engine.ErrReceiptInvalid) {
				t.Fatalf("got %v, want ErrReceiptInvalid", err)
			}
		})
	}
}

func TestRequest_IdenticalEraseAtOnce_OneJobOneReceipt(t *testing.T) {
	e := reqFresh(t)
	reqSeedThreePacks(e)
	in := engine.RequestInput{Type: lethe.RequestErase, Subject: map[string]string{"customer_id": "K-1", "email": "erika@example.com"}}
	const n = 8
	ids := make([]string, n)
	created := make([]bool, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			job, c, err := e.eng.SubmitRequest(e.ctx, "test", "t1", in)
			if err != nil {
				t.Error(err)
				return
			}
			ids[i], created[i] = job.ID, c
		}()
	}
	wg.Wait()
	nCreated := 0
	for i := range n {
		if ids[i] != ids[0] {
			t.Fatalf("two jobs: %v", ids)
		}
		if created[i] {
			nCreated++
		}
	}
	if nCreated != 1 {
		t.Fatalf("%d submissions created a job, want 1", nCreated)
	}
	if k, err := e.eng.NewRequestRunner().RunPending(e.ctx); err != nil || k != 1 {
		t.Fatalf("runner finished %d jobs (%v), want 1", k, err)
	}
	job, _ := e.eng.Request(e.ctx, "t1", ids[0])
	if job.State != lethe.RequestDone || len(job.Receipt) == 0 {
		t.Fatalf("job %s %s, receipt %d bytes", job.State, job.Error, len(job.Receipt))
	}
	if _, err := e.eng.Get(e.ctx, lethe.RecordRef{Tenant: "t1", Collection: "archived_documents", ID: "ad-erika"}); err != nil {
		t.Fatalf("held record deleted: %v", err)
	}
	// Once done, the same request makes a new job.
	again, c, err := e.eng.SubmitRequest(e.ctx, "test", "t1", in)
	if err != nil || !c || again.ID == ids[0] {
		t.Fatalf("resubmission after done: created %v, id %s (%v)", c, again.ID, err)
	}
}

func TestRequest_BadInput_NamesTheField(t *testing.T) {
	e := reqFresh(t)
	reqSeedThreePacks(e)
	tests := []struct {
		in    engine.RequestInput
		field string
	}{
		{engine.RequestInput{Subject: map[string]string{"email": "a@b.c"}}, "type"},
		{engine.RequestInput{Type: "shred", Origin: "amazon"}, "type"},
		{engine.RequestInput{Type: lethe.RequestErase}, "scope"},
		{engine.RequestInput{Type: lethe.RequestErase, Origin: "amazon", Tenant: true}, "scope"},
		{engine.RequestInput{Type: lethe.RequestErase, Origin: "Amazon!"}, "origin"},
		{engine.RequestInput{Type: lethe.RequestErase, Subject: map[string]string{"shoe_size": "42"}}, "subject.shoe_size"},
		{engine.RequestInput{Type: lethe.RequestErase, Subject: map[string]string{}}, "subject"},
	}
	for _, tt := range tests {
		_, _, err := e.eng.SubmitRequest(e.ctx, "test", "t1", tt.in)
		var fe *lethe.FieldError
		if !errors.As(err, &fe) || fe.Field != tt.field {
			t.Errorf("%+v: got %v, want a field error on %s", tt.in, err, tt.field)
		}
	}
}

func TestRequest_ExportThenAnonymize_ExportsBeforeAnonymizing(t *testing.T) {
	e := reqFresh(t)
	reqSeedThreePacks(e)
	e.put("t1", "orders", engine.NewRecord{ID: "o-amz", Origin: "amazon", Fields: map[string]any{"name": "Anna Amazon", "email": "anna@example.com", "plz": "80331", "ort": "München"}})
	e.put("t1", "invoices", engine.NewRecord{ID: "i-amz", Origin: "amazon", Fields: map[string]any{"name": "Anna Amazon", "email": "anna@example.com", "plz": "80331", "ort": "München"}})
	var exportSeen bool
	job, _, err := e.eng.SubmitRequest(e.ctx, "test", "t1", engine.RequestInput{Type: lethe.RequestExportThenAnonymize, Origin: "amazon"})
	if err != nil {
		t.Fatal(err)
	}
	r := e.eng.NewRequestRunner()
	r.AfterBatch = func(j *lethe.Request) {
		if j.Phase != "apply" || exportSeen {
			return
		}
		// The first anonymizing batch has committed: the export, read
		// now, must hold the data as it was.
		exportSeen = true
	}
	if _, err := r.RunPending(e.ctx); err != nil {
		t.Fatal(err)
	}
	job, _ = e.eng.Request(e.ctx, "t1", job.ID)
	if job.State != lethe.RequestDone {
		t.Fatalf("state %s: %s", job.State, job.Error)
	}
	x, err := e.eng.OpenExport(e.ctx, "test", "t1", job.ID, "json")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := x.WriteTo(e.ctx, &buf); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Collections map[string][]engine.ExportDoc `json:"collections"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("export JSON: %v\n%s", err, buf.Bytes())
	}
	for _, c := range []string{"orders", "delivery_notes", "invoices", "addresses"} {
		if _, ok := doc.Collections[c]; !ok {
			t.Errorf("export lacks collection %s (X10)", c)
		}
	}
	if o := doc.Collections["orders"]; len(o) != 1 || o[0].Fields["name"] != "Anna Amazon" {
		t.Fatalf("exported orders: %+v", o)
	}
	got, err := e.eng.Get(e.ctx, lethe.RecordRef{Tenant: "t1", Collection: "orders", ID: "o-amz"})
	if err != nil {
		t.Fatal(err)
	}
	if got.State != lethe.StateAnonymized || got.Fields["name"] == "Anna Amazon" || got.Fields["plz"] != "80331" {
		t.Fatalf("after export_then_anonymize: %+v", got)
	}
	rc, err := e.eng.VerifyReceipt(e.ctx, job.Receipt)
	if err != nil {
		t.Fatal(err)
	}
	if len(rc.Warnings) != 1 || !strings.Contains(rc.Warnings[0], "shipping and invoicing") {
		t.Errorf("origin anonymization without warning (X3): %v", rc.Warnings)
	}
	// ZIP: JSON and CSV per collection.
	x, _ = e.eng.OpenExport(e.ctx, "test", "t1", job.ID, "zip")
	buf.Reset()
	if err := x.WriteTo(e.ctx, &buf); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		names[f.Name] = string(b)
	}
	if !strings.Contains(names["orders.csv"], "Anna Amazon") || !strings.HasPrefix(names["orders.csv"], "id,origin,created_at") || names["invoices.json"] == "" {
		t.Errorf("zip entries: %v", reflect.ValueOf(names).MapKeys())
	}
	// The export expires after 7 days and is then gone.
	e.advance(7*24*time.Hour + time.Second)
	if _, err := e.eng.NewRequestRunner().RunPending(e.ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.eng.OpenExport(e.ctx, "test", "t1", job.ID, "json"); !errors.Is(err, lethe.ErrNotFound) {
		t.Fatalf("expired export: %v", err)
	}
	if _, err := e.store.ExportChunk(e.ctx, "t1", job.ID, 0); !errors.Is(err, lethe.ErrNotFound) {
		t.Fatalf("expired export chunk still stored: %v", err)
	}
}

func TestRequest_Origins_ActiveFromTheFirstRecord(t *testing.T) {
	e := reqFresh(t)
	reqSeedThreePacks(e)
	rules, err := e.eng.Origins(e.ctx, "t1")
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) == 0 || rules[0].Active {
		t.Fatalf("before any amazon record: %+v", rules)
	}
	e.put("t1", "orders", engine.NewRecord{ID: "o-amz", Origin: "amazon", CreatedAt: reqStart.Add(-time.Hour), Fields: map[string]any{"name": "A"}})
	rules, _ = e.eng.Origins(e.ctx, "t1")
	for _, r := range rules {
		if r.Origin == "amazon" && (!r.Active || !r.Since.Equal(reqStart.Add(-time.Hour))) {
			t.Errorf("after the first amazon record: %+v", r)
		}
	}
}

// reqSeedOrigin stores n amazon orders (and a few of another origin) for
// the restart test and the benchmark.
func reqSeedOrigin(t testing.TB, e *reqEnv, n int) {
	if _, err := e.eng.CreateTenant(e.ctx, "admin", "t1", []string{"erp-marketplace"}); err != nil {
		t.Fatal(err)
	}
	const chunk = 10000
	for i := 0; i < n; i += chunk {
		var recs []engine.NewRecord
		for k := i; k < i+chunk && k < n; k++ {
			recs = append(recs, engine.NewRecord{ID: fmt.Sprintf("o%07d", k), Origin: "amazon", Fields: map[string]any{
				"name": fmt.Sprintf("Kunde %d", k), "email": fmt.Sprintf("k%d@example.com", k), "plz": "10115", "ort": "Berlin",
				"positionen": []any{map[string]any{"artikel": "A-1", "menge": 1, "geschenknachricht": "Alles Gute"}},
			}})
		}
		if _, err := e.eng.Put(e.ctx, "t1", "orders", recs); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.eng.Put(e.ctx, "t1", "orders", []engine.NewRecord{{ID: "shop-1", Origin: "shop", Fields: map[string]any{"name": "Stays"}}}); err != nil {
		t.Fatal(err)
	}
}

// reqState is what the restart test compares: every record's state,
// plain fields and names of its sealed fields.
func reqState(t *testing.T, e *reqEnv) []string {
	var out []string
	var after lethe.RecordCursor
	for {
		recs, err := e.store.ScopeRecords(e.ctx, lethe.ScopeQuery{Tenant: "t1", After: after, Limit: 5000})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			return out
		}
		for _, r := range recs {
			var sealed []string
			for k := range r.Sealed {
				sealed = append(sealed, k)
			}
			sort.Strings(sealed)
			plain, _ := json.Marshal(r.Plain)
			out = append(out, fmt.Sprintf("%s/%s %s %s %v %s", r.Collection, r.ID, r.State, plain, sealed, r.Plan.Action))
		}
		after = lethe.RecordCursor{Collection: recs[len(recs)-1].Collection, ID: recs[len(recs)-1].ID}
	}
}

func TestRequest_OriginAnonymize_ResumesAfterRestartWithSameResult(t *testing.T) {
	n := 100_000
	if testing.Short() {
		n = 5_000
	}
	t0 := time.Now()
	a := reqFresh(t)
	reqSeedOrigin(t, a, n)
	reqClose(a)
	t.Logf("seeded %d records in %s", n, time.Since(t0))
	// b is a copy of a: the uninterrupted run.
	b := reqNewEnv(t, copyStoreLocation(t, a.path), a.master)
	reqOpen(t, a)

	in := engine.RequestInput{Type: lethe.RequestAnonymize, Origin: "amazon"}
	job, _, err := a.eng.SubmitRequest(a.ctx, "test", "t1", in)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(a.ctx)
	r := a.eng.NewRequestRunner()
	batches := 0
	r.AfterBatch = func(*lethe.Request) {
		if batches++; batches == 3 {
			cancel()
		}
	}
	if _, err := r.RunPending(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v", err)
	}
	mid, _ := a.eng.Request(a.ctx, "t1", job.ID)
	if mid.State != lethe.RequestRunning || mid.Processed != 3000 || mid.Total != int64(n)+0 {
		t.Fatalf("after 3 batches: state %s, processed %d of %d", mid.State, mid.Processed, mid.Total)
	}
	// Restart: close everything, open again, let the lease run out, resume.
	reqClose(a)
	reqOpen(t, a)
	a.advance(time.Minute)
	if _, err := a.eng.NewRequestRunner().RunPending(a.ctx); err != nil {
		t.Fatal(err)
	}
	resumed, _ := a.eng.Request(a.ctx, "t1", job.ID)
	t.Logf("interrupted and resumed run done after %s", time.Since(t0))

	b.advance(time.Minute)
	whole := b.run("t1", in)
	t.Logf("uninterrupted run done after %s", time.Since(t0))
	if resumed.State != lethe.RequestDone || resumed.Processed != whole.Processed {
		t.Fatalf("resumed: %s processed %d, uninterrupted processed %d", resumed.State, resumed.Processed, whole.Processed)
	}
	if got, want := engine.RequestCounts(resumed), engine.RequestCounts(whole); !reflect.DeepEqual(got, want) {
		t.Fatalf("counts: resumed %v, uninterrupted %v", got, want)
	}
	if got, want := engine.RequestCounts(resumed)["orders"]["anonymize"], int64(n); got != want {
		t.Fatalf("anonymized %d, want %d", got, want)
	}
	sa, sb := reqState(t, a), reqState(t, b)
	if !reflect.DeepEqual(sa, sb) {
		for i := range sa {
			if i < len(sb) && sa[i] != sb[i] {
				t.Fatalf("record %d differs:\nresumed       %s\nuninterrupted %s", i, sa[i], sb[i])
			}
		}
		t.Fatalf("%d vs %d records", len(sa), len(sb))
	}
	if ia, ib := a.items("t1", job.ID), b.items("t1", whole.ID); !reflect.DeepEqual(ia, ib) {
		t.Fatalf("items differ: %d vs %d", len(ia), len(ib))
	}
}

func FuzzVerifyReceipt(f *testing.F) {
	e := reqFresh(f)
	reqSeedThreePacks(e)
	job, _, err := e.eng.SubmitRequest(e.ctx, "test", "t1", engine.RequestInput{Type: lethe.RequestErase, Subject: map[string]string{"email": "max@example.com"}})
	if err != nil {
		f.Fatal(err)
	}
	if _, err := e.eng.NewRequestRunner().RunPending(e.ctx); err != nil {
		f.Fatal(err)
	}
	job, _ = e.eng.Request(e.ctx, "t1", job.ID)
	f.Add(job.Receipt)
	f.Add([]byte(`{"receipt":{"tenant":"t1"},"alg":"HMAC-SHA256","signature":""}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		rc, err := e.eng.VerifyReceipt(e.ctx, b)
		if err == nil && !bytes.Equal(b, job.Receipt) {
			// Only whitespace may differ from the signed receipt.
			var x, y bytes.Buffer
			json.Compact(&x, b)
			json.Compact(&y, job.Receipt)
			if !bytes.Equal(x.Bytes(), y.Bytes()) {
				t.Fatalf("altered receipt verified: %s", b)
			}
		}
		if err == nil && rc == nil {
			t.Fatal("nil receipt without error")
		}
	})
}

// BenchmarkOriginRequest measures an origin anonymization (records/s).
func BenchmarkOriginRequest(b *testing.B) {
	const n = 20_000
	for b.Loop() {
		b.StopTimer()
		e := reqFresh(b)
		reqSeedOrigin(b, e, n)
		job, _, err := e.eng.SubmitRequest(e.ctx, "bench", "t1", engine.RequestInput{Type: lethe.RequestAnonymize, Origin: "amazon"})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		if _, err := e.eng.NewRequestRunner().RunPending(e.ctx); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "records/s")
		b.StopTimer()
		if j, _ := e.eng.Request(e.ctx, "t1", job.ID); j.State != lethe.RequestDone {
			b.Fatalf("state %s: %s", j.State, j.Error)
		}
		reqClose(e)
		b.StartTimer()
	}
}

// faultyStore is a real store whose ApplyRequestBatch fails a set number
// of times with a passing fault, as a dropped database connection or a
// deadlock the database broke would.
type faultyStore struct {
	lethe.Store
	failures atomic.Int32
}

func (s *faultyStore) ApplyRequestBatch(ctx context.Context, b *lethe.RequestBatch) error {
	if s.failures.Add(-1) >= 0 {
		return fmt.Errorf("apply request batch: %w: connection lost (injected)", lethe.ErrUnavailable)
	}
	return s.Store.ApplyRequestBatch(ctx, b)
}

// TestRequest_PassingFaultRetriesInsteadOfFailing: a request whose batch
// meets a passing fault is not marked failed; once its lease runs out a
// runner takes it up again and it ends done, as a run without the fault.
func TestRequest_PassingFaultRetriesInsteadOfFailing(t *testing.T) {
	e := reqFresh(t)
	reqSeedThreePacks(e)
	faulty := &faultyStore{Store: e.store}
	kek, err := keyring.NewFileKEK(e.master)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(e.ctx, engine.Config{Store: faulty, KEK: kek, Now: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	job, _, err := eng.SubmitRequest(e.ctx, "test", "t1", engine.RequestInput{Type: lethe.RequestErase, Subject: map[string]string{"email": "erika@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	faulty.failures.Store(1)
	if _, err := eng.NewRequestRunner().RunPending(e.ctx); !errors.Is(err, lethe.ErrUnavailable) {
		t.Fatalf("run with a passing fault: err = %v, want ErrUnavailable", err)
	}
	if j, _ := eng.Request(e.ctx, "t1", job.ID); j.State == lethe.RequestFailed || !j.Active() {
		t.Fatalf("after a passing fault the job is %s (%s); want it still active", j.State, j.Error)
	}
	e.advance(time.Hour) // the lease of the runner that met the fault runs out
	if _, err := eng.NewRequestRunner().RunPending(e.ctx); err != nil {
		t.Fatalf("run after the fault: %v", err)
	}
	j, _ := eng.Request(e.ctx, "t1", job.ID)
	if j.State != lethe.RequestDone {
		t.Fatalf("job after the retry is %s (%s), want done", j.State, j.Error)
	}
	if _, err := eng.Get(e.ctx, lethe.RecordRef{Tenant: "t1", Collection: "marketing_consents", ID: "mc-erika"}); !errors.Is(err, lethe.ErrNotFound) {
		t.Fatalf("erika's consent after the erase: %v, want not found", err)
	}
}
