package postgres_test

import (
	"context"
	"strings"
	"testing"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/pgtest"
	"github.com/lethe-privacy/lethe/postgres"
	"github.com/lethe-privacy/lethe/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// openTemp opens a store on a new database and closes it when the test
// ends (before pgtest drops the database). The database is a copy of one
// migrated once per test run, which spares each test the migrations.
func openTemp(t testing.TB) *postgres.Store {
	t.Helper()
	return openDSN(t, migratedDSN(t))
}

// migratedDSN returns a new database holding the current schema and no
// rows.
func migratedDSN(t testing.TB) string {
	t.Helper()
	return pgtest.DSNFrom(t, "migrated", func(ctx context.Context, dsn string) error {
		s, err := postgres.Open(ctx, dsn, postgres.Options{})
		if err != nil {
			return err
		}
		return s.Close()
	})
}

// openDSN opens one more store on a database and closes it when the test
// ends.
func openDSN(t testing.TB, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), dsn, postgres.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestStoreConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) lethe.Store { return openTemp(t) })
}

// TestOpen_PoolSize: without a size in Options or the DSN the pool holds
// DefaultMaxConns; the DSN's pool_max_conns (URL or keyword/value) and
// Options.MaxConns win, in that order of precedence reversed.
func TestOpen_PoolSize(t *testing.T) {
	dsn := migratedDSN(t)
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	for _, tc := range []struct {
		name string
		dsn  string
		opt  int32
		want int32
	}{
		{"default", dsn, 0, postgres.DefaultMaxConns},
		{"dsn", dsn + sep + "pool_max_conns=3", 0, 3},
		{"options over dsn", dsn + sep + "pool_max_conns=3", 5, 5},
	} {
		s, err := postgres.Open(t.Context(), tc.dsn, postgres.Options{MaxConns: tc.opt})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := s.PoolSize(); got != tc.want {
			t.Errorf("%s: pool size %d, want %d", tc.name, got, tc.want)
		}
		s.Close()
	}
}

func TestHasPoolMaxConns(t *testing.T) {
	for dsn, want := range map[string]bool{
		"postgres://u@h/db":                                    false,
		"postgres://u@h/db?pool_max_conns=9":                   true,
		"postgresql://u@h/db?sslmode=disable&pool_max_conns=2": true,
		"host=h dbname=db":                                     false,
		"host=h pool_max_conns=4":                              true,
		"host=h pool_max_conns = 4":                            true,
		"host=h application_name=pool_max_conns_x":             false,
	} {
		if got := postgres.HasPoolMaxConns(dsn); got != want {
			t.Errorf("%q: %v, want %v", dsn, got, want)
		}
	}
}
