package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/lethe-privacy/lethe"
)

// TakeLease grants a lease when it is free, has run out, is owner's
// already or is held by l.Replaces (a holder known to be dead). The
// upsert's WHERE decides under the row lock, so two instances never both
// win; a take-over waits for a fenced ApplyBatch that holds the row FOR
// SHARE.
func (s *Store) TakeLease(ctx context.Context, l lethe.Lease, now time.Time) (bool, error) {
	db, err := s.db()
	if err != nil {
		return false, err
	}
	tag, err := db.Exec(ctx, `INSERT INTO leases (name, owner, until) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until = excluded.until
		WHERE leases.owner = excluded.owner OR leases.until <= $4 OR leases.owner = $5`,
		l.Name, l.Owner, ms(l.Until), ms(now), l.Replaces)
	if err != nil {
		return false, fmt.Errorf("take lease %s: %w", l.Name, mapErr(err))
	}
	return tag.RowsAffected() == 1, nil
}

// LeaseHolder reads a lease as stored; lethe.ErrNotFound when never taken.
func (s *Store) LeaseHolder(ctx context.Context, name string) (*lethe.Lease, error) {
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	l := lethe.Lease{Name: name}
	err = db.QueryRow(ctx, "SELECT owner, until FROM leases WHERE name = $1", name).Scan(&l.Owner, &l.Until)
	if noRows(err) {
		return nil, fmt.Errorf("lease %s: %w", name, lethe.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("lease %s: %w", name, mapErr(err))
	}
	l.Until = l.Until.UTC()
	return &l, nil
}

// checkLease fails with lethe.ErrLeaseLost unless the lease still names
// its owner. Called inside the transaction it fences, it keeps the row
// locked FOR SHARE until that transaction ends.
func checkLease(ctx context.Context, q querier, l *lethe.Lease) error {
	if l == nil {
		return nil
	}
	var owner string
	err := q.QueryRow(ctx, "SELECT owner FROM leases WHERE name = $1 FOR SHARE", l.Name).Scan(&owner)
	if noRows(err) || (err == nil && owner != l.Owner) {
		return fmt.Errorf("%w: %s is not held by %s", lethe.ErrLeaseLost, l.Name, l.Owner)
	}
	return mapErr(err)
}
