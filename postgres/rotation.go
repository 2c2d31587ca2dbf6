package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/lethe-privacy/lethe"
)

var _ lethe.KeyRotationStore = (*Store)(nil)

// AllKeys returns every tenant's wrapped keys.
func (s *Store) AllKeys(ctx context.Context) ([]*lethe.WrappedKey, error) {
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	rows, err := db.Query(ctx, `SELECT tenant, purpose, version, kek_id, wrapped, created_at, retired
		FROM keys ORDER BY tenant, purpose, version`)
	if err != nil {
		return nil, fmt.Errorf("all keys: %w", mapErr(err))
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*lethe.WrappedKey, error) {
		var (
			k       lethe.WrappedKey
			purpose string
			version int64
		)
		if err := row.Scan(&k.Tenant, &purpose, &version, &k.KEKID, &k.Wrapped, &k.Created, &k.Retired); err != nil {
			return nil, err
		}
		k.Purpose, k.Version, k.Created = lethe.KeyPurpose(purpose), uint32(version), k.Created.UTC()
		return &k, nil
	})
	if err != nil {
		return nil, fmt.Errorf("all keys: %w", mapErr(err))
	}
	return out, nil
}

// RewrapKey swaps a key's wrapped form while it is wrapped by oldKEKID.
func (s *Store) RewrapKey(ctx context.Context, k *lethe.WrappedKey, oldKEKID string) (bool, error) {
	db, err := s.db()
	if err != nil {
		return false, err
	}
	tag, err := db.Exec(ctx, `UPDATE keys SET kek_id = $1, wrapped = $2
		WHERE tenant = $3 AND purpose = $4 AND version = $5 AND kek_id = $6`,
		k.KEKID, k.Wrapped, k.Tenant, string(k.Purpose), int64(k.Version), oldKEKID)
	if err != nil {
		return false, fmt.Errorf("rewrap key %s/%s v%d: %w", k.Tenant, k.Purpose, k.Version, mapErr(err))
	}
	return tag.RowsAffected() == 1, nil
}

// RetireKey marks a key version retired.
func (s *Store) RetireKey(ctx context.Context, tenant string, purpose lethe.KeyPurpose, version uint32) error {
	db, err := s.db()
	if err != nil {
		return err
	}
	tag, err := db.Exec(ctx, `UPDATE keys SET retired = true WHERE tenant = $1 AND purpose = $2 AND version = $3`,
		tenant, string(purpose), int64(version))
	if err != nil {
		return fmt.Errorf("retire key %s/%s v%d: %w", tenant, purpose, version, mapErr(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("retire key %s/%s v%d: %w", tenant, purpose, version, lethe.ErrNotFound)
	}
	return nil
}

// DeleteKey removes a retired key version.
func (s *Store) DeleteKey(ctx context.Context, tenant string, purpose lethe.KeyPurpose, version uint32) error {
	db, err := s.db()
	if err != nil {
		return err
	}
	var retired bool
	err = db.QueryRow(ctx, `SELECT retired FROM keys WHERE tenant = $1 AND purpose = $2 AND version = $3`,
		tenant, string(purpose), int64(version)).Scan(&retired)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("delete key %s/%s v%d: %w", tenant, purpose, version, lethe.ErrNotFound)
	case err != nil:
		return fmt.Errorf("delete key %s/%s v%d: %w", tenant, purpose, version, mapErr(err))
	case !retired:
		return fmt.Errorf("delete key %s/%s v%d: the version is not retired: %w", tenant, purpose, version, lethe.ErrConflict)
	}
	// retired in the WHERE as well: a key un-retired meanwhile stays.
	if _, err := db.Exec(ctx, `DELETE FROM keys WHERE tenant = $1 AND purpose = $2 AND version = $3 AND retired`,
		tenant, string(purpose), int64(version)); err != nil {
		return fmt.Errorf("delete key %s/%s v%d: %w", tenant, purpose, version, mapErr(err))
	}
	return nil
}

// SealedRecords pages through a tenant's records with sealed fields.
func (s *Store) SealedRecords(ctx context.Context, tenant string, after lethe.RecordRef, limit int) ([]*lethe.Record, error) {
	if limit <= 0 {
		limit = 500
	}
	recs, err := s.queryRecords(ctx, false, "SELECT "+recordCols+` FROM records r
		WHERE r.tenant = $1 AND (r.collection, r.id) > ($2, $3) AND r.sealed IS NOT NULL
		ORDER BY r.collection, r.id LIMIT $4`,
		tenant, after.Collection, after.ID, limit)
	if err != nil {
		return nil, fmt.Errorf("sealed records of %s: %w", tenant, err)
	}
	return recs, nil
}

// ResealRecords replaces sealed fields guarded by their old bytes, in one
// statement.
func (s *Store) ResealRecords(ctx context.Context, rs []lethe.Reseal) (int, error) {
	if len(rs) == 0 {
		return 0, nil
	}
	db, err := s.db()
	if err != nil {
		return 0, err
	}
	n := len(rs)
	tenants, colls, ids := make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
	olds, news := make([][]byte, 0, n), make([][]byte, 0, n)
	for _, r := range rs {
		tenants, colls, ids = append(tenants, r.Ref.Tenant), append(colls, r.Ref.Collection), append(ids, r.Ref.ID)
		olds, news = append(olds, lethe.EncodeSealed(r.Old)), append(news, lethe.EncodeSealed(r.New))
	}
	tag, err := db.Exec(ctx, `UPDATE records r SET sealed = u.new
		FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::bytea[]) AS u(tenant, collection, id, old, new)
		WHERE r.tenant = u.tenant AND r.collection = u.collection AND r.id = u.id AND r.sealed = u.old AND u.old <> u.new`,
		tenants, colls, ids, olds, news)
	if err != nil {
		return 0, fmt.Errorf("reseal records: %w", mapErr(err))
	}
	return int(tag.RowsAffected()), nil
}
