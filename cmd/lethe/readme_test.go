package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// readmeSession returns the shell lines of the README's "A first session",
// the commands a new user copies first.
func readmeSession(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "\n## A first session\n")
	if !ok {
		t.Fatal(`README has no "## A first session"`)
	}
	section, _, _ := strings.Cut(rest, "\n## ")
	var lines []string
	for _, l := range strings.Split(section, "\n") {
		if code, ok := strings.CutPrefix(l, "    "); ok {
			lines = append(lines, code)
		}
	}
	if len(lines) < 10 {
		t.Fatalf("the first session has %d lines of commands", len(lines))
	}
	return strings.Join(lines, "\n")
}

// TestREADME_FirstSessionRuns runs the README's first session as written,
// with curl and jq against a real server, on whatever date the test runs:
// every request must succeed, and the subject lookup must find the order.
func TestREADME_FirstSessionRuns(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is not installed; .ci/run installs it", tool)
			}
			t.Skipf("SKIPPED: %s is not installed, so the README's first session cannot run", tool)
		}
	}
	const token = "la_readmereadmereadmereadmereadmer"
	script := readmeSession(t)
	t.Chdir(t.TempDir())
	addr, _, _ := startServe(t, map[string]string{"LETHE_ADMIN_TOKEN": token}, "--addr", "127.0.0.1:0")

	script = strings.Replace(script, "export T=<the admin token>", "export T="+token, 1)
	if strings.Contains(script, "<") && strings.Contains(script, "the admin token") {
		t.Fatal("the README's token line changed; update this test")
	}
	script = strings.ReplaceAll(script, "localhost:8080", addr)
	// The revoke line names a placeholder: the prefix listed just before.
	script = strings.ReplaceAll(script, "/keys/PREFIX", `/keys/$(command curl -s -H "Authorization: Bearer $T" `+addr+`/v1/tenants/shop/keys | jq -r '.keys[0].prefix')`)
	// Every request must succeed: curl exits non-zero on an HTTP error.
	prelude := "set -euo pipefail\ncurl() { command curl --fail-with-body \"$@\"; echo; }\n"
	cmd := exec.Command("bash", "-c", prelude+script)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the first session failed: %v\n%s", err, out)
	}
	for _, want := range []string{`"id":"A-1"`, `"dry_run":true`, `"revoked":`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the session's output lacks %s:\n%s", want, out)
		}
	}
}
