package httpapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
	"github.com/lethe-privacy/lethe/keyring"
	"github.com/lethe-privacy/lethe/policy"
	"github.com/lethe-privacy/lethe/sqlite"
)

// fuzzTenant is the tenant FuzzCreateRecord writes to; it uses every pack
// with every switchable collection switched on.
const fuzzTenant = "fuzz"

// fuzzAPI builds the API over a real engine and SQLite file, with a tenant
// that reaches every pack collection, and returns it with the collection
// names in a fixed order (the last one unknown to the tenant).
func fuzzAPI(f *testing.F) (*Server, []string) {
	f.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(f.TempDir(), "lethe.db"), sqlite.Options{})
	if err != nil {
		f.Fatal(err)
	}
	master := make([]byte, 32)
	rand.Read(master)
	kek, err := keyring.NewFileKEK(master)
	if err != nil {
		f.Fatal(err)
	}
	eng, err := engine.New(ctx, engine.Config{Store: st, KEK: kek})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		eng.Close()
		st.Close()
	})
	packs := policy.PackNames()
	if _, err := eng.CreateTenant(ctx, "admin", fuzzTenant, packs); err != nil {
		f.Fatal(err)
	}
	cols, err := eng.Collections(ctx, fuzzTenant)
	if err != nil {
		f.Fatal(err)
	}
	on := true
	var names []string
	for _, c := range cols {
		names = append(names, c.Name)
		if !c.Switchable {
			continue
		}
		if _, err := eng.PutSettings(ctx, "admin", fuzzTenant, c.Name, &lethe.Settings{Enabled: &on}); err != nil {
			f.Fatal(err)
		}
		for deadline := time.Now().Add(10 * time.Second); eng.ReplanStatus(fuzzTenant, c.Name).Running; {
			if time.Now().After(deadline) {
				f.Fatalf("re-planning %s did not finish", c.Name)
			}
			time.Sleep(time.Millisecond)
		}
	}
	return New(Config{Engine: eng, MaxBody: 64 << 10}), append(names, "no_such_collection")
}

// FuzzCreateRecord sends arbitrary bodies to the create-record handler,
// as the router hands them over after authentication, for every collection
// of every pack. Whatever the body, the handler does not panic and answers
// 201 or a client error: a 5xx for client input is a defect (it would also
// hide the input's problem from the client). Bodies that are accepted are
// stored for real.
func FuzzCreateRecord(f *testing.F) {
	s, cols := fuzzAPI(f)
	for i, body := range []string{
		`{}`,
		`{"fields":{}}`,
		`{"id":"r-1","origin":"amazon","created_at":"2026-01-01T00:00:00Z","fields":{"email":"a@example.com"}}`,
		`{"records":[{"fields":{}},{"id":"r-2","fields":{}}]}`,
		`{"records":[]}`,
		`{"records":null,"fields":{}}`,
		`{"fields":{"name":42}}`,
		`{"fields":{"email":"not-an-address","phone":"++"}}`,
		`{"fields":{"metadata":{"a":[1,2,{"b":null}]},"positionen":[{"menge":1.5}]}}`,
		`{"created_at":"2099-01-01T00:00:00Z"}`,
		`{"created_at":"soon"}`,
		`{"id":"a b/c"}`,
		`{"fields":{"shipped_at":"2026-13-45T99:00:00Z"}}`,
		`{"fields":`,
		`[1,2]`,
		`null`,
		``,
		`{"fields":{}} {}`,
		`{"felds":{}}`,
		"{\"fields\":{\"name\":\"\xff\xfe\"}}",
		`{"fields":{"lieferadressen":[{"plz":5}],"weitere_kontakte":[1]}}`,
	} {
		f.Add(uint16(i), []byte(body))
	}
	path := "/v1/tenants/" + fuzzTenant + "/collections/x/records"
	admin := engine.Principal{Admin: true, Name: "admin"}
	c, err := loadChecker()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, col uint16, body []byte) {
		coll := cols[int(col)%len(cols)]
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.SetPathValue("tenant", fuzzTenant)
		r.SetPathValue("collection", coll)
		r.Body = http.MaxBytesReader(w, r.Body, s.maxBody)
		err := s.createRecords(w, r, admin)
		if err == nil {
			if w.Code != http.StatusCreated {
				t.Fatalf("%s: accepted %q with status %d", coll, body, w.Code)
			}
			if err := c.check(r, w.Code, w.Header(), w.Body.Bytes()); err != nil {
				t.Fatalf("%s: body %q: %v", coll, body, err)
			}
			return
		}
		p := problemFor(err, s.log, r)
		if p.Status >= 500 || p.Status < 400 {
			t.Fatalf("%s: body %q answered %d (%s): %v", coll, body, p.Status, p.Title, err)
		}
		// The answer the router would write is what the document says.
		pw := httptest.NewRecorder()
		writeProblem(pw, p)
		if err := c.check(r, pw.Code, pw.Header(), pw.Body.Bytes()); err != nil {
			t.Fatalf("%s: body %q: %v", coll, body, err)
		}
	})
}
