package engine

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/keyring"
)

// IdempotencyTTL is how long the answer of a request made with an
// Idempotency-Key is kept: a retry within it gets that answer, a request
// after it runs anew.
const IdempotencyTTL = 24 * time.Hour

// idempotencyLock is how long an entry in progress keeps a retry out. A
// request outliving it (its server died) no longer holds the key, and a
// retry runs; it is longer than the longest request a server lets run (a
// sweep on demand, bounded by the server's ten-minute write timeout).
const idempotencyLock = 15 * time.Minute

// maxIdempotencyKey bounds a key's length.
const maxIdempotencyKey = 255

// idempotencyDomain starts every keyed request hash, so that no message
// the receipt key signs for another purpose (receipts, checkpoints) has
// the same MAC.
const idempotencyDomain = "lethe idempotency request v1\x00"

// IdempotentRequest is one request made with an Idempotency-Key.
type IdempotentRequest struct {
	// Tenant is the route's tenant; "" for admin routes without one (their
	// answers are sealed with the system tenant's key).
	Tenant    string
	Principal string // the authenticated principal's name
	Key       string // the header's value
	// Method, Path and Body are what makes two requests the same one.
	Method, Path string
	Body         []byte
}

// Answer is a response as the API sent it, to be sent again on a retry.
type Answer struct {
	Status int                 `json:"status"`
	Header map[string][]string `json:"header,omitempty"`
	Body   []byte              `json:"body"`
}

// IdempotentCall is a request that holds its key in progress: Finish it
// with its answer, or Release it when the answer is not to be kept.
type IdempotentCall struct {
	e     *Engine
	keys  *keyring.TenantKeys
	entry lethe.IdempotencyEntry
	seal  keyring.AD
}

// CheckIdempotencyKey refuses keys that are empty, longer than 255
// characters, or hold anything but visible ASCII.
func CheckIdempotencyKey(key string) error {
	if key == "" || len(key) > maxIdempotencyKey {
		return &lethe.FieldError{Field: "Idempotency-Key", Reason: fmt.Sprintf("want 1 to %d characters", maxIdempotencyKey)}
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x21 || key[i] > 0x7e {
			return &lethe.FieldError{Field: "Idempotency-Key", Reason: "want visible ASCII characters only (a UUID, say)"}
		}
	}
	return nil
}

// BeginIdempotent starts a request made with an Idempotency-Key. It
// returns the kept answer when the same principal sent the same request
// (method, path, body) with this key within IdempotencyTTL; a call to
// finish when the request is to run; a FieldError naming the
// Idempotency-Key when the key was used for another request; and
// ErrConflict while the first request with the key still runs. The key
// is taken before the request runs, so two requests with one key at
// once never both run.
//
// The request hash is an HMAC under the tenant's receipt key, not a plain
// hash: bodies hold personal data, and a plain hash of a short one (an
// e-mail address) gives it away to whoever guesses it.
func (e *Engine) BeginIdempotent(ctx context.Context, in IdempotentRequest) (*IdempotentCall, *Answer, error) {
	if err := CheckIdempotencyKey(in.Key); err != nil {
		return nil, nil, err
	}
	sealTenant := in.Tenant
	var (
		keys *keyring.TenantKeys
		err  error
	)
	if sealTenant == "" {
		sealTenant = lethe.SystemTenant
		keys, err = e.signer(ctx, sealTenant, true)
	} else {
		if _, err := e.tenant(ctx, in.Tenant); err != nil {
			return nil, nil, err
		}
		keys, err = e.keys.Tenant(ctx, in.Tenant)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("idempotency: %w", err)
	}
	now := e.now()
	c := &IdempotentCall{e: e, keys: keys, entry: lethe.IdempotencyEntry{
		IdempotencyKey: lethe.IdempotencyKey{Tenant: in.Tenant, Principal: in.Principal, Key: in.Key},
		RequestHash:    keys.Sign(requestMessage(in)),
		Token:          newID(),
		LockedUntil:    now.Add(idempotencyLock),
		CreatedAt:      now,
		ExpiresAt:      now.Add(IdempotencyTTL),
	}}
	// The sealed answer is bound to its entry and request: moved to
	// another key, principal or tenant, or paired with another request
	// hash, it does not open.
	c.seal = keyring.AD{Tenant: sealTenant, Collection: "_idempotency", Record: in.Principal,
		Field: hex.EncodeToString(c.entry.RequestHash) + ":" + in.Key}
	live, begun, err := e.store.BeginIdempotent(ctx, &c.entry, now)
	if err != nil {
		return nil, nil, err
	}
	if begun {
		return c, nil, nil
	}
	if string(live.RequestHash) != string(c.entry.RequestHash) {
		return nil, nil, &lethe.FieldError{Field: "Idempotency-Key",
			Reason: "this key was used for another request (method, path or body differ); use a new key for a new request"}
	}
	if !live.Done {
		return nil, nil, &lethe.ConflictError{What: "a request with this Idempotency-Key is in progress; retry once it has answered"}
	}
	plain, err := keys.Open(live.Response, c.seal)
	if err != nil {
		return nil, nil, fmt.Errorf("idempotency: kept answer: %w", err)
	}
	var a Answer
	if err := json.Unmarshal(plain, &a); err != nil {
		return nil, nil, fmt.Errorf("idempotency: kept answer: %w", lethe.ErrCrypto)
	}
	return nil, &a, nil
}

// requestMessage is what the request hash covers: the domain, then the
// method, path and body, each length-prefixed so that no two requests
// encode alike.
func requestMessage(in IdempotentRequest) []byte {
	b := make([]byte, 0, len(idempotencyDomain)+len(in.Method)+len(in.Path)+len(in.Body)+24)
	b = append(b, idempotencyDomain...)
	for _, p := range [][]byte{[]byte(in.Method), []byte(in.Path), in.Body} {
		b = binary.BigEndian.AppendUint64(b, uint64(len(p)))
		b = append(b, p...)
	}
	return b
}

// Finish keeps the answer, sealed, for retries of the request.
func (c *IdempotentCall) Finish(ctx context.Context, a Answer) error {
	plain, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("idempotency: %w", err)
	}
	env, err := c.keys.Seal(plain, c.seal)
	if err != nil {
		return fmt.Errorf("idempotency: seal answer: %w", err)
	}
	e := c.entry
	e.Status, e.Response = a.Status, env
	return c.e.store.FinishIdempotent(ctx, &e)
}

// Release gives the key up without keeping an answer: a retry runs anew.
// It runs even when ctx is done (the client went away), since a key left
// in progress would keep the retry out for idempotencyLock.
func (c *IdempotentCall) Release(ctx context.Context) error {
	return c.e.store.ReleaseIdempotent(context.WithoutCancel(ctx), c.entry.IdempotencyKey, c.entry.Token)
}

// DeleteExpiredIdempotency deletes the kept answers older than
// IdempotencyTTL; the sweep calls it. Expired answers are never replayed
// even before they are deleted.
func (e *Engine) DeleteExpiredIdempotency(ctx context.Context) (int, error) {
	n, err := e.store.DeleteExpiredIdempotency(ctx, e.now())
	if err != nil {
		return 0, fmt.Errorf("idempotency: %w", err)
	}
	return n, nil
}

// purgeIdempotency is DeleteExpiredIdempotency for the sweep: a failure
// is logged, and the sweep goes on.
func (e *Engine) purgeIdempotency(ctx context.Context) {
	if _, err := e.DeleteExpiredIdempotency(ctx); err != nil && !errors.Is(err, context.Canceled) {
		e.log.Error("delete expired idempotency entries", "err", err)
	}
}
