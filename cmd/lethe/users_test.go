package main

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// usersCLI runs the command line with the environment and stdin given.
func usersCLI(env map[string]string, stdin string, args ...string) (string, string, int) {
	var out, errOut syncBuffer
	root := args
	err := runWithStdin(root, &out, &errOut, strings.NewReader(stdin), func(k string) string { return env[k] })
	code := 0
	if err != nil {
		code = exitCode(err)
		errOut.Write([]byte(message(err)))
	}
	return out.String(), errOut.String(), code
}

func runWithStdin(args []string, out, errOut io.Writer, in io.Reader, getenv func(string) string) error {
	cmd := usersCmd(getenv)
	cmd.SetArgs(args)
	cmd.SetOut(out)
	cmd.SetErr(errOut)
	cmd.SetIn(in)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	return cmd.ExecuteContext(context.Background())
}

func TestUsersCommands_AddListRemove(t *testing.T) {
	dir := newDataDir(t)
	mustCLI(t, "tenants", "create", "shop", "--pack", "erp-marketplace", "--data", dir)
	pw := map[string]string{"LETHE_CONSOLE_PASSWORD": "correct horse battery"}
	if out, errOut, code := usersCLI(pw, "", "add", "Root", "--role", "admin", "--data", dir); code != 0 || !strings.Contains(out, "added console user root (admin)") {
		t.Fatalf("add admin: %d %q %q", code, out, errOut)
	}
	// The password from stdin when the variable is unset.
	if out, errOut, code := usersCLI(nil, "another long password\n", "add", "mia", "--role", "manager", "--tenant", "shop", "--data", dir); code != 0 || !strings.Contains(out, "manager of shop") {
		t.Fatalf("add manager: %d %q %q", code, out, errOut)
	}
	for _, tc := range []struct {
		name  string
		env   map[string]string
		stdin string
		args  []string
		code  int
	}{
		{"duplicate", pw, "", []string{"add", "mia", "--role", "auditor", "--tenant", "shop"}, exitInvalid},
		{"bad role", pw, "", []string{"add", "x", "--role", "owner", "--tenant", "shop"}, exitInvalid},
		{"manager without tenant", pw, "", []string{"add", "x", "--role", "manager"}, exitInvalid},
		{"admin with tenant", pw, "", []string{"add", "x", "--role", "admin", "--tenant", "shop"}, exitInvalid},
		{"unknown tenant", pw, "", []string{"add", "x", "--role", "auditor", "--tenant", "nope"}, exitNotFound},
		{"short password", map[string]string{"LETHE_CONSOLE_PASSWORD": "short"}, "", []string{"add", "x", "--role", "admin"}, exitUsage},
		{"no password", nil, "", []string{"add", "x", "--role", "admin"}, exitUsage},
		{"remove unknown", nil, "", []string{"remove", "ghost"}, exitNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code := usersCLI(tc.env, tc.stdin, append(tc.args, "--data", dir)...)
			if code != tc.code || errOut == "" || strings.Contains(errOut, "\n") {
				t.Fatalf("exit %d (want %d), message %q", code, tc.code, errOut)
			}
		})
	}
	out, _, code := usersCLI(nil, "", "list", "--json", "--data", dir)
	if code != 0 || !strings.Contains(out, `"name": "mia"`) || !strings.Contains(out, `"name": "root"`) || strings.Contains(out, "argon2") {
		t.Fatalf("list: %d\n%s", code, out)
	}
	if _, errOut, code := usersCLI(nil, "", "remove", "mia", "--data", dir); code != 0 {
		t.Fatalf("remove: %s", errOut)
	}
	out, _, _ = usersCLI(nil, "", "list", "--data", dir)
	if strings.Contains(out, "mia") || !strings.Contains(out, "root") {
		t.Fatalf("after remove:\n%s", out)
	}
	out, _ = mustCLI(t, "audit", "tail", "--tenant", "shop", "--log", "security", "--data", dir)
	if !strings.Contains(out, "console.user.add") || !strings.Contains(out, "console.user.remove") {
		t.Errorf("security log of shop:\n%s", out)
	}
}

// The console is served by lethe serve under /console/ and a user added
// with the CLI signs in there.
func TestServe_MountsConsole(t *testing.T) {
	dir := newDataDir(t)
	if _, errOut, code := usersCLI(map[string]string{"LETHE_CONSOLE_PASSWORD": "correct horse battery"}, "", "add", "root", "--role", "admin", "--data", dir); code != 0 {
		t.Fatal(errOut)
	}
	addr, _, stop := startServe(t, map[string]string{"LETHE_ADMIN_TOKEN": "a-long-enough-admin-token"}, "--data", dir, "--addr", "127.0.0.1:0", "--sweep-interval", "0")
	defer stop()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.Get("http://" + addr + "/console/login")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(string(b))
	if resp.StatusCode != 200 || m == nil {
		t.Fatalf("login page: %d\n%s", resp.StatusCode, b)
	}
	resp, err = c.PostForm("http://"+addr+"/console/login", url.Values{"csrf": {m[1]}, "user": {"root"}, "password": {"correct horse battery"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "Tenants") && !strings.Contains(string(b), "Dashboard") {
		t.Fatalf("after sign-in: %d\n%s", resp.StatusCode, b)
	}
	// The API is still where it was.
	if resp, err := http.Get("http://" + addr + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
}
