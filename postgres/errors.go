package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"
	"github.com/lethe-privacy/lethe"
)

// SQLSTATE codes given a domain meaning.
const (
	codeUniqueViolation = "23505"
	codeDiskFull        = "53100"
	codeOutOfMemory     = "53200"
	codeTooManyConns    = "53300"
	codeSerialization   = "40001"
	codeDeadlock        = "40P01"
	codeQueryCanceled   = "57014" // statement_timeout, or a cancel from the server side
)

// mapErr gives a driver error its domain meaning, keeping the driver's
// message for the log:
//   - a unique violation (23505) is lethe.ErrConflict; callers that know
//     what collided say so (see conflictErr);
//   - disk full (53100) is lethe.ErrStorageFull: the transaction rolled
//     back, nothing was written;
//   - a server that is shutting down, starting up or unreachable (class
//     57P, class 08, a refused or broken connection), out of connections
//     or memory, or that broke off a transaction to resolve a deadlock or
//     serialization failure, is lethe.ErrUnavailable: the caller may retry.
//
// Context cancellation and other errors are returned unchanged.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, lethe.ErrConflict) || errors.Is(err, lethe.ErrStorageFull) ||
		errors.Is(err, lethe.ErrUnavailable) || errors.Is(err, lethe.ErrNotFound) ||
		errors.Is(err, lethe.ErrInvalid) || errors.Is(err, lethe.ErrLeaseLost) {
		return err // mapped already, or a domain error from inside a transaction
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == codeUniqueViolation:
			return fmt.Errorf("%w: %w", lethe.ErrConflict, err)
		case pe.Code == codeDiskFull:
			return fmt.Errorf("%w: %w", lethe.ErrStorageFull, err)
		case strings.HasPrefix(pe.Code, "08"), strings.HasPrefix(pe.Code, "57P"),
			pe.Code == codeTooManyConns, pe.Code == codeOutOfMemory,
			pe.Code == codeSerialization, pe.Code == codeDeadlock, pe.Code == codeQueryCanceled:
			return fmt.Errorf("%w: %w", lethe.ErrUnavailable, err)
		}
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	if errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, puddle.ErrClosedPool) {
		return fmt.Errorf("%w: %w", lethe.ErrUnavailable, err)
	}
	return err
}

// conflictErr names what a unique violation collided with, from the index
// PostgreSQL reports; other errors go through mapErr.
func conflictErr(err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != codeUniqueViolation {
		return mapErr(err)
	}
	key := keyValues(pe.Detail)
	switch {
	case pe.ConstraintName == "records_ref" && len(key) == 3:
		return &lethe.ConflictError{What: fmt.Sprintf("record %s exists in collection %s", key[2], key[1]), Err: mapErr(err)}
	case pe.ConstraintName == "records_ref":
		return &lethe.ConflictError{What: "a record with this id exists", Err: mapErr(err)}
	case pe.ConstraintName == "subjects_unique" && len(key) == 4:
		// key[3] is the blind-index hash: name the kind and collection only.
		return &lethe.ConflictError{What: fmt.Sprintf("a record with this %s exists in collection %s", key[2], key[1]), Err: mapErr(err)}
	case pe.ConstraintName == "subjects_unique":
		return &lethe.ConflictError{What: "a record with this unique identifier exists", Err: mapErr(err)}
	}
	return mapErr(err)
}

// keyValues splits the values of a unique violation's detail,
// "Key (tenant, collection, id)=(a, orders, o-1) already exists.", into
// ["a", "orders", "o-1"]. Tenant ids, collection names and identifier
// kinds never hold ", "; only the last value may, and it is kept whole.
// An unexpected detail gives nil.
func keyValues(detail string) []string {
	cols, rest, ok := strings.Cut(strings.TrimPrefix(detail, "Key ("), ")=(")
	if !ok || !strings.HasSuffix(rest, ") already exists.") {
		return nil
	}
	rest = strings.TrimSuffix(rest, ") already exists.")
	return strings.SplitN(rest, ", ", strings.Count(cols, ", ")+1)
}
