package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"
	"github.com/lethe-privacy/lethe"
)

func TestMapErr_GivesDriverErrorsTheirDomainMeaning(t *testing.T) {
	pg := func(code string) error { return fmt.Errorf("exec: %w", &pgconn.PgError{Code: code, Message: "m"}) }
	cases := []struct {
		name string
		err  error
		want error // nil: passed through unchanged
	}{
		{"unique violation", pg("23505"), lethe.ErrConflict},
		{"disk full", pg("53100"), lethe.ErrStorageFull},
		{"admin shutdown", pg("57P01"), lethe.ErrUnavailable},
		{"cannot connect now", pg("57P03"), lethe.ErrUnavailable},
		{"connection failure", pg("08006"), lethe.ErrUnavailable},
		{"too many connections", pg("53300"), lethe.ErrUnavailable},
		{"deadlock", pg("40P01"), lethe.ErrUnavailable},
		{"statement timeout", pg("57014"), lethe.ErrUnavailable},
		{"closed pool", fmt.Errorf("acquire: %w", puddle.ErrClosedPool), lethe.ErrUnavailable},
		{"broken connection", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), lethe.ErrUnavailable},
		{"syntax error", pg("42601"), nil},
		{"foreign key", pg("23503"), nil},
		{"canceled", context.Canceled, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := mapErr(c.err)
			if c.want == nil {
				if got != c.err {
					t.Fatalf("mapErr(%v) = %v, want it unchanged", c.err, got)
				}
				return
			}
			if !errors.Is(got, c.want) {
				t.Fatalf("mapErr(%v) = %v, want %v", c.err, got, c.want)
			}
			var pe *pgconn.PgError
			if errors.As(c.err, &pe) && !errors.As(got, &pe) {
				t.Fatalf("mapErr(%v) lost the driver error", c.err)
			}
		})
	}
	if mapErr(nil) != nil {
		t.Fatal("mapErr(nil) != nil")
	}
}
