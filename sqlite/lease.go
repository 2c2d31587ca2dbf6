package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lethe-privacy/lethe"
)

// TakeLease grants a lease when it is free, has run out or is owner's
// already. The upsert's WHERE makes the decision inside the write
// transaction, so two callers never both win.
func (s *Store) TakeLease(ctx context.Context, l lethe.Lease, now time.Time) (bool, error) {
	var won bool
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO leases (name, owner, until) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until = excluded.until
			WHERE leases.owner = excluded.owner OR leases.until <= ? OR leases.owner = ?`,
			l.Name, l.Owner, millis(l.Until), millis(now), l.Replaces)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		won = n == 1
		return err
	})
	if err != nil {
		return false, fmt.Errorf("take lease %s: %w", l.Name, err)
	}
	return won, nil
}

// LeaseHolder reads a lease as stored; lethe.ErrNotFound when never taken.
func (s *Store) LeaseHolder(ctx context.Context, name string) (*lethe.Lease, error) {
	var (
		l     = lethe.Lease{Name: name}
		until int64
	)
	err := s.queryRow(ctx, "SELECT owner, until FROM leases WHERE name = ?", name).Scan(&l.Owner, &until)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("lease %s: %w", name, lethe.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("lease %s: %w", name, mapErr(err))
	}
	l.Until = fromMillis(until)
	return &l, nil
}

// checkLease fails with lethe.ErrLeaseLost unless the lease still names
// its owner; called inside the transaction it fences.
func checkLease(p *stmts, l *lethe.Lease) error {
	if l == nil {
		return nil
	}
	var owner string
	err := p.scanRow("SELECT owner FROM leases WHERE name = ?", []any{l.Name}, &owner)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && owner != l.Owner) {
		return fmt.Errorf("%w: %s is not held by %s", lethe.ErrLeaseLost, l.Name, l.Owner)
	}
	return err
}
