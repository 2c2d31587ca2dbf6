package httpapi_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/lethe-privacy/lethe/engine"
	"github.com/lethe-privacy/lethe/httpapi"
	"github.com/lethe-privacy/lethe/keyring"
	"github.com/lethe-privacy/lethe/policy"
	"github.com/lethe-privacy/lethe/sqlite"
)

// vectorServer is the real API over a real SQLite file with the example
// knowledge policy (policy/testdata/good/knowledge.yaml: 384 dimensions).
func vectorServer(t *testing.T, dir string, kek *keyring.FileKEK) (*testServer, func()) {
	t.Helper()
	ctx := context.Background()
	pol, err := policy.LoadFile(filepath.Join("..", "policy", "testdata", "good", "knowledge.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "lethe.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(ctx, engine.Config{Store: st, KEK: kek, Extra: pol})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.EnsureAdminToken(ctx, adminToken); err != nil {
		t.Fatal(err)
	}
	api := httpapi.New(httpapi.Config{Engine: eng, MaxBody: 4 << 20})
	srv := httptest.NewServer(httpapi.CheckResponses(t, api))
	ts := &testServer{t: t, url: srv.URL, admin: adminToken, dir: dir, store: st, eng: eng, api: api}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		srv.Close()
		api.Close()
		eng.Close()
		if err := st.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	}
	t.Cleanup(stop)
	return ts, stop
}

func randomEmbedding(r *mrand.Rand) []float64 {
	v := make([]float64, 384)
	for i := range v {
		v[i] = r.Float64()*2 - 1
	}
	return v
}

// TestVectorsAPI_SearchErasureAndCanary stores knowledge chunks whose
// payload holds canaries through the API, finds them by search with the
// payload decrypted, refuses a wrong dimension with a 422 problem and a
// writer-only key with a 403, erases chunks by DELETE and by a subject
// erasure, and checks that no search returns them, also after a restart.
// Throughout, no canary is on disk in the clear: the payload is sealed
// before it reaches the database. A plain marker written beside it is
// found by the same scan, so the scan can fail.
func TestVectorsAPI_SearchErasureAndCanary(t *testing.T) {
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "master.key")
	kek, _, err := keyring.LoadOrCreateKeyFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	ts, stop := vectorServer(t, dir, kek)
	key := ts.tenant("kb")
	nonce := make([]byte, 8)
	rand.Read(nonce)
	canary := func(i int) string { return fmt.Sprintf("canary-chunk-%x-%03d", nonce, i) }
	plainMarker := fmt.Sprintf("plain-marker-%x", nonce)

	r := mrand.New(mrand.NewPCG(1, 2))
	const n = 60
	vecs := make([][]float64, n)
	var records []map[string]any
	for i := range n {
		vecs[i] = randomEmbedding(r)
		records = append(records, map[string]any{"id": fmt.Sprintf("k%d", i), "fields": map[string]any{
			"embedding": vecs[i], "text": canary(i) + " Öffnungszeiten: Mo-Fr 9-17 Uhr",
			"source": "https://example.com/" + canary(i), "metadata": map[string]any{"note": canary(i)},
			"language": []string{"de", "en"}[i%2], "knowledge_base": plainMarker,
			"author_email": fmt.Sprintf("agent%d-%x@example.com", i%3, nonce),
		}})
	}
	base := "/v1/tenants/kb/collections/knowledge_chunks"
	cols := ts.must(200, ts.do(key, "GET", "/v1/tenants/kb/collections", nil)).json(t)["collections"].([]any)
	if c := cols[0].(map[string]any); len(cols) != 1 || c["kind"] != "vectors" || c["dimension"] != 384.0 {
		t.Fatalf("collections: %v", cols)
	}
	ts.must(201, ts.do(key, "POST", base+"/records", map[string]any{"records": records}))

	search := func(ts *testServer, v []float64, k int) []map[string]any {
		t.Helper()
		res := ts.must(200, ts.do(key, "POST", base+"/search", map[string]any{"vector": v, "k": k})).json(t)
		var out []map[string]any
		for _, h := range res["hits"].([]any) {
			out = append(out, h.(map[string]any))
		}
		if int(res["count"].(float64)) != len(out) {
			t.Fatalf("count %v for %d hits", res["count"], len(out))
		}
		return out
	}
	hits := search(ts, vecs[7], 3)
	rec := hits[0]["record"].(map[string]any)
	fields := rec["fields"].(map[string]any)
	if rec["id"] != "k7" || math.Abs(hits[0]["score"].(float64)-1) > 1e-4 || fields["text"] != canary(7)+" Öffnungszeiten: Mo-Fr 9-17 Uhr" {
		t.Fatalf("search for k7: %v", hits[0])
	}
	if len(hits) != 3 {
		t.Fatalf("%d hits, want 3", len(hits))
	}
	filtered := ts.must(200, ts.do(key, "POST", base+"/search", map[string]any{"vector": vecs[7], "k": 5, "filter": map[string]any{"language": "de"}})).json(t)
	for _, h := range filtered["hits"].([]any) {
		if f := h.(map[string]any)["record"].(map[string]any)["fields"].(map[string]any); f["language"] != "de" {
			t.Fatalf("filter let %v through", f["language"])
		}
	}

	// Bad input: problems, never a partial answer.
	p := ts.must(422, ts.do(key, "POST", base+"/search", map[string]any{"vector": []float64{1, 2, 3}})).json(t)
	if p["status"].(float64) != 422 {
		t.Fatalf("dimension mismatch problem: %v", p)
	}
	ts.must(422, ts.do(key, "POST", base+"/records", map[string]any{"fields": map[string]any{"embedding": []float64{1}, "text": "x"}}))
	ts.must(422, ts.do(key, "POST", base+"/search", map[string]any{"vector": vecs[0], "filter": map[string]any{"text": "x"}}))
	ts.must(422, ts.do(key, "POST", base+"/search", map[string]any{"vector": "not a list"}))
	ts.must(403, ts.do(ts.key("kb", "writer"), "POST", base+"/search", map[string]any{"vector": vecs[0]}))
	other := ts.tenant("other")
	ts.must(403, ts.do(other, "POST", base+"/search", map[string]any{"vector": vecs[0]}))

	// Erase: k3 by DELETE, agent1's chunks (k1, k4, k7, ...) by request.
	ts.must(204, ts.do(key, "DELETE", base+"/records/k3", nil))
	ts.must(201, ts.do(key, "POST", "/v1/tenants/kb/requests", map[string]any{"type": "erase",
		"subject": map[string]any{"email": fmt.Sprintf("agent1-%x@example.com", nonce)}}))
	canaryRunRequests(t, ts)
	erased := map[string]bool{"k3": true}
	for i := 1; i < n; i += 3 {
		erased[fmt.Sprintf("k%d", i)] = true
	}
	check := func(name string, ts *testServer) {
		t.Helper()
		for id := range erased {
			var i int
			fmt.Sscanf(id, "k%d", &i)
			for _, h := range search(ts, vecs[i], 100) {
				if got := h["record"].(map[string]any)["id"].(string); erased[got] {
					t.Fatalf("%s: erased %s returned", name, got)
				}
			}
		}
	}
	check("running", ts)

	// The data folder, after a checkpoint: no canary in the clear, while
	// the plain marker is found (the scan works on these files).
	if err := ts.store.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	var needles []string
	for i := range n {
		needles = append(needles, canary(i))
	}
	if res := canaryScanDir(t, dir, keyPath, []string{plainMarker}, nil); res.hits == 0 {
		t.Fatal("the plain marker is not found on disk: the scan cannot find anything")
	}
	running := canaryScanDir(t, dir, keyPath, append(needles, hex.EncodeToString(nonce)+"@"), t.Errorf)
	stop()
	stopped := canaryScanDir(t, dir, keyPath, needles, t.Errorf)
	if running.files < 2 || stopped.bytes < 64<<10 {
		t.Fatalf("scanned %d files, %d bytes", running.files, stopped.bytes)
	}

	// A restart builds the index from the file: still nothing erased.
	ts2, _ := vectorServer(t, dir, kek)
	check("restarted", ts2)
	if hits := search(ts2, vecs[0], 100); len(hits) != n-len(erased) {
		t.Fatalf("after restart %d chunks found, want %d", len(hits), n-len(erased))
	}
}
