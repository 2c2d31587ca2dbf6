package lethe

import (
	"context"
	"time"
)

// IdempotencyKey names one kept answer: the tenant of the route ("" for
// admin routes without one), the principal that sent the request, and
// the client's Idempotency-Key. Two principals never share an entry, so
// one caller cannot replay another's answer by guessing its key.
type IdempotencyKey struct {
	Tenant, Principal, Key string
}

// IdempotencyEntry is one request made with an Idempotency-Key: in
// progress while it runs, then done with its answer. The answer may hold
// personal data (a record echoed back) or a secret (a new API key): the
// engine seals it before it reaches a store, which keeps it opaque.
type IdempotencyEntry struct {
	IdempotencyKey
	// RequestHash is a keyed hash of the request's method, path and body:
	// the same key with another request is refused, not replayed.
	RequestHash []byte
	// Token names the attempt holding an entry in progress; finishing or
	// releasing it needs the token, so an attempt that took over a stale
	// entry is not undone by the one it replaced.
	Token string
	Done  bool
	// Status and Response are the answer once done (Response sealed).
	Status   int
	Response []byte
	// LockedUntil is when an entry still in progress counts as abandoned
	// (its server died mid-request) and a retry may run instead.
	LockedUntil time.Time
	CreatedAt   time.Time
	// ExpiresAt is when the entry stops counting: after it a request with
	// the key runs anew, and the entry is deleted.
	ExpiresAt time.Time
}

// Live reports whether the entry still decides what a request with its
// key gets at now: a done entry until it expires, one in progress until
// its lock runs out.
func (e *IdempotencyEntry) Live(now time.Time) bool {
	if e.Done {
		return now.Before(e.ExpiresAt)
	}
	return now.Before(e.LockedUntil) && now.Before(e.ExpiresAt)
}

// IdempotencyStore is the part of Store that keeps the answers of
// requests made with an Idempotency-Key.
type IdempotencyStore interface {
	// BeginIdempotent inserts e as in progress, unless an entry with its
	// key is Live at now: then it returns that entry and false. An entry
	// that is no longer live is replaced. The database decides, so of two
	// concurrent callers with one key exactly one begins.
	BeginIdempotent(ctx context.Context, e *IdempotencyEntry, now time.Time) (*IdempotencyEntry, bool, error)
	// FinishIdempotent stores the answer (e.Status, e.Response) of the
	// entry e.Token holds in progress; ErrConflict when it no longer does.
	FinishIdempotent(ctx context.Context, e *IdempotencyEntry) error
	// ReleaseIdempotent deletes the entry token holds in progress, so that
	// a retry runs anew; releasing an entry not held is not an error.
	ReleaseIdempotent(ctx context.Context, k IdempotencyKey, token string) error
	// DeleteExpiredIdempotency deletes the entries expired at or before
	// now and returns how many.
	DeleteExpiredIdempotency(ctx context.Context, now time.Time) (int, error)
}
