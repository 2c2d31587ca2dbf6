package postgres

import (
	"context"
	"fmt"
	"time"
)

// RevokeSession denies a console session until expires; a second
// revocation keeps the later expiry.
func (s *Store) RevokeSession(ctx context.Context, id string, expires time.Time) error {
	db, err := s.db()
	if err != nil {
		return err
	}
	_, err = db.Exec(ctx, `INSERT INTO console_revoked_sessions (id, expires_at) VALUES ($1, $2)
		ON CONFLICT (id) DO UPDATE SET expires_at = greatest(console_revoked_sessions.expires_at, excluded.expires_at)`, id, ms(expires))
	if err != nil {
		return fmt.Errorf("revoke session: %w", mapErr(err))
	}
	return nil
}

// SessionRevoked reports whether a console session is denied at now.
func (s *Store) SessionRevoked(ctx context.Context, id string, now time.Time) (bool, error) {
	db, err := s.db()
	if err != nil {
		return false, err
	}
	var denied bool
	err = db.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM console_revoked_sessions WHERE id = $1 AND expires_at > $2)", id, ms(now)).Scan(&denied)
	if err != nil {
		return false, fmt.Errorf("session revoked: %w", mapErr(err))
	}
	return denied, nil
}

// PruneSessions deletes the deny-list entries expired at or before now.
func (s *Store) PruneSessions(ctx context.Context, now time.Time) (int, error) {
	db, err := s.db()
	if err != nil {
		return 0, err
	}
	tag, err := db.Exec(ctx, "DELETE FROM console_revoked_sessions WHERE expires_at <= $1", ms(now))
	if err != nil {
		return 0, fmt.Errorf("prune sessions: %w", mapErr(err))
	}
	return int(tag.RowsAffected()), nil
}
