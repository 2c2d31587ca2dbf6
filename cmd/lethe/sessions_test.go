package main

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// lethe serve itself serves the browser chat: the demo page and SDK from
// the binary, session tokens once the tenant has a lifetime, and the
// opening with the caller's address.
func TestServe_BrowserChatRoutes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	env := map[string]string{"LETHE_ADMIN_TOKEN": "a-long-enough-admin-token"}
	addr, _, _ := startServe(t, env, "--data", dir, "--addr", "127.0.0.1:0", "--sweep-interval", "0", "--admin-superuser")
	call := func(token, method, path, body string, want int) []byte {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != want {
			t.Fatalf("%s %s: %d, want %d: %s", method, path, res.StatusCode, want, b)
		}
		return b
	}
	const admin = "a-long-enough-admin-token"
	page := call("", "GET", "/demo/chat", "", 200)
	if !strings.Contains(string(page), `src="/demo/chat/demo.js"`) {
		t.Fatalf("demo page does not load the SDK: %.200s", page)
	}
	if js := call("", "GET", "/demo/chat/lethe-chat.js", "", 200); !strings.Contains(string(js), "export function createChat") {
		t.Fatal("the SDK served is not the module")
	}
	call(admin, "POST", "/v1/tenants", `{"id":"bot","packs":["chatbot","webchat"]}`, 201)
	call(admin, "POST", "/v1/tenants/bot/sessions", `{}`, 409) // lifetime 0: off
	call(admin, "PATCH", "/v1/tenants/bot", `{"session_lifetime":"14d"}`, 200)
	var m struct{ Token string }
	json.Unmarshal(call(admin, "POST", "/v1/tenants/bot/sessions", `{"variables":{"email":"kim@example.org"}}`, 201), &m)
	call("", "POST", "/v1/tenants/bot/sessions/open", `{"token":"`+m.Token+`"}`, 200)
	found := call(admin, "GET", "/v1/tenants/bot/subjects?ip_address=127.0.0.1", "", 200)
	if !strings.Contains(string(found), `"chat_openings"`) {
		t.Fatalf("no opening stored for 127.0.0.1: %s", found)
	}
}
