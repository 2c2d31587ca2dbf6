package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
)

func runKeysCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut syncBuffer
	err := run(context.Background(), args, &out, &errOut, func(string) string { return "" })
	return out.String(), err
}

// TestKeysCommands_RotateRewrapStatusDestroyWithAKeyFile walks the master
// key's life through the CLI: rotate (a second line in the key file) and
// rewrap, status per version, destroy of the old version, and a restart
// that reads the data. The key file as it was before the rotation is then
// refused, with nothing changed; a tenant's old data key may not go while
// values use it.
func TestKeysCommands_RotateRewrapStatusDestroyWithAKeyFile(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	func() {
		o, err := (&dataFlags{dir: dir}).open(ctx, true, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		defer o.Close()
		if _, err := o.eng.CreateTenant(ctx, "admin", "shop", []string{"erp-marketplace"}); err != nil {
			t.Fatal(err)
		}
		if _, err := o.eng.Put(ctx, "shop", "orders", []engine.NewRecord{{ID: "A-1", Fields: map[string]any{"email": "erika@example.com"}}}); err != nil {
			t.Fatal(err)
		}
	}()
	keyPath := filepath.Join(dir, "master.key")
	oldKey, _ := os.ReadFile(keyPath)

	if _, err := runKeysCLI(t, "keys", "rotate", "--master", "--tenant", "shop", "--data", dir); exitCode(err) != exitUsage {
		t.Fatalf("--master with --tenant: %v (exit %d), want usage", err, exitCode(err))
	}
	out, err := runKeysCLI(t, "keys", "rotate", "--master", "--data", dir)
	if err != nil {
		t.Fatal(err)
	}
	var job engine.RewrapJob
	if err := json.Unmarshal([]byte(out), &job); err != nil || job.State != engine.RewrapDone || job.Done != job.Total || job.Total < 4 {
		t.Fatalf("rotate --master: %s (%v)", out, err)
	}
	if lines := bytes.Count(mustRead(t, keyPath), []byte("\n")); lines != 2 {
		t.Fatalf("key file holds %d lines after rotation, want 2", lines)
	}
	out, err = runKeysCLI(t, "keys", "status", "--data", dir)
	if err != nil {
		t.Fatal(err)
	}
	var st engine.MasterKeyStatus
	if err := json.Unmarshal([]byte(out), &st); err != nil || len(st.Versions) != 2 || st.Versions[0].WrappedKeys != 0 || !st.Versions[1].Current || st.Versions[1].WrappedKeys < 4 {
		t.Fatalf("status: %s (%v)", out, err)
	}
	if _, err := runKeysCLI(t, "keys", "destroy", "--master", "--version", st.Versions[1].ID, "--data", dir); exitCode(err) != exitInvalid {
		t.Fatalf("destroy of the current version: %v", err)
	}
	if _, err := runKeysCLI(t, "keys", "destroy", "--master", "--version", st.Versions[0].ID, "--data", dir); err != nil {
		t.Fatal(err)
	}
	if lines := bytes.Count(mustRead(t, keyPath), []byte("\n")); lines != 1 {
		t.Fatalf("key file holds %d lines after destroy, want 1", lines)
	}

	// The tenant's data key: rotated without the rewrap, the old version
	// still seals A-1 and may not go.
	if _, err := runKeysCLI(t, "keys", "rotate", "--tenant", "shop", "--no-wait", "--data", dir); err != nil {
		t.Fatal(err)
	}
	_, err = runKeysCLI(t, "keys", "destroy", "--tenant", "shop", "--version", "1", "--data", dir)
	if exitCode(err) != exitInvalid || !strings.Contains(err.Error(), "still seals 1 record values") {
		t.Fatalf("destroy of a data key in use: %v", err)
	}
	if _, err := runKeysCLI(t, "keys", "rewrap", "--tenant", "shop", "--data", dir); err != nil {
		t.Fatal(err)
	}
	out, err = runKeysCLI(t, "keys", "status", "--tenant", "shop", "--data", dir)
	var ts engine.TenantKeyStatus
	if err != nil || json.Unmarshal([]byte(out), &ts) != nil || len(ts.Versions) != 2 || ts.Versions[0].Values != 0 || ts.Versions[1].Values != 1 {
		t.Fatalf("tenant status after rewrap: %s (%v)", out, err)
	}

	o, err := (&dataFlags{dir: dir}).open(ctx, false, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("restart on the rotated key: %v", err)
	}
	d, err := o.eng.Get(ctx, lethe.RecordRef{Tenant: "shop", Collection: "orders", ID: "A-1"})
	o.Close()
	if err != nil || d.Fields["email"] != "erika@example.com" {
		t.Fatalf("A-1 after the rotations: %v %v", d, err)
	}

	stale := filepath.Join(t.TempDir(), "before-rotation.key")
	if err := os.WriteFile(stale, oldKey, 0o600); err != nil {
		t.Fatal(err)
	}
	before := hashFiles(t, dir)
	_, err = runKeysCLI(t, "records", "get", "--tenant", "shop", "-c", "orders", "A-1", "--data", dir, "--master-key", "file://"+stale)
	if exitCode(err) != exitMasterKey {
		t.Fatalf("the key file from before the rotation: %v (exit %d), want %d", err, exitCode(err), exitMasterKey)
	}
	if after := hashFiles(t, dir); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatal("a refused start changed the data folder")
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
