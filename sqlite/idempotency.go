package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lethe-privacy/lethe"
)

const idemCols = `tenant, principal, key, request_hash, token, done, status, response, locked_until, created_at, expires_at`

func scanIdem(sc rowScanner) (*lethe.IdempotencyEntry, error) {
	var (
		e                        lethe.IdempotencyEntry
		done                     int
		locked, created, expires int64
	)
	err := sc.Scan(&e.Tenant, &e.Principal, &e.Key, &e.RequestHash, &e.Token, &done, &e.Status, &e.Response,
		&locked, &created, &expires)
	if err != nil {
		return nil, err
	}
	e.Done = done != 0
	e.LockedUntil, e.CreatedAt, e.ExpiresAt = fromMillis(locked), fromMillis(created), fromMillis(expires)
	return &e, nil
}

// BeginIdempotent reads the key's entry and, unless it is live, writes e
// over it, in one write transaction: the single writer decides between
// concurrent callers.
func (s *Store) BeginIdempotent(ctx context.Context, e *lethe.IdempotencyEntry, now time.Time) (*lethe.IdempotencyEntry, bool, error) {
	if e == nil || e.Principal == "" || e.Key == "" || e.Token == "" {
		return nil, false, fmt.Errorf("begin idempotent: %w: principal, key and token required", lethe.ErrInvalid)
	}
	var (
		live  *lethe.IdempotencyEntry
		begun bool
	)
	err := s.write(ctx, func(tx *sql.Tx) error {
		live, begun = nil, false
		cur, err := scanIdem(tx.QueryRowContext(ctx, "SELECT "+idemCols+" FROM idempotency WHERE tenant = ? AND principal = ? AND key = ?",
			e.Tenant, e.Principal, e.Key))
		switch {
		case err == nil && cur.Live(now):
			live = cur
			return nil
		case err != nil && !errors.Is(err, sql.ErrNoRows):
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO idempotency (`+idemCols+`) VALUES (?, ?, ?, ?, ?, 0, 0, NULL, ?, ?, ?)
			ON CONFLICT (tenant, principal, key) DO UPDATE SET request_hash = excluded.request_hash, token = excluded.token,
				done = 0, status = 0, response = NULL, locked_until = excluded.locked_until,
				created_at = excluded.created_at, expires_at = excluded.expires_at`,
			e.Tenant, e.Principal, e.Key, e.RequestHash, e.Token,
			millis(e.LockedUntil), millis(s.orNow(e.CreatedAt)), millis(e.ExpiresAt))
		begun = err == nil
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("begin idempotent: %w", err)
	}
	return live, begun, nil
}

// FinishIdempotent stores the answer of the entry e.Token holds.
func (s *Store) FinishIdempotent(ctx context.Context, e *lethe.IdempotencyEntry) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE idempotency SET done = 1, status = ?, response = ?
			WHERE tenant = ? AND principal = ? AND key = ? AND token = ? AND done = 0`,
			e.Status, e.Response, e.Tenant, e.Principal, e.Key, e.Token)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return errors.Join(err, fmt.Errorf("%w: the entry is no longer held by this attempt", lethe.ErrConflict))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("finish idempotent: %w", err)
	}
	return nil
}

// ReleaseIdempotent deletes the entry token holds in progress.
func (s *Store) ReleaseIdempotent(ctx context.Context, k lethe.IdempotencyKey, token string) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM idempotency
			WHERE tenant = ? AND principal = ? AND key = ? AND token = ? AND done = 0`,
			k.Tenant, k.Principal, k.Key, token)
		return err
	})
	if err != nil {
		return fmt.Errorf("release idempotent: %w", err)
	}
	return nil
}

// DeleteExpiredIdempotency deletes expired entries through
// idempotency_expiry; secure_delete zeroes their sealed answers.
func (s *Store) DeleteExpiredIdempotency(ctx context.Context, now time.Time) (int, error) {
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM idempotency WHERE expires_at <= ?", millis(now))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("delete expired idempotency entries: %w", err)
	}
	return int(n), nil
}
