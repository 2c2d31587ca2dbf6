package postgres_test

import (
	"errors"
	"net"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/postgres"
)

func TestUnavailable_ClosedStoreRefusesCalls(t *testing.T) {
	s, err := postgres.Open(t.Context(), migratedDSN(t), postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	ctx := t.Context()
	_, errMeta := s.Meta(ctx, "k")
	_, errRec := s.Record(ctx, lethe.RecordRef{Tenant: "a", Collection: "orders", ID: "o1"})
	for name, err := range map[string]error{
		"Meta":          errMeta,
		"Record":        errRec,
		"InsertRecords": s.InsertRecords(ctx, []*lethe.Record{rec("a", "o1")}),
		"ApplyBatch":    s.ApplyBatch(ctx, &lethe.Batch{Deletes: []lethe.RecordRef{{Tenant: "a", Collection: "orders", ID: "o1"}}}),
		"Checkpoint":    s.Checkpoint(ctx),
	} {
		if !errors.Is(err, lethe.ErrUnavailable) {
			t.Errorf("%s after Close: %v, want ErrUnavailable", name, err)
		}
	}
}

func TestUnavailable_NoServerAtTheAddress(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close() // nothing listens there now
	_, err = postgres.Open(t.Context(), "postgres://postgres@127.0.0.1:"+strconv.Itoa(port)+"/x?sslmode=disable&connect_timeout=5", postgres.Options{})
	if !errors.Is(err, lethe.ErrUnavailable) {
		t.Fatalf("Open without a server: %v, want ErrUnavailable", err)
	}
}

func TestUnavailable_TerminatedSessionIsUnavailableThenRecovers(t *testing.T) {
	dsn := migratedDSN(t)
	s, err := postgres.Open(t.Context(), dsn, postgres.Options{MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	if err := s.SetMeta(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var n int
	// The timeout makes pg_terminate_backend wait until the session has
	// ended: without it the store's next query can still slip through on
	// a busy machine.
	err = admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid, 10000)) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&n)
	if err != nil || n != 1 {
		t.Fatalf("terminated %d sessions (%v), want the store's one", n, err)
	}
	// The pool pings a connection that sat idle for a second before it
	// hands it out: on a slow machine it finds the dead one itself and the
	// call succeeds on a new connection. Either way, never another error.
	_, err = s.Meta(ctx, "k")
	if err != nil && !errors.Is(err, lethe.ErrUnavailable) {
		t.Fatalf("Meta on a terminated session: %v, want ErrUnavailable (or success on a new connection)", err)
	}
	// The pool drops the dead connection and the next call gets a new one.
	if v, err := s.Meta(ctx, "k"); err != nil || string(v) != "v" {
		t.Fatalf("Meta after reconnecting = %q, %v", v, err)
	}
}
