package engine_test

import (
	"bufio"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/pgtest"
	"github.com/lethe-privacy/lethe/postgres"
	"github.com/lethe-privacy/lethe/sqlite"
)

// The engine's tests run on SQLite, and once more on PostgreSQL: the
// parent test below re-executes this test binary with envStore set, and
// newTestEnv then opens a PostgreSQL store on a fresh database instead of
// a SQLite file. The same tests, not a copy of them, so that both stores
// are held to one behaviour.

// envStore selects the store newTestEnv opens; "postgres" picks a fresh
// PostgreSQL database per test (from pgtest), anything else SQLite.
const envStore = "LETHE_TEST_STORE"

// postgresSuite names the tests that run again on PostgreSQL: every test
// built on newTestEnv (records, subjects, tenants, sweeps, settings,
// statistics) or reqNewEnv (requests, restarts included). The audit tests
// scan the SQLite files and edit rows with SQLite's SQL (audNewEnv) and do
// not run there; audit chains on PostgreSQL are covered by the postgres
// package's conformance and concurrency tests.
const postgresSuite = `^(TestPut_|TestPatch_|TestDelete_|TestFindSubject_|TestTenants_|TestSweep_|TestSettings_|TestStats_|TestRequest_|TestKeyRotation_)`

// notOnPostgres are tests of postgresSuite left out on PostgreSQL, each
// with the reason, printed by every run. Keep it short: a test belongs
// here only while the stores knowingly differ.
var notOnPostgres = map[string]string{}

func TestMain(m *testing.M) { pgtest.Main(m) }

// onPostgres reports whether this process runs the suite on PostgreSQL.
func onPostgres() bool { return os.Getenv(envStore) == "postgres" }

// openTestStore opens the store a test environment runs on, closed by
// the environment's cleanup.
// testStoreLocation returns where a test's store lives: a new SQLite file,
// or in the PostgreSQL run a new database's URL. openStoreAt opens it, as
// often as a test restarts.
func testStoreLocation(t testing.TB) string {
	t.Helper()
	if !onPostgres() {
		return filepath.Join(t.TempDir(), "lethe.db")
	}
	return pgtest.DSNFrom(t, "engine", func(ctx context.Context, dsn string) error {
		st, err := postgres.Open(ctx, dsn, postgres.Options{})
		if err != nil {
			return err
		}
		return st.Close()
	})
}

// openStoreAt opens the store at a location from testStoreLocation.
func openStoreAt(ctx context.Context, loc string, now func() time.Time) (lethe.Store, error) {
	if strings.HasPrefix(loc, "postgres://") || strings.HasPrefix(loc, "postgresql://") {
		return postgres.Open(ctx, loc, postgres.Options{Now: now, MaxConns: 8})
	}
	return sqlite.Open(ctx, loc, sqlite.Options{Now: now})
}

// copyStoreLocation copies a closed store to a new location: the file for
// SQLite, CREATE DATABASE ... TEMPLATE for PostgreSQL.
func copyStoreLocation(t testing.TB, loc string) string {
	t.Helper()
	if !strings.HasPrefix(loc, "postgres") {
		data, err := os.ReadFile(loc)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(t.TempDir(), "lethe.db")
		if err := os.WriteFile(dst, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return dst
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	src := strings.TrimPrefix(u.Path, "/")
	dst := src + "_copy"
	admin := *u
	admin.Path = "/postgres"
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{dst}.Sanitize()+" TEMPLATE "+pgx.Identifier{src}.Sanitize()); err != nil {
		t.Fatalf("copy database %s: %v", src, err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(ctx, admin.String())
		if err != nil {
			return
		}
		defer c.Close(ctx)
		c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{dst}.Sanitize()+" WITH (FORCE)")
	})
	u.Path = "/" + dst
	return u.String()
}

func openTestStore(t *testing.T, now func() time.Time) lethe.Store {
	t.Helper()
	ctx := context.Background()
	if !onPostgres() {
		st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "lethe.db"), sqlite.Options{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	// A copy of a migrated template is quicker than migrating each
	// database.
	dsn := pgtest.DSNFrom(t, "engine", func(ctx context.Context, dsn string) error {
		st, err := postgres.Open(ctx, dsn, postgres.Options{})
		if err != nil {
			return err
		}
		return st.Close()
	})
	st, err := postgres.Open(ctx, dsn, postgres.Options{Now: now, MaxConns: 8})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestEngineSuite_RunsOnPostgres runs postgresSuite in a child process on
// PostgreSQL and fails when any of it fails.
func TestEngineSuite_RunsOnPostgres(t *testing.T) {
	if onPostgres() {
		t.Skip("this process is the PostgreSQL run")
	}
	// The child creates its databases through a database of the parent's
	// server: one throwaway server for both processes.
	admin := pgtest.DSN(t)
	args := []string{"-test.run", postgresSuite, "-test.count", "1", "-test.v", "-test.timeout", "10m"}
	if len(notOnPostgres) > 0 {
		var names []string
		for name, why := range notOnPostgres {
			names = append(names, regexp.QuoteMeta(name))
			t.Logf("not run on PostgreSQL: %s: %s", name, why)
		}
		sort.Strings(names)
		args = append(args, "-test.skip", "^("+strings.Join(names, "|")+")$")
	}
	// Always the short sizes: the suite proves the same behaviour on the
	// second store; the large runs (a 100,000-record request restarted in
	// the middle) are measured on SQLite, and LETHE_LONG=1 runs them here
	// too.
	if testing.Short() || os.Getenv("LETHE_LONG") == "" {
		args = append(args, "-test.short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(os.Environ(), envStore+"=postgres", pgtest.EnvURL+"="+admin)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	took := time.Since(start)
	sum := summarize(string(out))
	t.Logf("engine suite on PostgreSQL: %d passed, %d skipped, %d failed in %s",
		len(sum.passed), len(sum.skipped), len(sum.failed), took.Round(time.Millisecond))
	for _, s := range sum.skipped {
		t.Logf("skipped on PostgreSQL: %s", s)
	}
	if err != nil || len(sum.failed) > 0 || len(sum.passed) == 0 {
		t.Fatalf("engine suite on PostgreSQL failed (%v): %s\n%s", err, strings.Join(sum.failed, ", "), out)
	}
}

// suiteSummary is what a child's -test.v output says about its top-level
// tests.
type suiteSummary struct {
	passed, skipped, failed []string
}

// summarize reads the top-level "--- PASS/SKIP/FAIL" lines; a skip keeps
// its reason (the next line).
func summarize(out string) suiteSummary {
	var s suiteSummary
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	pendingSkip := ""
	for sc.Scan() {
		line := sc.Text()
		if pendingSkip != "" {
			s.skipped = append(s.skipped, fmt.Sprintf("%s (%s)", pendingSkip, strings.TrimSpace(line)))
			pendingSkip = ""
			continue
		}
		name := func(prefix string) string { return strings.Fields(strings.TrimPrefix(line, prefix))[0] }
		switch {
		case strings.HasPrefix(line, "--- PASS: "):
			s.passed = append(s.passed, name("--- PASS: "))
		case strings.HasPrefix(line, "--- FAIL: "):
			s.failed = append(s.failed, name("--- FAIL: "))
		case strings.HasPrefix(line, "--- SKIP: "):
			pendingSkip = name("--- SKIP: ")
		}
	}
	if pendingSkip != "" {
		s.skipped = append(s.skipped, pendingSkip)
	}
	return s
}
