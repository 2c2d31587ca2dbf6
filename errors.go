package lethe

import "errors"

// Sentinel errors shared by every layer. Callers match them with errors.Is;
// the HTTP API maps each one to a status code in a single place.
var (
	// ErrNotFound: the tenant, collection, record or key does not exist
	// (or is not visible to the caller, which is deliberately the same).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the object exists already (duplicate id, unique
	// identifier such as a voucher code issued twice).
	ErrConflict = errors.New("conflict")
	// ErrInvalid: the input breaks the policy or the contract.
	ErrInvalid = errors.New("invalid")
	// ErrForbidden: the caller is authenticated but may not do this.
	ErrForbidden = errors.New("forbidden")
	// ErrUnauthorized: no or wrong credentials.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrDisabled: the tenant switched the collection off; writes are refused.
	ErrDisabled = errors.New("collection disabled")
	// ErrCrypto: a ciphertext failed to open (wrong key, moved or altered).
	ErrCrypto = errors.New("decryption failed")
	// ErrStorageFull: the disk is full; nothing was written.
	ErrStorageFull = errors.New("storage full")
	// ErrUnavailable: a dependency (database, key service) cannot serve now.
	ErrUnavailable = errors.New("unavailable")
	// ErrLeaseLost: background work found its lease taken over by another
	// instance (it ran out while the work stalled); nothing was written.
	ErrLeaseLost = errors.New("lease lost")
	// ErrHeld: a legal hold keeps the record; it cannot be erased now.
	ErrHeld = errors.New("under legal hold")
)

// FieldError names the offending field of an invalid input, so that an
// API answer can say exactly which field to fix.
type FieldError struct {
	Field  string // dotted path, e.g. "fields.lieferadressen[0].plz"
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Is makes every FieldError match ErrInvalid.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

// ConflictError says what exists already in words a client can act on:
// "tenant acme exists", "record A-1 exists in collection orders". It
// matches ErrConflict. Err keeps the cause (a driver's message, which may
// quote SQL) for the log; an API answer shows What alone.
type ConflictError struct {
	What string
	Err  error
}

func (e *ConflictError) Error() string {
	if e.Err == nil {
		return e.What
	}
	return e.What + ": " + e.Err.Error()
}

func (e *ConflictError) Unwrap() error { return e.Err }

// Is makes every ConflictError match ErrConflict.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }
