package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/lethe-privacy/lethe"
)

// The queries every API request runs to authenticate, prepared once per
// reader connection (see file.rhot).
const (
	qAPIKey = "SELECT prefix, tenant, hash, created_at, revoked, roles FROM api_keys WHERE prefix = ?"
	qMeta   = "SELECT value FROM meta WHERE key = ?"
)

// Meta reads a server-wide value; lethe.ErrNotFound when unset.
func (s *Store) Meta(ctx context.Context, key string) ([]byte, error) {
	if s.isClosed() {
		return nil, errClosed
	}
	var v []byte
	err := s.queryRow(ctx, qMeta, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("meta %s: %w", key, lethe.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("meta %s: %w", key, mapErr(err))
	}
	return v, nil
}

// SetMeta sets or replaces a server-wide value and checkpoints it into the
// main database file, where PeekMeta finds it.
func (s *Store) SetMeta(ctx context.Context, key string, value []byte) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			"INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
			key, value)
		return err
	})
	if err != nil {
		return fmt.Errorf("set meta %s: %w", key, err)
	}
	// PeekMeta reads the main file only (immutable, no WAL): move the
	// value there now. Meta writes are rare, so the checkpoint is cheap.
	if err := s.Checkpoint(ctx); err != nil {
		return fmt.Errorf("set meta %s: stored, but %w", key, err)
	}
	return nil
}

// InitMeta sets a value unless set and returns what is stored, in one
// write transaction; a value it sets is checkpointed like SetMeta's.
func (s *Store) InitMeta(ctx context.Context, key string, value []byte) ([]byte, error) {
	var (
		stored []byte
		set    bool
	)
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING", key, value)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		set = n == 1
		return tx.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = ?", key).Scan(&stored)
	})
	if err != nil {
		return nil, fmt.Errorf("init meta %s: %w", key, err)
	}
	if set {
		if err := s.Checkpoint(ctx); err != nil {
			return nil, fmt.Errorf("init meta %s: stored, but %w", key, err)
		}
	}
	return stored, nil
}

// CreateTenant stores a new tenant; lethe.ErrConflict when the id is taken.
// A zero CreatedAt is set from the store's clock.
func (s *Store) CreateTenant(ctx context.Context, t *lethe.Tenant) error {
	if t == nil || t.ID == "" {
		return fmt.Errorf("create tenant: %w: empty id", lethe.ErrInvalid)
	}
	packs := t.Packs
	if packs == nil {
		packs = []string{}
	}
	pj, err := json.Marshal(packs)
	if err != nil {
		return fmt.Errorf("create tenant %s: %w", t.ID, err)
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO tenants (id, packs, phone_region, session_lifetime, chat_origins, created_at) VALUES (?, ?, ?, ?, ?, ?)",
			t.ID, string(pj), phoneRegion(t), t.SessionLifetime.String(), originsJSON(t.ChatOrigins), millis(s.orNow(t.CreatedAt)))
		return err
	})
	if errors.Is(err, lethe.ErrConflict) {
		return &lethe.ConflictError{What: fmt.Sprintf("tenant %s exists", t.ID), Err: err}
	}
	if err != nil {
		return fmt.Errorf("create tenant %s: %w", t.ID, err)
	}
	return nil
}

// phoneRegion is the region a new tenant is stored with.
func phoneRegion(t *lethe.Tenant) string {
	if t.PhoneRegion == "" {
		return lethe.DefaultPhoneRegion
	}
	return t.PhoneRegion
}

// SetTenantPhoneRegion changes a tenant's phone region; lethe.ErrNotFound
// when the tenant does not exist.
func (s *Store) SetTenantPhoneRegion(ctx context.Context, tenant, region string) error {
	if region == "" {
		return fmt.Errorf("tenant %s: %w: empty phone region", tenant, lethe.ErrInvalid)
	}
	if err := s.updateOne(ctx, "UPDATE tenants SET phone_region = ? WHERE id = ?", region, tenant); err != nil {
		return fmt.Errorf("tenant %s: set phone region: %w", tenant, err)
	}
	return nil
}

// SetTenantChat changes a tenant's session lifetime and chat origins;
// lethe.ErrNotFound when the tenant does not exist.
func (s *Store) SetTenantChat(ctx context.Context, tenant string, lifetime lethe.Duration, origins []string) error {
	if err := s.updateOne(ctx, "UPDATE tenants SET session_lifetime = ?, chat_origins = ? WHERE id = ?", lifetime.String(), originsJSON(origins), tenant); err != nil {
		return fmt.Errorf("tenant %s: set chat settings: %w", tenant, err)
	}
	return nil
}

// originsJSON is how a tenant's chat origins are stored: a JSON array.
func originsJSON(origins []string) string {
	if origins == nil {
		origins = []string{}
	}
	b, _ := json.Marshal(origins) // strings always marshal
	return string(b)
}

// Tenant reads one tenant; lethe.ErrNotFound when absent.
func (s *Store) Tenant(ctx context.Context, id string) (*lethe.Tenant, error) {
	rows, err := s.query(ctx, "SELECT id, packs, phone_region, session_lifetime, chat_origins, created_at FROM tenants WHERE id = ?", id)
	if err != nil {
		return nil, fmt.Errorf("tenant %s: %w", id, err)
	}
	ts, err := scanTenants(rows)
	if err != nil {
		return nil, fmt.Errorf("tenant %s: %w", id, err)
	}
	if len(ts) == 0 {
		return nil, fmt.Errorf("tenant %s: %w", id, lethe.ErrNotFound)
	}
	return ts[0], nil
}

// Tenants lists every tenant in id order.
func (s *Store) Tenants(ctx context.Context) ([]*lethe.Tenant, error) {
	rows, err := s.query(ctx, "SELECT id, packs, phone_region, session_lifetime, chat_origins, created_at FROM tenants ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("tenants: %w", err)
	}
	ts, err := scanTenants(rows)
	if err != nil {
		return nil, fmt.Errorf("tenants: %w", err)
	}
	return ts, nil
}

func scanTenants(rows *sql.Rows) ([]*lethe.Tenant, error) {
	defer rows.Close()
	var out []*lethe.Tenant
	for rows.Next() {
		var (
			t        lethe.Tenant
			packs    string
			lifetime string
			origins  string
			at       int64
		)
		if err := rows.Scan(&t.ID, &packs, &t.PhoneRegion, &lifetime, &origins, &at); err != nil {
			return nil, mapErr(err)
		}
		if err := json.Unmarshal([]byte(origins), &t.ChatOrigins); err != nil {
			return nil, fmt.Errorf("chat origins of %s: %w", t.ID, err)
		}
		if len(t.ChatOrigins) == 0 {
			t.ChatOrigins = nil
		}
		d, err := lethe.ParseDuration(lifetime)
		if err != nil {
			return nil, fmt.Errorf("session lifetime of %s: %w", t.ID, err)
		}
		if !d.IsZero() { // off reads back as the zero value it was written from
			t.SessionLifetime = d
		}
		if err := json.Unmarshal([]byte(packs), &t.Packs); err != nil {
			return nil, fmt.Errorf("packs of %s: %w", t.ID, err)
		}
		t.CreatedAt = fromMillis(at)
		out = append(out, &t)
	}
	return out, mapErr(rows.Err())
}

// PutKey stores a wrapped tenant key; lethe.ErrConflict when that tenant,
// purpose and version exist.
func (s *Store) PutKey(ctx context.Context, k *lethe.WrappedKey) error {
	if k == nil || k.Tenant == "" || k.Purpose == "" {
		return fmt.Errorf("put key: %w: tenant and purpose required", lethe.ErrInvalid)
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			`INSERT INTO keys (tenant, purpose, version, kek_id, wrapped, created_at, retired)
			 VALUES (?, ?, ?, ?, ?, ?, ?)`,
			k.Tenant, string(k.Purpose), int64(k.Version), k.KEKID, k.Wrapped,
			millis(s.orNow(k.Created)), k.Retired)
		return err
	})
	if err != nil {
		return fmt.Errorf("put key %s/%s v%d: %w", k.Tenant, k.Purpose, k.Version, err)
	}
	return nil
}

// Keys returns every key of a tenant, oldest version first (and by purpose
// within a version).
func (s *Store) Keys(ctx context.Context, tenant string) ([]*lethe.WrappedKey, error) {
	out, err := s.keysWhere(ctx, "WHERE tenant = ? ORDER BY version, purpose", tenant)
	if err != nil {
		return nil, fmt.Errorf("keys of %s: %w", tenant, err)
	}
	return out, nil
}

// keysWhere reads the wrapped keys a WHERE/ORDER BY clause selects.
func (s *Store) keysWhere(ctx context.Context, clause string, args ...any) ([]*lethe.WrappedKey, error) {
	rows, err := s.query(ctx, `SELECT tenant, purpose, version, kek_id, wrapped, created_at, retired FROM keys `+clause, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*lethe.WrappedKey
	for rows.Next() {
		var (
			k       lethe.WrappedKey
			purpose string
			version int64
			at      int64
		)
		if err := rows.Scan(&k.Tenant, &purpose, &version, &k.KEKID, &k.Wrapped, &at, &k.Retired); err != nil {
			return nil, mapErr(err)
		}
		k.Purpose, k.Version, k.Created = lethe.KeyPurpose(purpose), uint32(version), fromMillis(at)
		out = append(out, &k)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(err)
	}
	return out, nil
}

// CreateAPIKey stores an API key; lethe.ErrConflict when the prefix is
// taken.
func (s *Store) CreateAPIKey(ctx context.Context, k *lethe.APIKey) error {
	if k == nil || k.Prefix == "" || k.Tenant == "" {
		return fmt.Errorf("create api key: %w: prefix and tenant required", lethe.ErrInvalid)
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			"INSERT INTO api_keys (prefix, tenant, hash, created_at, revoked, roles) VALUES (?, ?, ?, ?, ?, ?)",
			k.Prefix, k.Tenant, k.Hash, millis(s.orNow(k.CreatedAt)), k.Revoked, lethe.EncodeRoles(k.Roles))
		return err
	})
	if err != nil {
		return fmt.Errorf("create api key %s: %w", k.Prefix, err)
	}
	return nil
}

// APIKey finds a key by its public prefix; lethe.ErrNotFound when unknown.
func (s *Store) APIKey(ctx context.Context, prefix string) (*lethe.APIKey, error) {
	if s.isClosed() {
		return nil, errClosed
	}
	var (
		k     lethe.APIKey
		at    int64
		roles string
	)
	err := s.queryRow(ctx, qAPIKey, prefix).
		Scan(&k.Prefix, &k.Tenant, &k.Hash, &at, &k.Revoked, &roles)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("api key %s: %w", prefix, lethe.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("api key %s: %w", prefix, mapErr(err))
	}
	k.CreatedAt, k.Roles = fromMillis(at), lethe.DecodeRoles(roles)
	return &k, nil
}

// APIKeys lists a tenant's keys, oldest first.
func (s *Store) APIKeys(ctx context.Context, tenant string) ([]*lethe.APIKey, error) {
	rows, err := s.query(ctx, "SELECT prefix, tenant, hash, created_at, revoked, roles FROM api_keys WHERE tenant = ? ORDER BY created_at, prefix", tenant)
	if err != nil {
		return nil, fmt.Errorf("api keys of %s: %w", tenant, err)
	}
	defer rows.Close()
	var out []*lethe.APIKey
	for rows.Next() {
		var (
			k     lethe.APIKey
			at    int64
			roles string
		)
		if err := rows.Scan(&k.Prefix, &k.Tenant, &k.Hash, &at, &k.Revoked, &roles); err != nil {
			return nil, fmt.Errorf("api keys of %s: %w", tenant, mapErr(err))
		}
		k.CreatedAt, k.Roles = fromMillis(at), lethe.DecodeRoles(roles)
		out = append(out, &k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("api keys of %s: %w", tenant, mapErr(err))
	}
	return out, nil
}

// RevokeAPIKey marks a tenant's key revoked; lethe.ErrNotFound when the
// tenant has no such key.
func (s *Store) RevokeAPIKey(ctx context.Context, tenant, prefix string) error {
	if err := s.updateOne(ctx, "UPDATE api_keys SET revoked = 1 WHERE tenant = ? AND prefix = ?", tenant, prefix); err != nil {
		return fmt.Errorf("revoke api key %s: %w", prefix, err)
	}
	return nil
}

// Settings returns a tenant's settings of a collection; lethe.ErrNotFound
// when the tenant never set any.
func (s *Store) Settings(ctx context.Context, tenant, collection string) (*lethe.Settings, error) {
	if s.isClosed() {
		return nil, errClosed
	}
	var (
		body string
		at   int64
	)
	err := s.queryRow(ctx, "SELECT body, updated_at FROM settings WHERE tenant = ? AND collection = ?", tenant, collection).
		Scan(&body, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("settings %s/%s: %w", tenant, collection, lethe.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("settings %s/%s: %w", tenant, collection, mapErr(err))
	}
	var st lethe.Settings
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		return nil, fmt.Errorf("settings %s/%s: %w", tenant, collection, err)
	}
	st.UpdatedAt = fromMillis(at)
	return &st, nil
}

// PutSettings sets or replaces a tenant's settings of a collection. A zero
// UpdatedAt is set from the store's clock.
func (s *Store) PutSettings(ctx context.Context, tenant, collection string, st *lethe.Settings) error {
	if st == nil || tenant == "" || collection == "" {
		return fmt.Errorf("put settings: %w: tenant, collection and settings required", lethe.ErrInvalid)
	}
	at := s.orNow(st.UpdatedAt)
	body := *st
	body.UpdatedAt = at.UTC().Truncate(time.Millisecond)
	b, err := json.Marshal(&body)
	if err != nil {
		return fmt.Errorf("put settings %s/%s: %w", tenant, collection, err)
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			`INSERT INTO settings (tenant, collection, body, updated_at) VALUES (?, ?, ?, ?)
			 ON CONFLICT (tenant, collection) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at`,
			tenant, collection, string(b), millis(at))
		return err
	})
	if err != nil {
		return fmt.Errorf("put settings %s/%s: %w", tenant, collection, err)
	}
	return nil
}

// updateOne runs an UPDATE of one row in a write transaction; ErrNotFound
// when it changed none.
func (s *Store) updateOne(ctx context.Context, query string, args ...any) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return lethe.ErrNotFound
		}
		return nil
	})
}
