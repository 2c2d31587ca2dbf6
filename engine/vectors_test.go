package engine_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
	"github.com/lethe-privacy/lethe/keyring"
	"github.com/lethe-privacy/lethe/policy"
	"github.com/lethe-privacy/lethe/sqlite"
)

// knowledgeYAML is the example knowledge policy with a small dimension,
// so that a test can write vectors by hand.
const knowledgeYAML = `version: 1
name: knowledge
collections:
  - name: chunks
    kind: vectors
    dimension: 8
    fields:
      - {name: embedding, type: vector}
      - {name: text, type: text, pii: true, required: true}
      - {name: source, type: string, pii: true}
      - {name: language, type: string}
      - {name: author_email, type: string, subject: email}
    rules:
      - {action: delete, basis: created_at, period: 30d}
`

type vecEnv struct {
	t     *testing.T
	ctx   context.Context
	clock *testClock
	store lethe.Store
	kek   keyring.Wrapper
	pol   *policy.Policy
	eng   *engine.Engine
	max   int
}

// newVecEnv is an engine with the knowledge policy over a real store;
// exactMax is the size above which the engine moves to its HNSW graph.
func newVecEnv(t *testing.T, exactMax int) *vecEnv {
	t.Helper()
	pol, err := policy.Parse("knowledge.yaml", []byte(knowledgeYAML))
	if err != nil {
		t.Fatal(err)
	}
	clock := &testClock{t: testStart}
	st := openTestStore(t, clock.Now)
	master := make([]byte, 32)
	rand.Read(master)
	kek, err := keyring.NewFileKEK(master)
	if err != nil {
		t.Fatal(err)
	}
	e := &vecEnv{t: t, ctx: context.Background(), clock: clock, store: st, kek: kek, pol: pol, max: exactMax}
	e.eng = e.engine()
	t.Cleanup(func() { st.Close() })
	if _, err := e.eng.CreateTenant(e.ctx, "admin", "t1", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.eng.CreateTenant(e.ctx, "admin", "t2", nil); err != nil {
		t.Fatal(err)
	}
	return e
}

// engine starts another engine on the env's store: a second instance, or
// the same one after a restart (its index is built anew).
func (e *vecEnv) engine() *engine.Engine {
	e.t.Helper()
	eng, err := engine.New(e.ctx, engine.Config{Store: e.store, KEK: e.kek, Now: e.clock.Now, Extra: e.pol, VectorExactMax: e.max})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(eng.Close)
	return eng
}

func vec(r *mrand.Rand) []any {
	v := make([]any, 8)
	for i := range v {
		v[i] = r.Float64()*2 - 1
	}
	return v
}

func floats(v []any) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x.(float64))
	}
	return out
}

// fill stores n chunks c0..c{n-1} for tenant t1 and returns their vectors.
func (e *vecEnv) fill(n int) map[string][]any {
	e.t.Helper()
	r := mrand.New(mrand.NewPCG(1, 2))
	vs := map[string][]any{}
	var recs []engine.NewRecord
	for i := range n {
		id := fmt.Sprintf("c%d", i)
		vs[id] = vec(r)
		lang := "de"
		if i%2 == 1 {
			lang = "en"
		}
		recs = append(recs, engine.NewRecord{ID: id, Fields: map[string]any{
			"embedding": vs[id], "text": "chunk text " + id, "source": "doc-" + id, "language": lang,
			"author_email": fmt.Sprintf("author%d@example.com", i%5),
		}})
	}
	if _, err := e.eng.Put(e.ctx, "t1", "chunks", recs); err != nil {
		e.t.Fatal(err)
	}
	return vs
}

func (e *vecEnv) search(eng *engine.Engine, v []any, k int) []engine.SearchHit {
	e.t.Helper()
	hits, err := eng.Search(e.ctx, engine.SearchQuery{Tenant: "t1", Collection: "chunks", Vector: floats(v), K: k})
	if err != nil {
		e.t.Fatalf("search: %v", err)
	}
	return hits
}

// TestVectors_SearchAnswersNearestChunksWithTheirPayload runs once on the
// exact scan and once past the threshold, on the graph.
func TestVectors_SearchAnswersNearestChunksWithTheirPayload(t *testing.T) {
	for _, tc := range []struct {
		name     string
		exactMax int
	}{{"exact", 1000}, {"graph", 20}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newVecEnv(t, tc.exactMax)
			vs := e.fill(200)
			for _, id := range []string{"c0", "c77", "c199"} {
				hits := e.search(e.eng, vs[id], 5)
				if len(hits) != 5 || hits[0].Doc.ID != id || hits[0].Score < 0.999 {
					t.Fatalf("search for %s: %+v", id, hits)
				}
				f := hits[0].Doc.Fields
				if f["text"] != "chunk text "+id || f["source"] != "doc-"+id {
					t.Fatalf("payload of %s not decrypted: %v", id, f)
				}
				if _, ok := f["embedding"]; ok {
					t.Fatal("the answer repeats the embedding")
				}
				for i := 1; i < len(hits); i++ {
					if hits[i].Score > hits[i-1].Score {
						t.Fatalf("not best first: %+v", hits)
					}
				}
			}
			// A filter on a plain field: only English chunks, still k.
			hits, err := e.eng.Search(e.ctx, engine.SearchQuery{Tenant: "t1", Collection: "chunks", Vector: floats(vs["c0"]), K: 7,
				Filter: map[string]any{"language": "en"}})
			if err != nil || len(hits) != 7 {
				t.Fatalf("filtered search: %d hits, %v", len(hits), err)
			}
			for _, h := range hits {
				if h.Doc.Fields["language"] != "en" {
					t.Fatalf("filter let %s (%v) through", h.Doc.ID, h.Doc.Fields["language"])
				}
			}
			// Another tenant's collection is empty: nothing of t1 leaks.
			other, err := e.eng.Search(e.ctx, engine.SearchQuery{Tenant: "t2", Collection: "chunks", Vector: floats(vs["c0"]), K: 5})
			if err != nil || len(other) != 0 {
				t.Fatalf("tenant t2 sees %d hits, %v", len(other), err)
			}
			// A chunk written after the index was built is found; a
			// patched embedding moves its chunk.
			r := mrand.New(mrand.NewPCG(9, 9))
			nv := vec(r)
			if _, err := e.eng.Put(e.ctx, "t1", "chunks", []engine.NewRecord{{ID: "late", Fields: map[string]any{"embedding": nv, "text": "late"}}}); err != nil {
				t.Fatal(err)
			}
			if hits := e.search(e.eng, nv, 1); len(hits) != 1 || hits[0].Doc.ID != "late" {
				t.Fatalf("chunk written after the first search not found: %+v", hits)
			}
			mv := vec(r)
			if _, err := e.eng.Patch(e.ctx, lethe.RecordRef{Tenant: "t1", Collection: "chunks", ID: "c5"}, map[string]any{"embedding": mv}); err != nil {
				t.Fatal(err)
			}
			if hits := e.search(e.eng, mv, 1); len(hits) != 1 || hits[0].Doc.ID != "c5" {
				t.Fatalf("patched chunk not found at its new vector: %+v", hits)
			}
		})
	}
}

func TestVectors_RefusesBadVectorsAndQueries(t *testing.T) {
	e := newVecEnv(t, 0)
	e.fill(3)
	put := func(fields map[string]any) error {
		_, err := e.eng.Put(e.ctx, "t1", "chunks", []engine.NewRecord{{Fields: fields}})
		return err
	}
	eight := []any{1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0}
	tests := []struct {
		name  string
		err   error
		field string
	}{
		{"put: short vector", put(map[string]any{"embedding": []any{1.0, 2.0}, "text": "x"}), "fields.embedding"},
		{"put: no vector", put(map[string]any{"text": "x"}), "fields.embedding"},
		{"put: zero vector", put(map[string]any{"embedding": make([]any, 8), "text": "x"}), "fields.embedding"},
		{"put: not numbers", put(map[string]any{"embedding": []any{"a", 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0}, "text": "x"}), "fields.embedding"},
		{"search: wrong dimension", e.searchErr(engine.SearchQuery{Vector: []float32{1, 2, 3}}), "vector"},
		{"search: k too large", e.searchErr(engine.SearchQuery{Vector: floats(eight), K: 101}), "k"},
		{"search: filter on sealed field", e.searchErr(engine.SearchQuery{Vector: floats(eight), Filter: map[string]any{"text": "x"}}), "filter.text"},
		{"search: filter on unknown field", e.searchErr(engine.SearchQuery{Vector: floats(eight), Filter: map[string]any{"nope": "x"}}), "filter.nope"},
		{"search: filter of the wrong type", e.searchErr(engine.SearchQuery{Vector: floats(eight), Filter: map[string]any{"language": 3.0}}), "filter.language"},
	}
	for _, tt := range tests {
		var fe *lethe.FieldError
		if !errors.Is(tt.err, lethe.ErrInvalid) || !errors.As(tt.err, &fe) || fe.Field != tt.field {
			t.Errorf("%s: err = %v, want a field error on %s", tt.name, tt.err, tt.field)
		}
	}
	if _, err := e.eng.Search(e.ctx, engine.SearchQuery{Tenant: "t1", Collection: "nope", Vector: floats(eight)}); !errors.Is(err, lethe.ErrNotFound) {
		t.Errorf("unknown collection: %v", err)
	}
}

func (e *vecEnv) searchErr(q engine.SearchQuery) error {
	q.Tenant, q.Collection = "t1", "chunks"
	_, err := e.eng.Search(e.ctx, q)
	return err
}

// TestVectors_ErasedChunkNeverComesBack erases chunks by every path (a
// delete, a subject erasure, the retention sweep, an anonymization, a
// second instance) and searches for each with its own vector, with a
// candidate list as large as the collection, on the engine that deleted,
// on the one that did not, and after a restart.
func TestVectors_ErasedChunkNeverComesBack(t *testing.T) {
	e := newVecEnv(t, 30)
	vs := e.fill(100) // created at testStart: due in 30 days
	other := e.engine()
	e.search(e.eng, vs["c0"], 1) // both indexes built before the erasures
	e.search(other, vs["c0"], 1)
	erased := map[string]bool{}

	if err := e.eng.Delete(e.ctx, "test", lethe.RecordRef{Tenant: "t1", Collection: "chunks", ID: "c1"}); err != nil {
		t.Fatal(err)
	}
	erased["c1"] = true
	if err := other.Delete(e.ctx, "test", lethe.RecordRef{Tenant: "t1", Collection: "chunks", ID: "c2"}); err != nil {
		t.Fatal(err)
	}
	erased["c2"] = true

	// author3@ wrote c3, c8, c13, ...: an erasure request reaches them all.
	job, _, err := e.eng.SubmitRequest(e.ctx, "test", "t1", engine.RequestInput{Type: lethe.RequestErase, Subject: map[string]string{"email": "author3@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.eng.NewRequestRunner().RunPending(e.ctx); err != nil {
		t.Fatal(err)
	}
	if job, err = e.eng.Request(e.ctx, "t1", job.ID); err != nil || job.State != lethe.RequestDone {
		t.Fatalf("erase job: %+v, %v", job, err)
	}
	for i := 3; i < 100; i += 5 {
		erased[fmt.Sprintf("c%d", i)] = true
	}

	job, _, err = e.eng.SubmitRequest(e.ctx, "test", "t1", engine.RequestInput{Type: lethe.RequestAnonymize, Subject: map[string]string{"email": "author4@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.eng.NewRequestRunner().RunPending(e.ctx); err != nil {
		t.Fatal(err)
	}
	if job, err = e.eng.Request(e.ctx, "t1", job.ID); err != nil || job.State != lethe.RequestDone {
		t.Fatalf("anonymize job: %+v, %v", job, err)
	}
	for i := 4; i < 100; i += 5 {
		erased[fmt.Sprintf("c%d", i)] = true // anonymized: the embedding goes with the text
	}

	check := func(name string, eng *engine.Engine) {
		t.Helper()
		for id := range erased {
			for _, h := range e.search(eng, vs[id], 100) {
				if erased[h.Doc.ID] {
					t.Fatalf("%s: erased %s returned (searching for %s)", name, h.Doc.ID, id)
				}
			}
		}
	}
	check("deleting engine", e.eng)
	check("other instance", other)
	check("restarted", e.engine())

	// The sweep deletes what is left once its 30 days are over; a chunk
	// written later stays.
	r := mrand.New(mrand.NewPCG(7, 7))
	e.clock.Set(testStart.Add(20 * 24 * time.Hour))
	young := vec(r)
	if _, err := e.eng.Put(e.ctx, "t1", "chunks", []engine.NewRecord{{ID: "young", Fields: map[string]any{"embedding": young, "text": "young"}}}); err != nil {
		t.Fatal(err)
	}
	e.clock.Set(testStart.Add(31 * 24 * time.Hour))
	if _, err := e.eng.Sweep(e.ctx); err != nil {
		t.Fatal(err)
	}
	for id := range vs {
		erased[id] = true
	}
	check("after the sweep", e.eng)
	check("other instance after the sweep", other)
	if hits := e.search(e.eng, young, 100); len(hits) != 1 || hits[0].Doc.ID != "young" {
		t.Fatalf("after the sweep: %+v, want the young chunk alone", hits)
	}
	es := e.store.(lethe.EmbeddingStore)
	left, err := es.Embeddings(e.ctx, "t1", "chunks", 0, 1000)
	if err != nil || len(left) != 1 || left[0].ID != "young" {
		t.Fatalf("stored embeddings after the sweep: %+v, %v", left, err)
	}
}

// TestVectors_ErasedChunkStaysGoneAfterReopeningTheFile closes the SQLite
// store after an erasure and opens the file again: the new engine builds
// its index from what the file holds.
func TestVectors_ErasedChunkStaysGoneAfterReopeningTheFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "lethe.db")
	pol, err := policy.Parse("knowledge.yaml", []byte(knowledgeYAML))
	if err != nil {
		t.Fatal(err)
	}
	master := make([]byte, 32)
	rand.Read(master)
	kek, _ := keyring.NewFileKEK(master)
	open := func() (*sqlite.Store, *engine.Engine) {
		st, err := sqlite.Open(ctx, path, sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		eng, err := engine.New(ctx, engine.Config{Store: st, KEK: kek, Extra: pol})
		if err != nil {
			t.Fatal(err)
		}
		return st, eng
	}
	st, eng := open()
	if _, err := eng.CreateTenant(ctx, "admin", "t1", nil); err != nil {
		t.Fatal(err)
	}
	target := []any{1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0}
	near := []any{1.0, 0.9, 0.0, 0.0, 0.0, 0.0, 0.0, 0.1}
	if _, err := eng.Put(ctx, "t1", "chunks", []engine.NewRecord{
		{ID: "secret", Fields: map[string]any{"embedding": target, "text": "erase me"}},
		{ID: "kept", Fields: map[string]any{"embedding": near, "text": "keep me"}},
	}); err != nil {
		t.Fatal(err)
	}
	q := engine.SearchQuery{Tenant: "t1", Collection: "chunks", Vector: floats(target), K: 10}
	if hits, err := eng.Search(ctx, q); err != nil || len(hits) != 2 || hits[0].Doc.ID != "secret" {
		t.Fatalf("before: %+v, %v", hits, err)
	}
	if err := eng.Delete(ctx, "test", lethe.RecordRef{Tenant: "t1", Collection: "chunks", ID: "secret"}); err != nil {
		t.Fatal(err)
	}
	eng.Close()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st, eng = open()
	defer st.Close()
	defer eng.Close()
	hits, err := eng.Search(ctx, q)
	if err != nil || len(hits) != 1 || hits[0].Doc.ID != "kept" {
		t.Fatalf("after reopening: %+v, %v; want kept alone", hits, err)
	}
}
