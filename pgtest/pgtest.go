// Package pgtest gives tests a fresh, empty PostgreSQL database.
//
// The first DSN call of a test binary starts one throwaway PostgreSQL
// server from the machine's server binaries (Debian's postgresql package):
// initdb into a temporary folder, listening on 127.0.0.1 only, on a free
// port, with no unix socket. Every DSN call then creates its own database
// on that server and drops it when the test ends, so tests never see each
// other's rows and may run in parallel. Main stops the server after the
// tests.
//
// The server keeps PostgreSQL's default durability settings (fsync on,
// synchronous_commit on): the stores under test promise durable erasure,
// and benchmarks against a server that skips fsync would flatter them.
//
// With LETHE_TEST_DATABASE_URL set, no server is started: the databases are
// created on that server instead (its user needs CREATEDB).
//
// When no server can be had, DSN skips the test with a loud message, unless
// CI=true or LETHE_REQUIRE_POSTGRES=1, where it fails it: a CI run must not
// pass by silently skipping the PostgreSQL tests.
//
// Use it from a package's tests:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		dsn := pgtest.DSN(t)
//		...
//	}
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lethe-privacy/lethe/tlsserve"
)

// EnvURL names the variable that points the tests at an existing server.
const EnvURL = "LETHE_TEST_DATABASE_URL"

// EnvRequire names the variable that turns a missing server into a test
// failure (as CI=true does).
const EnvRequire = "LETHE_REQUIRE_POSTGRES"

// shared is the one server of the test process. A test binary's packages
// share nothing else; sync.Once makes the first DSN call start it and the
// others wait for it.
var shared struct {
	once  sync.Once
	admin string  // DSN of the maintenance database ("postgres")
	srv   *server // nil when EnvURL is used
	err   error

	mu        sync.Mutex
	templates map[string]*template // by the caller's name
}

// template is a database prepared once and copied for each test.
type template struct {
	once sync.Once
	db   string // database name on the server
	err  error
}

// DSN returns a connection string to a new, empty database and drops the
// database when t ends (after the test's own cleanups, which were
// registered later and so run first). It skips or fails t when no server
// can be had (see the package doc).
func DSN(t testing.TB) string {
	t.Helper()
	return create(t, "template1")
}

// DSNFrom is DSN for a database that starts as a copy of a template: the
// first call of the process with a given name creates the template
// database and runs setup on it (a store's migrations, say), and every
// call copies it. Copying a prepared database is faster than preparing
// each one, which keeps a suite of many small tests quick. setup must
// close every connection it opened: PostgreSQL copies only a database
// nobody is connected to.
func DSNFrom(t testing.TB, name string, setup func(ctx context.Context, dsn string) error) string {
	t.Helper()
	shared.once.Do(start)
	if shared.err != nil {
		unavailable(t, shared.err)
	}
	shared.mu.Lock()
	if shared.templates == nil {
		shared.templates = make(map[string]*template)
	}
	tp := shared.templates[name]
	if tp == nil {
		tp = &template{db: "lethe_template_" + randomHex(6)}
		shared.templates[name] = tp
	}
	shared.mu.Unlock()
	tp.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if tp.err = adminExec(ctx, "CREATE DATABASE "+tp.db); tp.err != nil {
			return
		}
		dsn, err := withDatabase(shared.admin, tp.db)
		if err == nil {
			err = setup(ctx, dsn)
		}
		if err != nil {
			tp.err = fmt.Errorf("set up template %s: %w", name, err)
		}
	})
	if tp.err != nil {
		t.Fatalf("pgtest: %v", tp.err)
	}
	return create(t, tp.db)
}

// create makes a new database as a copy of template and drops it when t
// ends.
func create(t testing.TB, template string) string {
	t.Helper()
	shared.once.Do(start)
	if shared.err != nil {
		unavailable(t, shared.err)
	}
	name := "lethe_test_" + randomHex(8)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := adminExec(ctx, "CREATE DATABASE "+name+" TEMPLATE "+template); err != nil {
		unavailable(t, fmt.Errorf("create database %s: %w", name, err))
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		// FORCE ends connections a test leaked, so the drop never hangs.
		if err := adminExec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	dsn, err := withDatabase(shared.admin, name)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return dsn
}

// Main runs the tests of a package and then stops the server DSN started,
// if any, and removes its files (or, on the server of EnvURL, drops the
// templates of DSNFrom). Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if shared.srv == nil && shared.admin != "" {
		// A server of EnvURL outlives the tests: drop the templates.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		for _, tp := range shared.templates {
			if err := adminExec(ctx, "DROP DATABASE IF EXISTS "+tp.db+" WITH (FORCE)"); err != nil {
				fmt.Fprintf(os.Stderr, "pgtest: drop template: %v\n", err)
			}
		}
		cancel()
	}
	if shared.srv != nil {
		if err := shared.srv.stop(); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		}
	}
	os.Exit(code)
}

// start finds or starts the server; it runs once per process.
func start() {
	if u := os.Getenv(EnvURL); u != "" {
		shared.admin = u
		return
	}
	srv, err := startServer()
	if err != nil {
		shared.err = err
		return
	}
	shared.srv = srv
	shared.admin = srv.dsn("postgres")
}

// unavailable skips t, or fails it where PostgreSQL is required.
func unavailable(t testing.TB, err error) {
	t.Helper()
	msg := fmt.Sprintf("POSTGRESQL NOT AVAILABLE: %v; the PostgreSQL tests did NOT run "+
		"(install Debian's postgresql package, or set %s)", err, EnvURL)
	if os.Getenv("CI") == "true" || os.Getenv(EnvRequire) == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// adminExec runs one statement on the maintenance database. CREATE and
// DROP DATABASE cannot run inside a transaction block, so each gets its own
// short connection.
func adminExec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, shared.admin)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// withDatabase returns dsn with its database replaced by name. It accepts
// both URL and keyword/value connection strings.
func withDatabase(dsn, name string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			// url.Parse's error quotes the whole URL, password and all.
			return "", fmt.Errorf("parse %s: not a valid URL", EnvURL)
		}
		u.Path = "/" + name
		return u.String(), nil
	}
	// Later keywords win in libpq's keyword/value form.
	return dsn + " dbname=" + name, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// RootCert returns the certificate the started server presents (it is its
// own root), for tests of verify-full connections. With EnvURL there is no
// certificate of ours to trust, and the test is skipped.
func RootCert(t testing.TB) string {
	t.Helper()
	shared.once.Do(start)
	if shared.err != nil {
		unavailable(t, shared.err)
	}
	if shared.srv == nil {
		t.Skipf("pgtest: %s points at a server whose certificate these tests do not know", EnvURL)
	}
	return filepath.Join(shared.srv.dir, tlsserve.SelfSignedCert)
}
