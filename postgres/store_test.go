package postgres_test

import (
	"context"
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
