//go:build unix

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestFileModes_EveryFileOwnerOnlyAfterAFullWorkload runs serve through
// run() on a new data folder under a strict and a permissive umask, does
// what a user does (tenant, records, reads, an export and an erase
// request, a sweep, the export written by the CLI), and checks the mode
// of every file and folder under the data folder while the server runs
// (the -wal and -shm files exist then) and after it stopped. Not
// parallel: the umask belongs to the process.
func TestFileModes_EveryFileOwnerOnlyAfterAFullWorkload(t *testing.T) {
	total := 0
	for _, umask := range []int{0o022, 0o000} {
		t.Run(fmt.Sprintf("umask %04o", umask), func(t *testing.T) {
			old := syscall.Umask(umask)
			defer syscall.Umask(old)
			dir := filepath.Join(t.TempDir(), "data") // serve creates it
			const admin = "a-long-enough-admin-token"
			addr, _, stop := startServe(t, map[string]string{"LETHE_ADMIN_TOKEN": admin},
				"--data", dir, "--addr", "127.0.0.1:0", "--sweep-interval", "0",
				// The test is about files, not roles: one token does it all.
				"--admin-superuser")
			call := func(method, path, body string, want int) map[string]any {
				t.Helper()
				req, _ := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+admin)
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				b, _ := io.ReadAll(res.Body)
				if res.StatusCode != want {
					t.Fatalf("%s %s: status %d, want %d: %s", method, path, res.StatusCode, want, b)
				}
				var v map[string]any
				json.Unmarshal(b, &v)
				return v
			}
			shipped := time.Now().Add(-60 * 24 * time.Hour).UTC().Format(time.RFC3339)
			call("POST", "/v1/tenants", `{"id":"shop","packs":["erp-marketplace"]}`, 201)
			call("POST", "/v1/tenants/shop/collections/orders/records",
				`{"id":"o1","origin":"amazon","fields":{"name":"Erika","email":"erika@example.com","kundennummer":"K-1"}}`, 201)
			call("POST", "/v1/tenants/shop/collections/orders/records",
				`{"id":"o2","origin":"amazon","fields":{"name":"Max","email":"max@example.com","shipped_at":"`+shipped+`"}}`, 201)
			call("GET", "/v1/tenants/shop/collections/orders/records/o1", "", 200)
			call("GET", "/v1/tenants/shop/subjects?email=erika@example.com", "", 200)
			var exportID string
			for _, typ := range []string{"export", "erase"} {
				job := call("POST", "/v1/tenants/shop/requests", `{"type":"`+typ+`","subject":{"email":"erika@example.com"}}`, 201)
				id, _ := job["id"].(string)
				deadline := time.Now().Add(20 * time.Second)
				for job["state"] != "done" {
					if time.Now().After(deadline) || job["state"] == "failed" {
						t.Fatalf("%s request: %v", typ, job)
					}
					time.Sleep(50 * time.Millisecond)
					job = call("GET", "/v1/tenants/shop/requests/"+id, "", 200)
				}
				if typ == "export" {
					exportID = id
					call("GET", "/v1/tenants/shop/requests/"+id+"/export?format=json", "", 200)
				}
			}
			if res := call("POST", "/v1/sweeps", "", 200); res["anonymized"] != float64(1) {
				t.Fatalf("sweep: %v, want the shipped order anonymized", res)
			}
			running := checkModes(t, dir)
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{
				{"request", "export", exportID, "--data", dir, "--tenant", "shop", "-o", filepath.Join(dir, "export.zip")},
				{"request", "receipt", exportID, "--data", dir, "--tenant", "shop", "-o", filepath.Join(dir, "receipt.json")},
				{"sweep", "--data", dir},
			} {
				if _, stderr, code := reqCLI(args...); code != 0 {
					t.Fatalf("%s: exit %d\n%s", args[:2], code, stderr)
				}
			}
			stopped := checkModes(t, dir)
			for _, name := range []string{"lethe.db", "lethe-manager-log.db", "master.key", "export.zip", "receipt.json"} {
				if _, ok := stopped[name]; !ok {
					t.Errorf("%s is not in the data folder after the workload", name)
				}
			}
			for _, name := range []string{"lethe.db-wal", "lethe.db-shm", "lethe-manager-log.db-wal", "lethe-manager-log.db-shm"} {
				if _, ok := running[name]; !ok {
					t.Errorf("%s was not in the data folder while serving", name)
				}
			}
			t.Logf("umask %04o: %d entries checked while serving, %d after", umask, len(running), len(stopped))
			total += len(running) + len(stopped)
		})
	}
	t.Logf("%d files and folders checked under both umasks", total)
}

// checkModes fails for every folder under root (root included) that is
// not 0700 and every file that is not 0600; it returns the modes by path
// relative to root.
func checkModes(t *testing.T, root string) map[string]fs.FileMode {
	t.Helper()
	seen := map[string]fs.FileMode{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		seen[rel] = fi.Mode().Perm()
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %04o, want %04o", rel, fi.Mode().Perm(), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return seen
}

// TestServe_TightensDataReadableByOthers starts on a data folder and
// database files that group and others may read (made by hand, restored
// from a backup, written by an older version): the start warns once,
// naming each path and no data, and leaves them owner-only; the next
// start has nothing to warn about.
func TestServe_TightensDataReadableByOthers(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	env := map[string]string{"LETHE_ADMIN_TOKEN": "a-long-enough-admin-token"}
	_, _, stop := startServe(t, env, "--data", dir, "--addr", "127.0.0.1:0", "--sweep-interval", "0")
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	loose := map[string]fs.FileMode{"": 0o755, "lethe.db": 0o644, "lethe-manager-log.db": 0o640}
	for name, mode := range loose {
		if err := os.Chmod(filepath.Join(dir, name), mode); err != nil {
			t.Fatal(err)
		}
	}
	_, stderr, stop := startServe(t, env, "--data", dir, "--addr", "127.0.0.1:0", "--sweep-interval", "0")
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	var warnings []string
	for _, l := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(l, "level=WARN") {
			warnings = append(warnings, l)
		}
	}
	if len(warnings) != 1 {
		t.Fatalf("%d warnings, want 1:\n%s", len(warnings), stderr)
	}
	for name, mode := range loose {
		if want := fmt.Sprintf("%s (was %04o)", filepath.Join(dir, name), mode); !strings.Contains(warnings[0], want) {
			t.Errorf("the warning does not name %q: %s", want, warnings[0])
		}
	}
	checkModes(t, dir)

	_, stderr, stop = startServe(t, env, "--data", dir, "--addr", "127.0.0.1:0", "--sweep-interval", "0")
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stderr.String(), "level=WARN") {
		t.Errorf("a start on owner-only data warned:\n%s", stderr)
	}
}
