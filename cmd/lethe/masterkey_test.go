package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe/keyring"
	"github.com/lethe-privacy/lethe/keyring/transittest"
)

func getReadyz(t *testing.T, addr string) map[string]string {
	t.Helper()
	res, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]string
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil || res.StatusCode != 200 {
		t.Fatalf("readyz: %d %v", res.StatusCode, err)
	}
	return body
}

// TestServe_WrongOrUnreachableKMSRefusesAndTouchesNothing: data made with a
// Vault transit key starts again only with that key. Another Vault with a
// key of the same name, a refused token, a sealed or unreachable Vault
// and a key file each stop the start with a one-line message and the exit
// code that says whether to retry (5) or fix the key (6): no byte of the
// data folder changes and no port opens. While serving, /readyz reports a
// Vault that stops answering.
func TestServe_WrongOrUnreachableKMSRefusesAndTouchesNothing(t *testing.T) {
	srv := transittest.New(true)
	defer srv.Close()
	url, err := srv.URL(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "data")
	env := map[string]string{"LETHE_ADMIN_TOKEN": "a-long-enough-admin-token", "VAULT_TOKEN": srv.Token, "LETHE_MASTER_KEY": url}
	addr, _, stop := startServe(t, env, "--data", dir, "--addr", "127.0.0.1:0")
	if got := getReadyz(t, addr); got["master_key"] != "ok" {
		t.Fatalf("readyz: %v", got)
	}
	srv.Seal()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := getReadyz(t, addr)
		if got["master_key"] == "unreachable" && got["status"] == "ready" && got["master_key_since"] != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz with Vault sealed: %v", got)
		}
		time.Sleep(200 * time.Millisecond)
	}
	srv.Unseal()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if entries, _ := filepath.Glob(filepath.Join(dir, "master.key*")); len(entries) != 0 {
		t.Fatalf("a key file was written beside Vault data: %v", entries)
	}

	other := transittest.New(true)
	defer other.Close()
	otherURL, _ := other.URL(t.TempDir())
	gone := transittest.New(true)
	goneURL, _ := gone.URL(t.TempDir())
	gone.Close()

	for _, tc := range []struct {
		name     string
		env      map[string]string
		sealed   bool
		wantCode int
		want     string
	}{
		{"another Vault, same key name", map[string]string{"LETHE_MASTER_KEY": otherURL, "VAULT_TOKEN": other.Token}, false, exitMasterKey, "wrong master key"},
		{"refused token", map[string]string{"VAULT_TOKEN": "not-the-token"}, false, exitMasterKey, "refused the token"},
		{"sealed", nil, true, exitUnavailable, "503"},
		{"unreachable", map[string]string{"LETHE_MASTER_KEY": goneURL}, false, exitUnavailable, "unreachable"},
		{"a key file instead", map[string]string{"LETHE_MASTER_KEY": "file://" + newKeyFile(t)}, false, exitMasterKey, "was created with"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := map[string]string{}
			for k, v := range env {
				e[k] = v
			}
			for k, v := range tc.env {
				e[k] = v
			}
			if tc.sealed {
				srv.Seal()
				defer srv.Unseal()
			}
			before := hashFiles(t, dir)
			a := freeAddr(t)
			err := run(context.Background(), []string{"serve", "--data", dir, "--addr", a, "--metrics-addr", "off"}, &syncBuffer{}, &syncBuffer{}, func(k string) string { return e[k] })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
			if code := exitCode(err); code != tc.wantCode {
				t.Errorf("exit code %d, want %d (%v)", code, tc.wantCode, err)
			}
			if msg := message(err); strings.Contains(msg, srv.Token) || strings.Contains(msg, other.Token) {
				t.Errorf("message carries a token: %s", msg)
			}
			if !strings.Contains(err.Error(), "nothing was changed") {
				t.Errorf("message does not say nothing changed: %v", err)
			}
			if after := hashFiles(t, dir); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Errorf("data files changed:\nbefore %v\nafter  %v", before, after)
			}
			if c, err := net.DialTimeout("tcp", a, 200*time.Millisecond); err == nil {
				c.Close()
				t.Errorf("a port was opened at %s", a)
			}
		})
	}
	// And the right key still opens it.
	_, _, stop = startServe(t, env, "--data", dir, "--addr", "127.0.0.1:0")
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func newKeyFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "other.key")
	if _, err := keyring.CreateKeyFile(p); err != nil {
		t.Fatal(err)
	}
	return p
}
