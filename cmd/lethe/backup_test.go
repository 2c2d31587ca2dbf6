package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/journal"
	"github.com/lethe-privacy/lethe/sqlite"
)

// api is a small JSON client of a test server.
type api struct {
	t     *testing.T
	base  string
	token string
}

func (a api) do(method, path string, body, out any) int {
	a.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, "http://"+a.base+path, r)
	req.Header.Set("Authorization", "Bearer "+a.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if out != nil && res.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			a.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return res.StatusCode
}

func (a api) must(method, path string, body, out any, want int) {
	a.t.Helper()
	if got := a.do(method, path, body, out); got != want {
		a.t.Fatalf("%s %s: %d, want %d", method, path, got, want)
	}
}

func person(i int) (name, email string) {
	return fmt.Sprintf("Erika Backupfrau %05d", i), fmt.Sprintf("erika.%05d@restore-test.example", i)
}

// runCLI runs one lethe command in-process.
func runCLI(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, &out, &errOut, func(k string) string { return env[k] })
	return out.String() + errOut.String(), err
}

// sealedOf reads the stored (sealed) field values of records straight
// from the database: what a byte scan must no longer find once they are
// erased.
func sealedOf(t *testing.T, dbPath string, ids []string) map[string][][]byte {
	t.Helper()
	st, err := sqlite.Open(context.Background(), dbPath, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	out := map[string][][]byte{}
	for _, id := range ids {
		r, err := st.Record(context.Background(), lethe.RecordRef{Tenant: "shop", Collection: "orders", ID: id})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range r.Sealed {
			out[id] = append(out[id], v)
		}
		for _, s := range r.Subjects {
			out[id] = append(out[id], s.Hash)
		}
	}
	return out
}

// scanFolder reports which of the needles occur in any file of dir.
func scanFolder(t *testing.T, dir string, needles map[string][][]byte) map[string]bool {
	t.Helper()
	var files [][]byte
	var names []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, b)
			names = append(names, p)
		}
		return nil
	})
	found := map[string]bool{}
	for id, ns := range needles {
		for k, n := range ns {
			for fi, f := range files {
				if bytes.Contains(f, n) {
					if !found[id] && os.Getenv("SCANDEBUG") != "" {
						t.Logf("%s needle %d (%d bytes) in %s", id, k, len(n), names[fi])
					}
					found[id] = true
				}
			}
		}
	}
	return found
}

// TestBackup_ErasuresSinceTheBackupStayErasedAfterRestore is G4: a backup
// taken while serving, then 1,000 subjects erased (erase requests) and
// some anonymized; the database is lost, the backup restored and the
// server started: none of the erased is visible through the API, none of
// their stored bytes is anywhere in the data folder, the anonymized are
// anonymized again, and the others are as they were.
func TestBackup_ErasuresSinceTheBackupStayErasedAfterRestore(t *testing.T) {
	const (
		erased     = 1000
		anonymized = 50
		kept       = 100
		total      = erased + anonymized + kept
		token      = "la_backupbackupbackupbackupbackupb"
	)
	root := t.TempDir()
	data, backups := filepath.Join(root, "data"), filepath.Join(root, "backups")
	env := map[string]string{"LETHE_ADMIN_TOKEN": token, "LETHE_DATA": data, "LETHE_BACKUPS": backups}
	addr, _, stop := startServe(t, env, "--addr", "127.0.0.1:0", "--rate-limit", "off", "--ip-rate-limit", "off")
	admin := api{t, addr, token}
	admin.must("POST", "/v1/tenants", map[string]any{"id": "shop", "packs": []string{"erp-marketplace"}}, nil, 201)
	var key struct{ Key string }
	admin.must("POST", "/v1/tenants/shop/keys", nil, &key, 201)
	c := api{t, addr, key.Key}
	var aud struct{ Key string }
	admin.must("POST", "/v1/tenants/shop/keys", map[string]any{"roles": []string{"auditor"}}, &aud, 201)
	var ids []string
	for from := 0; from < total; from += 500 {
		var recs []map[string]any
		for i := from; i < from+500 && i < total; i++ {
			name, email := person(i)
			id := fmt.Sprintf("A-%05d", i)
			ids = append(ids, id)
			recs = append(recs, map[string]any{"id": id, "origin": "amazon", "fields": map[string]any{"name": name, "email": email, "plz": "10115", "ort": "Berlin"}})
		}
		c.must("POST", "/v1/tenants/shop/collections/orders/records", map[string]any{"records": recs}, nil, 201)
	}
	// The backup is taken while the server runs.
	if out, err := runCLI(t, env, "backup", "create"); err != nil {
		t.Fatalf("backup create: %v\n%s", err, out)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	// What the erased and anonymized records hold on disk, and the kept
	// ones (the scan's control: it must find those).
	dbPath := filepath.Join(data, "lethe.db")
	goneBytes := sealedOf(t, dbPath, ids[:erased+anonymized])
	keptBytes := sealedOf(t, dbPath, ids[erased+anonymized:])

	addr, _, stop = startServe(t, env, "--addr", "127.0.0.1:0", "--rate-limit", "off", "--ip-rate-limit", "off")
	c.base = addr
	var jobs []string
	for i := 0; i < erased+anonymized; i++ {
		typ := "erase"
		if i >= erased {
			typ = "anonymize"
		}
		_, email := person(i)
		var job struct{ ID string }
		c.must("POST", "/v1/tenants/shop/requests", map[string]any{"type": typ, "subject": map[string]string{"email": email}}, &job, 201)
		jobs = append(jobs, job.ID)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for _, id := range jobs {
		for {
			var j struct{ State string }
			c.must("GET", "/v1/tenants/shop/requests/"+id, nil, &j, 200)
			if j.State == "done" {
				break
			}
			if j.State == "failed" || time.Now().After(deadline) {
				t.Fatalf("request %s: %s", id, j.State)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if c.do("GET", "/v1/tenants/shop/collections/orders/records/"+ids[0], nil, nil) != 404 {
		t.Fatal("erased record still there before the restore")
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	// The database is lost; the master key and the erasure journal are not.
	for _, name := range []string{"lethe.db", "lethe.db-wal", "lethe.db-shm", "lethe-manager-log.db", "lethe-manager-log.db-wal", "lethe-manager-log.db-shm"} {
		os.Remove(filepath.Join(data, name))
	}
	if _, err := os.Stat(journal.Path(dbPath)); err != nil {
		t.Fatalf("no erasure journal: %v", err)
	}
	if out, err := runCLI(t, env, "backup", "restore", "latest"); err != nil {
		t.Fatalf("backup restore: %v\n%s", err, out)
	}
	// Before the start the restored database holds them all again: the
	// byte scan finds the erased records (so it can fail).
	if found := scanFolder(t, data, goneBytes); len(found) != erased+anonymized {
		t.Fatalf("restored folder: scan found %d of %d erased records before the start", len(found), erased+anonymized)
	}

	addr, stderr, stop := startServe(t, env, "--addr", "127.0.0.1:0", "--rate-limit", "off", "--ip-rate-limit", "off")
	c.base = addr
	for i, id := range ids {
		_, email := person(i)
		var rec struct {
			State  string
			Fields map[string]any
		}
		code := c.do("GET", "/v1/tenants/shop/collections/orders/records/"+id, nil, &rec)
		var subj struct {
			Records []json.RawMessage `json:"records"`
		}
		c.must("POST", "/v1/tenants/shop/subjects/search", map[string]any{"identifiers": map[string]string{"email": email}}, &subj, 200)
		switch {
		case i < erased:
			if code != 404 || len(subj.Records) != 0 {
				t.Fatalf("erased %s: GET %d, subject lookup %d records", id, code, len(subj.Records))
			}
		case i < erased+anonymized:
			name, _ := person(i)
			if code != 200 || rec.State != "anonymized" || rec.Fields["name"] == name || rec.Fields["email"] == email {
				t.Fatalf("anonymized %s: %d %+v", id, code, rec)
			}
		default:
			name, _ := person(i)
			if code != 200 || rec.State != "active" || rec.Fields["name"] != name || len(subj.Records) != 1 {
				t.Fatalf("kept %s: %d %+v, subject lookup %d records", id, code, rec, len(subj.Records))
			}
		}
	}
	want := fmt.Sprintf("deleted=%d anonymized=%d", erased, anonymized)
	if !strings.Contains(stderr.String(), want) {
		t.Errorf("start log does not count the replay (%s):\n%s", want, stderr)
	}
	// The replay is in the tenant's security log, with counts.
	replayed := map[string]float64{}
	for after := 0.0; ; {
		var page struct {
			Entries []struct {
				Event string
				Data  struct {
					Counts map[string]map[string]float64
				}
			}
			Next *float64 `json:"next_after_seq"`
		}
		api{t, addr, aud.Key}.must("GET", fmt.Sprintf("/v1/tenants/shop/logs/security?after_seq=%d", int64(after)), nil, &page, 200)
		for _, e := range page.Entries {
			if e.Event == "restore.replay" {
				for action, m := range e.Data.Counts {
					replayed[action] += m["orders"]
				}
			}
		}
		if page.Next == nil {
			break
		}
		after = *page.Next
	}
	if replayed["delete"] != erased || replayed["anonymize"] != anonymized {
		t.Errorf("security log counts the replay as %v, want %d deletions and %d anonymizations", replayed, erased, anonymized)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if found := scanFolder(t, data, goneBytes); len(found) != 0 {
		t.Errorf("byte scan of the data folder found %d erased or anonymized records' stored values after the start", len(found))
	}
	if found := scanFolder(t, data, keptBytes); len(found) != kept {
		t.Errorf("byte scan found %d of the %d kept records: the scan is broken", len(found), kept)
	}
	if _, err := os.Stat(filepath.Join(data, "lethe-restored.json")); !os.IsNotExist(err) {
		t.Errorf("restore marker left after the replay: %v", err)
	}
}
