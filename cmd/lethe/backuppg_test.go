package main

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lethe-privacy/lethe/pgtest"
)

// pgTool finds a PostgreSQL client program of the server's version.
func pgTool(t *testing.T, name string) string {
	t.Helper()
	var dirs []string
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dirs = append(dirs, strings.TrimSpace(string(out)))
	}
	more, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	for _, d := range append(dirs, more...) {
		if p := filepath.Join(d, name); fileExists(p) {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if os.Getenv(pgtest.EnvRequire) == "1" || os.Getenv("CI") == "true" {
		t.Fatalf("%s not found", name)
	}
	t.Skipf("SKIPPED: %s not found", name)
	return ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// The PostgreSQL procedure of the README, run: pg_dump of a database in
// use, pg_restore into an empty one, and Lethe opens the copy with the
// same master key file and reads the record back.
func TestBackup_PostgresProcedureOfTheREADME(t *testing.T) {
	src, dst := pgtest.DSN(t), pgtest.DSN(t)
	dump, restore := pgTool(t, "pg_dump"), pgTool(t, "pg_restore")
	key := filepath.Join(t.TempDir(), "master.key")
	on := func(dsn string, args ...string) []string {
		return append(args, "--database-url", dsn, "--master-key-file", key)
	}
	df := dataFlags{dbURL: src, keyFile: key}
	o, err := df.open(context.Background(), true, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	o.Close()
	mustCLI(t, on(src, "tenants", "create", "shop", "--pack", "erp-marketplace")...)
	mustCLI(t, on(src, "records", "put", "--tenant", "shop", "-c", "orders", "--id", "PG-1", "--field", "name=Erika Dump")...)
	file := filepath.Join(t.TempDir(), "lethe.dump")
	if out, err := exec.Command(dump, "--format=custom", "--file", file, src).CombinedOutput(); err != nil {
		t.Fatalf("pg_dump: %v %s", err, out)
	}
	if out, err := exec.Command(restore, "--no-owner", "--dbname", dst, file).CombinedOutput(); err != nil {
		t.Fatalf("pg_restore: %v %s", err, out)
	}
	out, _ := mustCLI(t, on(dst, "records", "get", "PG-1", "--tenant", "shop", "-c", "orders", "--json")...)
	if !strings.Contains(out, "Erika Dump") {
		t.Fatalf("restored record: %s", out)
	}
	// The dump holds the sealed values only.
	b, _ := os.ReadFile(file)
	if strings.Contains(string(b), "Erika Dump") {
		t.Error("the dump holds the value in the clear")
	}
}
