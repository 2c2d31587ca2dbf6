package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// RevokeSession denies a console session until expires; a second
// revocation keeps the later expiry.
func (s *Store) RevokeSession(ctx context.Context, id string, expires time.Time) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO console_revoked_sessions (id, expires_at) VALUES (?, ?)
			ON CONFLICT (id) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)`, id, millis(expires))
		return err
	})
	if err != nil {
		return fmt.Errorf("revoke session: %w", mapErr(err))
	}
	return nil
}

// SessionRevoked reports whether a console session is denied at now.
func (s *Store) SessionRevoked(ctx context.Context, id string, now time.Time) (bool, error) {
	if s.isClosed() {
		return false, errClosed
	}
	var n int
	err := s.queryRow(ctx, "SELECT count(*) FROM console_revoked_sessions WHERE id = ? AND expires_at > ?", id, millis(now)).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("session revoked: %w", mapErr(err))
	}
	return n > 0, nil
}

// PruneSessions deletes the deny-list entries expired at or before now.
func (s *Store) PruneSessions(ctx context.Context, now time.Time) (int, error) {
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM console_revoked_sessions WHERE expires_at <= ?", millis(now))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("prune sessions: %w", mapErr(err))
	}
	return int(n), nil
}
