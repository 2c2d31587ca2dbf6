package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/backup"
	"github.com/lethe-privacy/lethe/backup/s3test"
	"github.com/lethe-privacy/lethe/engine"
	"github.com/lethe-privacy/lethe/keyring/kmstest"
)

// TestAWSKMS_StartRefusalsRotateToAnotherKeyAndRestart runs a data folder
// on a key of a real AWS KMS emulator: another key of the same service, a
// key the service does not hold, an unreachable service and a key file
// each refuse the start with the exit code that says retry (5) or fix the
// key (6), and change no byte. "keys rotate --master --to" then moves
// every wrapped key to a second KMS key, the rewrap resuming in a run that
// names only the new key; the data reads after a restart on
// that key, and the first key's URL is refused from then on.
func TestAWSKMS_StartRefusalsRotateToAnotherKeyAndRestart(t *testing.T) {
	kms := kmstest.Start(t, 2)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	func() {
		o, err := (&dataFlags{dir: dir, masterKey: kms.URL(0)}).open(ctx, true, slog.New(slog.DiscardHandler))
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
	if keys, _ := filepath.Glob(filepath.Join(dir, "master.key*")); len(keys) != 0 {
		t.Fatalf("a key file was written beside KMS data: %v", keys)
	}
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := free.Addr().String()
	free.Close()
	cli := func(key string, args ...string) (string, error) {
		var out, errOut syncBuffer
		env := map[string]string{"LETHE_MASTER_KEY": key}
		err := run(ctx, append(args, "--data", dir), &out, &errOut, func(k string) string { return env[k] })
		return out.String(), err
	}
	get := []string{"records", "get", "--tenant", "shop", "-c", "orders", "A-1"}
	for _, tc := range []struct {
		name, key string
		wantCode  int
		want      string
	}{
		{"another key of the service", kms.URL(1), exitMasterKey, "was created with"},
		{"a key the service does not hold", strings.Replace(kms.URL(0), kms.Keys[0], "00000000-0000-4000-8000-000000000000", 1), exitMasterKey, "wrong master key"},
		{"unreachable service", strings.Replace(kms.URL(0), kms.Endpoint, "http://"+closed, 1), exitUnavailable, "unreachable"},
		{"a key file instead", "file://" + newKeyFile(t), exitMasterKey, "was created with"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := hashFiles(t, dir)
			_, err := cli(tc.key, get...)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "nothing was changed") {
				t.Fatalf("err = %v, want one containing %q and \"nothing was changed\"", err, tc.want)
			}
			if code := exitCode(err); code != tc.wantCode {
				t.Errorf("exit code %d, want %d (%v)", code, tc.wantCode, err)
			}
			if after := hashFiles(t, dir); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Errorf("data files changed:\nbefore %v\nafter  %v", before, after)
			}
		})
	}

	if _, err := cli(kms.URL(0), "keys", "rotate", "--master"); exitCode(err) != exitInvalid || !strings.Contains(err.Error(), "--to") {
		t.Fatalf("rotate --master on a KMS key without --to: %v (exit %d)", err, exitCode(err))
	}
	if _, err := cli(kms.URL(0), "keys", "rotate", "--tenant", "shop", "--to", kms.URL(1)); exitCode(err) != exitUsage {
		t.Fatalf("--to with --tenant: %v", err)
	}
	// Rotated without the rewrap, as a rotation stopped right after it:
	// the rewrap resumes in a later run that names the new key only.
	if _, err := cli(kms.URL(0), "keys", "rotate", "--master", "--no-wait", "--to", kms.URL(1)); err != nil {
		t.Fatal(err)
	}
	out, err := cli(kms.URL(1), "keys", "rewrap", "--master")
	if err != nil {
		t.Fatal(err)
	}
	var job engine.RewrapJob
	if err := json.Unmarshal([]byte(out), &job); err != nil || job.State != engine.RewrapDone || job.Done != job.Total || job.Total < 4 {
		t.Fatalf("rotate --master --to: %s (%v)", out, err)
	}
	out, err = cli(kms.URL(1), "keys", "status")
	var st engine.MasterKeyStatus
	if err != nil || json.Unmarshal([]byte(out), &st) != nil {
		t.Fatalf("status: %s (%v)", out, err)
	}
	newID := "awskms:" + kms.Keys[1]
	for _, v := range st.Versions {
		if (v.ID == newID) != (v.WrappedKeys > 0) || (v.ID == newID) != v.Current {
			t.Fatalf("status after the move: %s", out)
		}
	}
	out, err = cli(kms.URL(1), get...)
	if err != nil || !strings.Contains(out, "erika@example.com") {
		t.Fatalf("A-1 after a restart on the new key: %s (%v)", out, err)
	}
	o, err := (&dataFlags{dir: dir, masterKey: kms.URL(1)}).open(ctx, false, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	d, err := o.eng.Get(ctx, lethe.RecordRef{Tenant: "shop", Collection: "orders", ID: "A-1"})
	o.Close()
	if err != nil || d.Fields["email"] != "erika@example.com" {
		t.Fatalf("A-1 through the engine: %v %v", d, err)
	}
	before := hashFiles(t, dir)
	if _, err := cli(kms.URL(0), get...); exitCode(err) != exitMasterKey {
		t.Fatalf("the old key after the move: %v (exit %d)", err, exitCode(err))
	}
	if after := hashFiles(t, dir); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatal("a refused start changed the data folder")
	}
}

// TestAWSKMS_BackupToABucketAndRestore: with the master key in AWS KMS
// and the backups in an S3-compatible bucket, a backup is made, verified
// and restored into an empty folder with nothing on disk but what the
// restore writes; the restored data reads with the KMS key alone, and a
// backup is refused under another KMS key.
func TestAWSKMS_BackupToABucketAndRestore(t *testing.T) {
	kms := kmstest.Start(t, 2)
	s3 := s3test.Start(t, "lethe-backups")
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	func() {
		o, err := (&dataFlags{dir: dir, masterKey: kms.URL(0)}).open(ctx, true, slog.New(slog.DiscardHandler))
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
	cli := func(key, data string, args ...string) (string, error) {
		var out, errOut syncBuffer
		env := map[string]string{"LETHE_MASTER_KEY": key, "LETHE_BACKUPS": s3.URL("kms")}
		err := run(ctx, append(args, "--data", data), &out, &errOut, func(k string) string { return env[k] })
		return out.String(), err
	}
	out, err := cli(kms.URL(0), dir, "backup", "create", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var m backup.Manifest
	mustJSON(t, out, &m)
	if m.KEKID != "awskms:"+kms.Keys[0] {
		t.Fatalf("backup key wrapped by %q", m.KEKID)
	}
	if _, err := cli(kms.URL(1), dir, "backup", "create"); exitCode(err) != exitMasterKey {
		t.Fatalf("backup under another KMS key: %v (exit %d)", err, exitCode(err))
	}
	if out, err := cli(kms.URL(0), dir, "backup", "verify", m.ID); err != nil || !strings.Contains(out, m.ID+" ok") {
		t.Fatalf("verify: %q %v", out, err)
	}
	target := filepath.Join(t.TempDir(), "restored")
	if _, err := cli(kms.URL(0), target, "backup", "restore", m.ID); err != nil {
		t.Fatal(err)
	}
	if keys, _ := filepath.Glob(filepath.Join(target, "master.key*")); len(keys) != 0 {
		t.Fatalf("a key file was written: %v", keys)
	}
	if out, err := cli(kms.URL(0), target, "records", "get", "--tenant", "shop", "-c", "orders", "A-1"); err != nil || !strings.Contains(out, "erika@example.com") {
		t.Fatalf("A-1 after the restore: %q %v", out, err)
	}
}
