package pgtest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { Main(m) }

func TestDSN_GivesEachCallItsOwnEmptyDatabase(t *testing.T) {
	ctx := t.Context()
	a, b := DSN(t), DSN(t)
	if a == b {
		t.Fatalf("two calls returned the same DSN %s", a)
	}
	ca := connect(t, a)
	if _, err := ca.Exec(ctx, "CREATE TABLE marker (x int)"); err != nil {
		t.Fatalf("create table: %v", err)
	}
	cb := connect(t, b)
	var n int
	err := cb.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").Scan(&n)
	if err != nil || n != 0 {
		t.Fatalf("second database has %d tables (err %v), want an empty one", n, err)
	}
}

func TestDSN_ServerKeepsDurabilityDefaults(t *testing.T) {
	c := connect(t, DSN(t))
	for name, want := range map[string]string{"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"} {
		var got string
		if err := c.QueryRow(t.Context(), "SELECT current_setting($1)", name).Scan(&got); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got != want {
			t.Errorf("%s = %s, want %s", name, got, want)
		}
	}
}

func TestDSN_DropsTheDatabaseAfterTheTest(t *testing.T) {
	var name string
	t.Run("inner", func(t *testing.T) {
		c := connect(t, DSN(t))
		if err := c.QueryRow(t.Context(), "SELECT current_database()").Scan(&name); err != nil {
			t.Fatal(err)
		}
	})
	if name == "" {
		t.Skip("inner test did not run")
	}
	c := connect(t, DSN(t))
	var n int
	if err := c.QueryRow(t.Context(), "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("database %s outlived its test", name)
	}
}

func TestWithDatabase(t *testing.T) {
	cases := []struct{ in, want string }{
		{"postgres://u:p@h:5432/postgres?sslmode=disable", "postgres://u:p@h:5432/x?sslmode=disable"},
		{"postgresql://h/", "postgresql://h/x"},
		{"host=h user=u dbname=postgres", "host=h user=u dbname=postgres dbname=x"},
	}
	for _, c := range cases {
		got, err := withDatabase(c.in, "x")
		if err != nil || got != c.want {
			t.Errorf("withDatabase(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func TestDSNFrom_CopiesATemplatePreparedOnce(t *testing.T) {
	setups := 0
	setup := func(ctx context.Context, dsn string) error {
		setups++
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return err
		}
		defer c.Close(context.Background())
		_, err = c.Exec(ctx, "CREATE TABLE prepared (x int)")
		return err
	}
	a := connect(t, DSNFrom(t, "copies", setup))
	b := connect(t, DSNFrom(t, "copies", setup))
	if setups != 1 {
		t.Fatalf("setup ran %d times, want once", setups)
	}
	if _, err := a.Exec(t.Context(), "INSERT INTO prepared VALUES (1)"); err != nil {
		t.Fatalf("first copy lacks the prepared table: %v", err)
	}
	var n int
	if err := b.QueryRow(t.Context(), "SELECT count(*) FROM prepared").Scan(&n); err != nil || n != 0 {
		t.Fatalf("second copy: %d rows, %v; want its own empty table", n, err)
	}
}
