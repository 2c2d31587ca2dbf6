package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A receipt fetched from a running server verifies with its tenant's
// published key alone, from a saved JWKS file and from the URL, with no
// data folder at hand (the --data given points nowhere); altered, it
// fails; an unreachable key URL is an unavailability, not "valid".
func TestRequestVerify_PublicKeyWithoutTheDataFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	env := map[string]string{"LETHE_ADMIN_TOKEN": "a-long-enough-admin-token"}
	addr, _, stop := startServe(t, env, "--data", dir, "--addr", "127.0.0.1:0", "--sweep-interval", "0", "--admin-superuser")
	call := func(method, path, body string) []byte {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer a-long-enough-admin-token")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode/100 != 2 {
			t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, b)
		}
		return b
	}
	call("POST", "/v1/tenants", `{"id":"shop","packs":["erp-marketplace"]}`)
	call("POST", "/v1/tenants/shop/collections/orders/records", `{"id":"o1","origin":"amazon","fields":{"name":"Erika","email":"erika@example.com"}}`)
	var job struct {
		ID    string `json:"id"`
		State string `json:"state"`
	}
	json.Unmarshal(call("POST", "/v1/tenants/shop/requests", `{"type":"erase","subject":{"email":"erika@example.com"}}`), &job)
	for deadline := time.Now().Add(30 * time.Second); job.State != "done"; {
		if time.Now().After(deadline) {
			t.Fatalf("job %s still %s", job.ID, job.State)
		}
		time.Sleep(100 * time.Millisecond)
		json.Unmarshal(call("GET", "/v1/tenants/shop/requests/"+job.ID, ""), &job)
	}
	tmp := t.TempDir()
	receipt := filepath.Join(tmp, "receipt.json")
	os.WriteFile(receipt, call("GET", "/v1/tenants/shop/requests/"+job.ID+"/receipt", ""), 0o600)
	keys := filepath.Join(tmp, "keys.json")
	res, err := http.Get("http://" + addr + "/v1/receipt-keys?tenant=shop") // no token
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	os.WriteFile(keys, b, 0o600)

	for _, src := range []string{keys, "http://" + addr + "/v1/receipt-keys"} {
		out, stderr, code := reqCLI("request", "verify", receipt, "--public-key", src)
		if code != 0 || !strings.HasPrefix(out, "valid: erase request "+job.ID+" of tenant shop") {
			t.Fatalf("verify --public-key %s: exit %d\n%s%s", src, code, out, stderr)
		}
	}
	if _, stderr, code := reqCLI("request", "verify", receipt, "--public-key", keys, "--data", dir); code != exitInvalid || !strings.Contains(stderr, "not both") {
		t.Fatalf("both flags: exit %d\n%s", code, stderr)
	}
	good, _ := os.ReadFile(receipt)
	altered := bytes.Replace(good, []byte(`"delete": 1`), []byte(`"delete": 2`), 1)
	if bytes.Equal(altered, good) {
		t.Fatalf("the test did not alter the receipt:\n%s", good)
	}
	os.WriteFile(receipt, altered, 0o600)
	if out, stderr, code := reqCLI("request", "verify", receipt, "--public-key", keys); code == 0 || strings.Contains(out, "valid") || !strings.Contains(stderr, "does not verify") {
		t.Fatalf("altered receipt: exit %d\n%s%s", code, out, stderr)
	}
	os.WriteFile(receipt, good, 0o600)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	// The data verifies the same receipt too, with the server gone.
	if out, stderr, code := reqCLI("request", "verify", receipt, "--data", dir); code != 0 || !strings.HasPrefix(out, "valid") {
		t.Fatalf("verify --data: exit %d\n%s%s", code, out, stderr)
	}
	if out, stderr, code := reqCLI("request", "verify", receipt, "--public-key", "http://"+addr+"/v1/receipt-keys"); code != exitUnavailable || strings.Contains(out, "valid") {
		t.Fatalf("server gone: exit %d\n%s%s", code, out, stderr)
	}
}
