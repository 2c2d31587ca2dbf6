package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-privacy/lethe"
)

const idemCols = `tenant, principal, key, request_hash, token, done, status, response, locked_until, created_at, expires_at`

func scanIdem(row pgx.Row) (*lethe.IdempotencyEntry, error) {
	var e lethe.IdempotencyEntry
	err := row.Scan(&e.Tenant, &e.Principal, &e.Key, &e.RequestHash, &e.Token, &e.Done, &e.Status, &e.Response,
		&e.LockedUntil, &e.CreatedAt, &e.ExpiresAt)
	if err != nil {
		return nil, err
	}
	e.LockedUntil, e.CreatedAt, e.ExpiresAt = e.LockedUntil.UTC(), e.CreatedAt.UTC(), e.ExpiresAt.UTC()
	return &e, nil
}

// qBeginIdem inserts an entry in progress, or takes over one that is no
// longer live (the negation of IdempotencyEntry.Live): one statement, so
// that of two callers with one key the second waits for the first's row
// and then finds it live. RETURNING answers a row only when this call
// wrote it.
const qBeginIdem = `INSERT INTO idempotency (` + idemCols + `) VALUES ($1, $2, $3, $4, $5, false, 0, NULL, $6, $7, $8)
	ON CONFLICT (tenant, principal, key) DO UPDATE SET request_hash = EXCLUDED.request_hash, token = EXCLUDED.token,
		done = false, status = 0, response = NULL, locked_until = EXCLUDED.locked_until,
		created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at
	WHERE NOT (idempotency.expires_at > $9 AND (idempotency.done OR idempotency.locked_until > $9))
	RETURNING token`

// BeginIdempotent writes e in progress unless a live entry holds its key,
// which it returns then. Should that entry vanish between the upsert and
// the read (deleted as expired), the upsert is tried again.
func (s *Store) BeginIdempotent(ctx context.Context, e *lethe.IdempotencyEntry, now time.Time) (*lethe.IdempotencyEntry, bool, error) {
	if e == nil || e.Principal == "" || e.Key == "" || e.Token == "" {
		return nil, false, fmt.Errorf("begin idempotent: %w: principal, key and token required", lethe.ErrInvalid)
	}
	db, err := s.db()
	if err != nil {
		return nil, false, err
	}
	for range 3 {
		var token string
		err := db.QueryRow(ctx, qBeginIdem, e.Tenant, e.Principal, e.Key, e.RequestHash, e.Token,
			ms(e.LockedUntil), ms(s.orNow(e.CreatedAt)), ms(e.ExpiresAt), ms(now)).Scan(&token)
		if err == nil {
			return nil, true, nil
		}
		if !noRows(err) {
			return nil, false, fmt.Errorf("begin idempotent: %w", mapErr(err))
		}
		cur, err := scanIdem(db.QueryRow(ctx, "SELECT "+idemCols+" FROM idempotency WHERE tenant = $1 AND principal = $2 AND key = $3",
			e.Tenant, e.Principal, e.Key))
		if noRows(err) {
			continue
		}
		if err != nil {
			return nil, false, fmt.Errorf("begin idempotent: %w", mapErr(err))
		}
		return cur, false, nil
	}
	return nil, false, fmt.Errorf("begin idempotent: %w: the entry kept changing", lethe.ErrUnavailable)
}

// FinishIdempotent stores the answer of the entry e.Token holds.
func (s *Store) FinishIdempotent(ctx context.Context, e *lethe.IdempotencyEntry) error {
	db, err := s.db()
	if err != nil {
		return err
	}
	tag, err := db.Exec(ctx, `UPDATE idempotency SET done = true, status = $1, response = $2
		WHERE tenant = $3 AND principal = $4 AND key = $5 AND token = $6 AND NOT done`,
		e.Status, e.Response, e.Tenant, e.Principal, e.Key, e.Token)
	if err != nil {
		return fmt.Errorf("finish idempotent: %w", mapErr(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("finish idempotent: %w: the entry is no longer held by this attempt", lethe.ErrConflict)
	}
	return nil
}

// ReleaseIdempotent deletes the entry token holds in progress.
func (s *Store) ReleaseIdempotent(ctx context.Context, k lethe.IdempotencyKey, token string) error {
	db, err := s.db()
	if err != nil {
		return err
	}
	_, err = db.Exec(ctx, `DELETE FROM idempotency
		WHERE tenant = $1 AND principal = $2 AND key = $3 AND token = $4 AND NOT done`,
		k.Tenant, k.Principal, k.Key, token)
	if err != nil {
		return fmt.Errorf("release idempotent: %w", mapErr(err))
	}
	return nil
}

// DeleteExpiredIdempotency deletes expired entries through
// idempotency_expiry.
func (s *Store) DeleteExpiredIdempotency(ctx context.Context, now time.Time) (int, error) {
	db, err := s.db()
	if err != nil {
		return 0, err
	}
	tag, err := db.Exec(ctx, "DELETE FROM idempotency WHERE expires_at <= $1", ms(now))
	if err != nil {
		return 0, fmt.Errorf("delete expired idempotency entries: %w", mapErr(err))
	}
	return int(tag.RowsAffected()), nil
}
