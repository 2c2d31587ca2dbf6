package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// reqCLI runs the lethe command line and returns its output and exit code.
func reqCLI(args ...string) (string, string, int) {
	var out, errOut syncBuffer
	err := run(context.Background(), args, &out, &errOut, func(string) string { return "" })
	code := 0
	if err != nil {
		code = exitCode(err)
		errOut.Write([]byte(message(err)))
	}
	return out.String(), errOut.String(), code
}

func TestRequestCommand_EraseReceiptVerify(t *testing.T) {
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
	post("/v1/tenants", `{"id":"shop","packs":["erp-marketplace"]}`)
	post("/v1/tenants/shop/collections/orders/records", `{"id":"o1","origin":"amazon","fields":{"name":"Erika","email":"erika@example.com","kundennummer":"K-1"}}`)
	post("/v1/tenants/shop/collections/archived_documents/records", `{"id":"d1","fields":{"belegart":"rechnung","kundennummer":"K-1","document":"JVBERi0="}}`)
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	out, stderr, code := reqCLI("request", "create", "--data", dir, "--tenant", "shop", "--type", "erase", "--subject", "customer_id=K-1")
	if code != 0 {
		t.Fatalf("create: exit %d\n%s", code, stderr)
	}
	var job struct {
		ID     string                      `json:"id"`
		State  string                      `json:"state"`
		Counts map[string]map[string]int64 `json:"counts"`
	}
	if err := json.Unmarshal([]byte(out), &job); err != nil {
		t.Fatalf("create output: %v\n%s", err, out)
	}
	if job.State != "done" || job.Counts["orders"]["delete"] != 1 || job.Counts["archived_documents"]["hold"] != 1 {
		t.Fatalf("job: %s", out)
	}
	receipt := filepath.Join(t.TempDir(), "receipt.json")
	if _, stderr, code := reqCLI("request", "receipt", job.ID, "--data", dir, "--tenant", "shop", "-o", receipt); code != 0 {
		t.Fatalf("receipt: exit %d\n%s", code, stderr)
	}
	out, stderr, code = reqCLI("request", "verify", receipt, "--data", dir)
	if code != 0 || !strings.HasPrefix(out, "valid") {
		t.Fatalf("verify: exit %d\n%s%s", code, out, stderr)
	}
	b, _ := os.ReadFile(receipt)
	altered := bytes.Replace(b, []byte(`\"delete\":1`), []byte(`\"delete\":0`), 1)
	altered = bytes.Replace(altered, []byte(`"delete": 1`), []byte(`"delete": 0`), 1)
	if bytes.Equal(altered, b) {
		t.Fatalf("the test did not alter the receipt:\n%s", b)
	}
	os.WriteFile(receipt, altered, 0o600)
	out, stderr, code = reqCLI("request", "verify", receipt, "--data", dir)
	if code == 0 || strings.Contains(out, "valid") || !strings.Contains(stderr, "does not verify") {
		t.Fatalf("altered receipt: exit %d\n%s%s", code, out, stderr)
	}
	// Bad input exits 3 and names the problem.
	if _, stderr, code := reqCLI("request", "create", "--data", dir, "--tenant", "shop", "--type", "shred", "--all"); code != exitInvalid || !strings.Contains(stderr, "type") {
		t.Fatalf("bad type: exit %d\n%s", code, stderr)
	}
}
