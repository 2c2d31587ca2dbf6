package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"

	"github.com/lethe-privacy/lethe"
)

var _ lethe.KeyRotationStore = (*Store)(nil)

// AllKeys returns every tenant's wrapped keys.
func (s *Store) AllKeys(ctx context.Context) ([]*lethe.WrappedKey, error) {
	out, err := s.keysWhere(ctx, "ORDER BY tenant, purpose, version")
	if err != nil {
		return nil, fmt.Errorf("all keys: %w", err)
	}
	return out, nil
}

// RewrapKey swaps a key's wrapped form while it is wrapped by oldKEKID.
func (s *Store) RewrapKey(ctx context.Context, k *lethe.WrappedKey, oldKEKID string) (bool, error) {
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE keys SET kek_id = ?, wrapped = ?
			WHERE tenant = ? AND purpose = ? AND version = ? AND kek_id = ?`,
			k.KEKID, k.Wrapped, k.Tenant, string(k.Purpose), int64(k.Version), oldKEKID)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return false, fmt.Errorf("rewrap key %s/%s v%d: %w", k.Tenant, k.Purpose, k.Version, mapErr(err))
	}
	return n == 1, nil
}

// RetireKey marks a key version retired.
func (s *Store) RetireKey(ctx context.Context, tenant string, purpose lethe.KeyPurpose, version uint32) error {
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE keys SET retired = 1 WHERE tenant = ? AND purpose = ? AND version = ?`,
			tenant, string(purpose), int64(version))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return fmt.Errorf("retire key %s/%s v%d: %w", tenant, purpose, version, mapErr(err))
	}
	if n == 0 {
		return fmt.Errorf("retire key %s/%s v%d: %w", tenant, purpose, version, lethe.ErrNotFound)
	}
	return nil
}

// DeleteKey removes a retired key version.
func (s *Store) DeleteKey(ctx context.Context, tenant string, purpose lethe.KeyPurpose, version uint32) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		var retired bool
		err := tx.QueryRowContext(ctx, `SELECT retired FROM keys WHERE tenant = ? AND purpose = ? AND version = ?`,
			tenant, string(purpose), int64(version)).Scan(&retired)
		if err == sql.ErrNoRows {
			return lethe.ErrNotFound
		}
		if err != nil {
			return err
		}
		if !retired {
			return fmt.Errorf("the version is not retired: %w", lethe.ErrConflict)
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM keys WHERE tenant = ? AND purpose = ? AND version = ?`,
			tenant, string(purpose), int64(version))
		return err
	})
	if err != nil {
		return fmt.Errorf("delete key %s/%s v%d: %w", tenant, purpose, version, mapErr(err))
	}
	return nil
}

// SealedRecords pages through a tenant's records with sealed fields.
func (s *Store) SealedRecords(ctx context.Context, tenant string, after lethe.RecordRef, limit int) ([]*lethe.Record, error) {
	if limit <= 0 {
		limit = 500
	}
	rows, err := s.query(ctx, "SELECT "+recordCols+` FROM records
		WHERE tenant = ? AND (collection > ? OR (collection = ? AND id > ?)) AND sealed IS NOT NULL
		ORDER BY collection, id LIMIT ?`,
		tenant, after.Collection, after.Collection, after.ID, limit)
	if err != nil {
		return nil, fmt.Errorf("sealed records of %s: %w", tenant, err)
	}
	out, err := scanRecords(rows)
	if err != nil {
		return nil, fmt.Errorf("sealed records of %s: %w", tenant, err)
	}
	return out, nil
}

// ResealRecords replaces sealed fields guarded by their old bytes, in one
// transaction of the group commit.
func (s *Store) ResealRecords(ctx context.Context, rs []lethe.Reseal) (int, error) {
	if len(rs) == 0 {
		return 0, nil
	}
	changed := 0
	err := s.write(ctx, func(tx *sql.Tx) error {
		changed = 0
		p := newStmts(ctx, tx, s.whot)
		defer p.close()
		for _, r := range rs {
			old, nu := lethe.EncodeSealed(r.Old), lethe.EncodeSealed(r.New)
			if bytes.Equal(old, nu) {
				continue
			}
			res, err := p.exec(`UPDATE records SET sealed = ? WHERE tenant = ? AND collection = ? AND id = ? AND sealed = ?`,
				nu, r.Ref.Tenant, r.Ref.Collection, r.Ref.ID, old)
			if err != nil {
				return fmt.Errorf("reseal %s/%s: %w", r.Ref.Collection, r.Ref.ID, mapErr(err))
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			changed += int(n)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("reseal records: %w", err)
	}
	return changed, nil
}
