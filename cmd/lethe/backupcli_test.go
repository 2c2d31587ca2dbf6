package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe/backup"
	"github.com/lethe-privacy/lethe/keyring"
)

// The schedule of serve --backup-every: each run takes a backup and
// prunes those older than the age limit, here 60 days by a clock the test
// moves.
func TestBackupSchedule_PrunesAtSixtyDays(t *testing.T) {
	dir := newDataDir(t)
	df := dataFlags{dir: dir}
	o, err := df.open(context.Background(), false, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	bs := backupSchedule{every: 24 * time.Hour, dir: filepath.Join(t.TempDir(), "b"), maxAge: backup.DefaultMaxAge}
	t0 := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	var first string
	for _, c := range []struct {
		at    time.Time
		gone  int
		count int
	}{
		{t0, 0, 1},
		{t0.AddDate(0, 0, 30), 0, 2},
		{t0.Add(backup.DefaultMaxAge), 0, 3},             // the first is exactly 60 days old: kept
		{t0.Add(backup.DefaultMaxAge + time.Hour), 1, 3}, // now older: pruned
		{t0.AddDate(0, 0, 90).Add(time.Minute), 1, 3},    // the 30-day one goes at 90 days
	} {
		at := c.at
		m, gone, err := bs.run(context.Background(), o, df.dbPath(), func() time.Time { return at }, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatalf("at %s: %v", at, err)
		}
		if first == "" {
			first = m.ID
		}
		if len(gone) != c.gone {
			t.Errorf("at %s pruned %d, want %d", at, len(gone), c.gone)
		}
		list, _ := backup.List(bs.dir)
		if len(list) != c.count {
			t.Errorf("at %s %d backups, want %d", at, len(list), c.count)
		}
	}
	if _, err := os.Stat(filepath.Join(bs.dir, first)); !os.IsNotExist(err) {
		t.Errorf("the 60-day-old backup %s is still there", first)
	}
	// Each backup holds the erasure journal, and each is audited.
	list, _ := backup.List(bs.dir)
	names := map[string]bool{}
	for _, f := range list[0].Files {
		names[f.Name] = true
	}
	if !names["lethe.db"] || !names["lethe-manager-log.db"] || !names["lethe-erasures.journal"] {
		t.Errorf("backup files: %v", names)
	}
}

// The command line: one-line errors with the right exit code, and the
// happy path through create, list, verify and prune.
func TestBackupCLI_CommandsAndErrors(t *testing.T) {
	dir := newDataDir(t)
	backups := filepath.Join(t.TempDir(), "b")
	env := map[string]string{"LETHE_DATA": dir, "LETHE_BACKUPS": backups}
	out, err := runCLI(t, env, "backup", "create", "--json")
	if err != nil {
		t.Fatalf("create: %v %s", err, out)
	}
	var m backup.Manifest
	if err := json.Unmarshal([]byte(out), &m); err != nil || m.ID == "" {
		t.Fatalf("create --json: %v %q", err, out)
	}
	if out, err := runCLI(t, env, "backup", "list"); err != nil || !strings.Contains(out, m.ID) {
		t.Fatalf("list: %v %q", err, out)
	}
	if out, err := runCLI(t, env, "backup", "verify", "latest"); err != nil || !strings.Contains(out, m.ID+" ok") {
		t.Fatalf("verify: %v %q", err, out)
	}
	enc := filepath.Join(backups, m.ID, "lethe.db.enc")
	orig, _ := os.ReadFile(enc)
	bad := append([]byte(nil), orig...)
	bad[len(bad)-1] ^= 0xff
	os.WriteFile(enc, bad, 0o600)
	otherKey := filepath.Join(t.TempDir(), "other.key")
	cases := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"tampered backup", []string{"backup", "verify", m.ID}, exitFailure, "does not match the manifest"},
		{"unknown backup", []string{"backup", "verify", "20200101T000000.000Z"}, exitNotFound, "no backup"},
		{"path as id", []string{"backup", "verify", "../x"}, exitInvalid, "backup id"},
		{"restore over data", []string{"backup", "restore", m.ID}, exitInvalid, "already holds lethe.db"},
		{"no age", []string{"backup", "prune", "--older-than", "0s"}, exitUsage, "--older-than"},
		{"postgres", []string{"backup", "create", "--database-url", "postgres://x@127.0.0.1:1/x"}, exitInvalid, "pg_dump"},
		{"serve postgres", []string{"serve", "--backup-every", "1d", "--database-url", "postgres://x@127.0.0.1:1/x"}, exitUsage, "pg_dump"},
		{"missing arg", []string{"backup", "restore"}, exitUsage, "accepts 1 arg"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := runCLI(t, env, c.args...)
			if err == nil || exitCode(err) != c.code || !strings.Contains(message(err), c.msg) || strings.Contains(message(err), "\n") {
				t.Fatalf("%v: code %d %v, want %d and %q", c.args, exitCode(err), err, c.code, c.msg)
			}
		})
	}
	os.WriteFile(enc, orig, 0o600)
	// A master key of another data folder does not open the backup.
	if err := os.WriteFile(otherKey, []byte(strings.Repeat("ab", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(t.TempDir(), "restored")
	_, err = runCLI(t, map[string]string{"LETHE_DATA": target, "LETHE_BACKUPS": backups, "LETHE_MASTER_KEY_FILE": otherKey}, "backup", "restore", m.ID)
	if exitCode(err) != exitMasterKey || !errors.Is(err, keyring.ErrWrongMasterKey) {
		t.Fatalf("restore with another key: code %d %v", exitCode(err), err)
	}
	if ents, _ := os.ReadDir(target); len(ents) != 0 {
		t.Errorf("refused restore left %d files", len(ents))
	}
	// Restore with the right key, then a start replays and removes the marker.
	os.MkdirAll(target, 0o700)
	key, _ := os.ReadFile(filepath.Join(dir, "master.key"))
	os.WriteFile(filepath.Join(target, "master.key"), key, 0o600)
	if out, err := runCLI(t, map[string]string{"LETHE_DATA": target, "LETHE_BACKUPS": backups}, "backup", "restore", m.ID); err != nil {
		t.Fatalf("restore: %v %s", err, out)
	}
	if out, err := runCLI(t, map[string]string{"LETHE_DATA": target}, "tenants", "list"); err != nil {
		t.Fatalf("start after restore: %v %s", err, out)
	}
	if _, err := os.Stat(filepath.Join(target, backup.RestoredName)); !os.IsNotExist(err) {
		t.Errorf("marker left: %v", err)
	}
	if out, err := runCLI(t, env, "backup", "prune", "--dry-run", "--older-than", "1s", "--json"); err != nil || strings.Contains(out, m.ID) {
		t.Fatalf("prune of a new backup: %v %s", err, out)
	}
	if out, _ := runCLI(t, env, "backup", "--help"); !strings.Contains(out, "erasure journal") {
		t.Errorf("backup --help: %s", out)
	}
}

// The whole data folder is lost, the erasure journal with it: restoring
// an older backup takes the journal of the newest backup, so the
// deletions between the two backups stay done.
func TestBackupRestore_WholeFolderLostTakesTheNewestJournal(t *testing.T) {
	dir := newDataDir(t)
	backups := filepath.Join(t.TempDir(), "b")
	d := []string{"--data", dir}
	mustCLI(t, append([]string{"tenants", "create", "shop", "--pack", "erp-marketplace"}, d...)...)
	for i := 0; i < 6; i++ {
		mustCLI(t, append([]string{"records", "put", "--tenant", "shop", "-c", "orders", "--id", fmt.Sprintf("R-%d", i), "--field", "name=Person " + fmt.Sprint(i)}, d...)...)
	}
	b1, _ := mustCLI(t, append([]string{"backup", "create", "--backups", backups, "--json"}, d...)...)
	for i := 0; i < 3; i++ {
		mustCLI(t, append([]string{"records", "delete", fmt.Sprintf("R-%d", i), "--tenant", "shop", "-c", "orders"}, d...)...)
	}
	time.Sleep(2 * time.Millisecond) // backup ids are milliseconds
	mustCLI(t, append([]string{"backup", "create", "--backups", backups}, d...)...)
	var m1 backup.Manifest
	mustJSON(t, b1, &m1)
	key, err := os.ReadFile(filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(dir, 0o700)
	os.WriteFile(filepath.Join(dir, "master.key"), key, 0o600)
	mustCLI(t, append([]string{"backup", "restore", m1.ID, "--backups", backups}, d...)...)
	for i := 0; i < 6; i++ {
		_, stderr, code := reqCLI(append([]string{"records", "get", fmt.Sprintf("R-%d", i), "--tenant", "shop", "-c", "orders"}, d...)...)
		if wantGone := i < 3; wantGone != (code == exitNotFound) {
			t.Errorf("R-%d after restore: exit %d %s", i, code, stderr)
		}
	}
}
