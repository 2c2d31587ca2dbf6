package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe/keyring"
)

// syncBuffer is a bytes.Buffer safe for the server goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var addrLine = regexp.MustCompile(`msg="lethe serving" addr=(\S+)`)

// startServe runs "lethe serve" with args until the test ends; it returns
// the address it listens on. Its metrics listener takes a free port unless
// args say otherwise: tests never take the default port 9464.
func startServe(t *testing.T, env map[string]string, args ...string) (addr string, stderr *syncBuffer, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stderr = &syncBuffer{}
	done := make(chan error, 1)
	args = append([]string{"serve", "--metrics-addr", "127.0.0.1:0"}, args...) // a later --metrics-addr wins
	go func() {
		done <- run(ctx, args, &syncBuffer{}, stderr, func(k string) string { return env[k] })
	}()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m := addrLine.FindStringSubmatch(stderr.String()); m != nil {
			addr = m[1]
			break
		}
		select {
		case err := <-done:
			cancel()
			t.Fatalf("serve stopped: %v\n%s", err, stderr)
		case <-time.After(20 * time.Millisecond):
		}
	}
	if addr == "" {
		cancel()
		t.Fatalf("serve did not start:\n%s", stderr)
	}
	stopped := false
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(20 * time.Second):
			return errors.New("serve did not stop")
		}
	}
	t.Cleanup(func() { stop() })
	return addr, stderr, stop
}

func TestServe_DefaultDataFolderAndGeneratedToken(t *testing.T) {
	t.Chdir(t.TempDir())
	addr, stderr, stop := startServe(t, nil, "--addr", "127.0.0.1:0")
	res, err := http.Get("http://" + addr + "/healthz")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", res, err)
	}
	res.Body.Close()
	tok := regexp.MustCompile(`\n    (la_[a-z2-7]{32})\n`).FindStringSubmatch(stderr.String())
	if tok == nil {
		t.Fatalf("no admin token printed:\n%s", stderr)
	}
	req, _ := http.NewRequest("POST", "http://"+addr+"/v1/tenants", strings.NewReader(`{"id":"t1","packs":["chatbot"]}`))
	req.Header.Set("Authorization", "Bearer "+tok[1])
	res, err = http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 201 {
		t.Fatalf("create tenant with the printed token: %v %v", res, err)
	}
	res.Body.Close()
	if err := stop(); err != nil {
		t.Fatalf("graceful stop: %v", err)
	}
	fi, err := os.Stat(filepath.Join("lethe-data", "master.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	if fi, err := os.Stat(filepath.Join("lethe-data", "lethe.db")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("database file: %v %v", fi, err)
	}
	// A second start prints no new token: the first one stays valid.
	_, stderr, stop = startServe(t, nil, "--addr", "127.0.0.1:0")
	stop()
	if strings.Contains(stderr.String(), "Admin token") {
		t.Errorf("second start printed a token again")
	}
}

// hashFiles returns the SHA-256 of every file under dir.
func hashFiles(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[p] = sha256.Sum256(b)
		return nil
	})
	return out
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func TestServe_WrongOrMissingMasterKeyTouchesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	env := map[string]string{"LETHE_ADMIN_TOKEN": "a-long-enough-admin-token"}
	_, _, stop := startServe(t, env, "--data", dir, "--addr", "127.0.0.1:0")
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		prepare func(t *testing.T) []string
		want    string
	}{
		{"wrong key", func(t *testing.T) []string {
			p := filepath.Join(t.TempDir(), "wrong.key")
			if _, err := keyring.CreateKeyFile(p); err != nil {
				t.Fatal(err)
			}
			return []string{"--master-key-file", p}
		}, "was created with"},
		{"missing key", func(t *testing.T) []string {
			return []string{"--master-key-file", filepath.Join(t.TempDir(), "absent.key")}
		}, "not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			extra := tc.prepare(t)
			before := hashFiles(t, dir)
			addr := freeAddr(t)
			var stderr syncBuffer
			args := append([]string{"serve", "--data", dir, "--addr", addr}, extra...)
			err := run(context.Background(), args, &syncBuffer{}, &stderr, func(k string) string { return env[k] })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
			if code := exitCode(err); code != exitMasterKey {
				t.Errorf("exit code %d, want %d", code, exitMasterKey)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			if after := hashFiles(t, dir); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Errorf("data files changed:\nbefore %v\nafter  %v", before, after)
			}
			if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
				c.Close()
				t.Errorf("a port was opened at %s", addr)
			}
		})
	}
}

func TestPolicyCommands(t *testing.T) {
	good := filepath.Join(t.TempDir(), "app.yaml")
	os.WriteFile(good, []byte(`version: 1
name: app
collections:
  - name: tickets
    fields:
      - {name: email, type: string, subject: email}
      - {name: body, type: text, pii: true}
    rules:
      - {action: delete, basis: created_at, period: {default: 30d, options: [30d, 90d], max: 90d}}
`), 0o600)
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("version: 1\nname: app\ncollections:\n  - name: tickets\n    colour: red\n"), 0o600)
	for _, tc := range []struct {
		name     string
		args     []string
		wantErr  bool
		wantCode int
		wantOut  string
	}{
		{"check good", []string{"policy", "check", good}, false, 0, "ok (1 collections)"},
		{"check bad names the line", []string{"policy", "check", bad}, true, 3, "bad.yaml:5"},
		{"doc pack", []string{"policy", "doc", "--pack", "chatbot"}, false, 0, "live_chat_messages"},
		{"doc file", []string{"policy", "doc", "--file", good}, false, 0, "tickets"},
		{"doc unknown pack", []string{"policy", "doc", "--pack", "nope"}, true, 2, ""},
		{"unknown command", []string{"nope"}, true, 2, ""},
		{"sweep without data", []string{"sweep", "--data", filepath.Join(t.TempDir(), "none")}, true, 4, "no Lethe data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut syncBuffer
			err := run(context.Background(), tc.args, &out, &errOut, func(string) string { return "" })
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v\nstderr: %s", err, tc.wantErr, errOut.String())
			}
			if err != nil && exitCode(err) != tc.wantCode {
				t.Errorf("exit code %d, want %d (%v)", exitCode(err), tc.wantCode, err)
			}
			if all := out.String() + errOut.String() + fmt.Sprint(err); !strings.Contains(all, tc.wantOut) {
				t.Errorf("output lacks %q:\n%s", tc.wantOut, all)
			}
		})
	}
}

func TestSweepCommand_DryRunAndRun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	env := map[string]string{"LETHE_ADMIN_TOKEN": "a-long-enough-admin-token"}
	// The admin token writes the records here: a superuser, as the flag says.
	addr, _, stop := startServe(t, env, "--data", dir, "--addr", "127.0.0.1:0", "--sweep-interval", "0", "--admin-superuser")
	post := func(path, body string) {
		req, _ := http.NewRequest("POST", "http://"+addr+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer a-long-enough-admin-token")
		res, err := http.DefaultClient.Do(req)
		if err != nil || res.StatusCode != 201 {
			t.Fatalf("POST %s: %v %v", path, res, err)
		}
		res.Body.Close()
	}
	post("/v1/tenants", `{"id":"bot","packs":["chatbot"]}`)
	post("/v1/tenants/bot/collections/automated_chat_messages/records", `{"created_at":"2020-01-01T00:00:00Z","fields":{"message":"old"}}`)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	if err := run(context.Background(), []string{"sweep", "--data", dir, "--dry-run"}, &out, &syncBuffer{}, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`bot\s+automated_chat_messages\s+delete\s+2020-01-02\s+1`).MatchString(out.String()) {
		t.Fatalf("dry run:\n%s", out.String())
	}
	out = syncBuffer{}
	if err := run(context.Background(), []string{"sweep", "--data", dir}, &out, &syncBuffer{}, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "deleted 1,") {
		t.Fatalf("sweep:\n%s", out.String())
	}
}
