package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe/backup"
	"github.com/lethe-privacy/lethe/backup/s3test"
)

// TestBackupS3_WholeFolderLostRestoresFromTheBucket runs the backup
// commands against an S3-compatible bucket on loopback: create, list and
// verify; then the data folder is lost but for the master key, and
// restore from the bucket brings the data back without the records
// erased between the two backups (the newest backup's erasure journal).
func TestBackupS3_WholeFolderLostRestoresFromTheBucket(t *testing.T) {
	s3 := s3test.Start(t, "lethe-backups")
	bucket := s3.URL("prod")
	dir := newDataDir(t)
	d := []string{"--data", dir, "--backups", bucket}
	mustCLI(t, "tenants", "create", "shop", "--pack", "erp-marketplace", "--data", dir)
	for i := 0; i < 6; i++ {
		mustCLI(t, "records", "put", "--tenant", "shop", "-c", "orders", "--id", fmt.Sprintf("R-%d", i), "--field", "name=Person "+fmt.Sprint(i), "--data", dir)
	}
	b1, _ := mustCLI(t, append([]string{"backup", "create", "--json"}, d...)...)
	var m1 backup.Manifest
	mustJSON(t, b1, &m1)
	for i := 0; i < 3; i++ {
		mustCLI(t, "records", "delete", fmt.Sprintf("R-%d", i), "--tenant", "shop", "-c", "orders", "--data", dir)
	}
	time.Sleep(2 * time.Millisecond) // backup ids are milliseconds
	mustCLI(t, append([]string{"backup", "create"}, d...)...)
	if out, _ := mustCLI(t, append([]string{"backup", "list"}, d...)...); !strings.Contains(out, m1.ID) {
		t.Fatalf("list: %q", out)
	}
	if out, _ := mustCLI(t, append([]string{"backup", "verify", m1.ID}, d...)...); !strings.Contains(out, m1.ID+" ok") {
		t.Fatalf("verify: %q", out)
	}
	key, err := os.ReadFile(filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(dir, 0o700)
	os.WriteFile(filepath.Join(dir, "master.key"), key, 0o600)
	mustCLI(t, append([]string{"backup", "restore", m1.ID}, d...)...)
	for i := 0; i < 6; i++ {
		_, stderr, code := reqCLI("records", "get", fmt.Sprintf("R-%d", i), "--tenant", "shop", "-c", "orders", "--data", dir)
		if wantGone := i < 3; wantGone != (code == exitNotFound) {
			t.Errorf("R-%d after a restore from the bucket: exit %d %s", i, code, stderr)
		}
	}
	// A bucket that does not exist: one line, exit 3, nothing written.
	_, stderr, code := reqCLI("backup", "create", "--data", dir, "--backups", strings.Replace(bucket, "s3://lethe-backups", "s3://no-such-bucket", 1))
	if code != exitInvalid || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Errorf("create into a missing bucket: exit %d %q", code, stderr)
	}
}

// serve --backup-every with --backups s3://...: each run writes to the
// bucket and prunes what is older than 60 days there.
func TestBackupS3_SchedulePrunesInTheBucket(t *testing.T) {
	s3 := s3test.Start(t, "lethe-backups")
	dir := newDataDir(t)
	df := dataFlags{dir: dir}
	o, err := df.open(context.Background(), false, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	bs := backupSchedule{every: 24 * time.Hour, dir: s3.URL(""), maxAge: backup.DefaultMaxAge}
	t0 := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	first, _, err := bs.run(context.Background(), o, df.dbPath(), func() time.Time { return t0 }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	_, gone, err := bs.run(context.Background(), o, df.dbPath(), func() time.Time { return t0.Add(backup.DefaultMaxAge + time.Hour) }, slog.New(slog.DiscardHandler))
	if err != nil || len(gone) != 1 || gone[0].ID != first.ID {
		t.Fatalf("second run pruned %v (%v), want %s", gone, err, first.ID)
	}
	list, err := backup.List(bs.dir)
	if err != nil || len(list) != 1 || list[0].ID == first.ID {
		t.Fatalf("bucket after the prune: %v %v", list, err)
	}
}
