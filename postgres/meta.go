package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-privacy/lethe"
)

// Meta reads a server-wide value; lethe.ErrNotFound when unset.
func (s *Store) Meta(ctx context.Context, key string) ([]byte, error) {
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	var v []byte
	err = db.QueryRow(ctx, "SELECT value FROM meta WHERE key = $1", key).Scan(&v)
	if noRows(err) {
		return nil, fmt.Errorf("meta %s: %w", key, lethe.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("meta %s: %w", key, mapErr(err))
	}
	return v, nil
}

// SetMeta sets or replaces a server-wide value.
func (s *Store) SetMeta(ctx context.Context, key string, value []byte) error {
	db, err := s.db()
	if err != nil {
		return err
	}
	_, err = db.Exec(ctx, `INSERT INTO meta (key, value) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	if err != nil {
		return fmt.Errorf("set meta %s: %w", key, mapErr(err))
	}
	return nil
}

// InitMeta sets a value unless set and returns what is stored. The insert
// and the read are separate statements: under READ COMMITTED the read gets
// a snapshot taken after a concurrent inserter committed (one statement
// would keep a snapshot from before it and find nothing).
func (s *Store) InitMeta(ctx context.Context, key string, value []byte) ([]byte, error) {
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	if _, err := db.Exec(ctx, `INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`, key, value); err != nil {
		return nil, fmt.Errorf("init meta %s: %w", key, mapErr(err))
	}
	var stored []byte
	if err := db.QueryRow(ctx, `SELECT value FROM meta WHERE key = $1`, key).Scan(&stored); err != nil {
		return nil, fmt.Errorf("init meta %s: %w", key, mapErr(err))
	}
	return stored, nil
}

// CreateTenant stores a new tenant; lethe.ErrConflict when the id is taken.
// A zero CreatedAt is set from the store's clock.
func (s *Store) CreateTenant(ctx context.Context, t *lethe.Tenant) error {
	if t == nil || t.ID == "" {
		return fmt.Errorf("create tenant: %w: empty id", lethe.ErrInvalid)
	}
	db, err := s.db()
	if err != nil {
		return err
	}
	packs := t.Packs
	if packs == nil {
		packs = []string{}
	}
	region := t.PhoneRegion
	if region == "" {
		region = lethe.DefaultPhoneRegion
	}
	_, err = db.Exec(ctx, "INSERT INTO tenants (id, packs, phone_region, session_lifetime, chat_origins, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
		t.ID, packs, region, t.SessionLifetime.String(), originsJSON(t.ChatOrigins), ms(s.orNow(t.CreatedAt)))
	if err = mapErr(err); errors.Is(err, lethe.ErrConflict) {
		return &lethe.ConflictError{What: fmt.Sprintf("tenant %s exists", t.ID), Err: err}
	}
	if err != nil {
		return fmt.Errorf("create tenant %s: %w", t.ID, err)
	}
	return nil
}

// SetTenantPhoneRegion changes a tenant's phone region; lethe.ErrNotFound
// when the tenant does not exist.
func (s *Store) SetTenantPhoneRegion(ctx context.Context, tenant, region string) error {
	if region == "" {
		return fmt.Errorf("tenant %s: %w: empty phone region", tenant, lethe.ErrInvalid)
	}
	db, err := s.db()
	if err != nil {
		return err
	}
	tag, err := db.Exec(ctx, "UPDATE tenants SET phone_region = $1 WHERE id = $2", region, tenant)
	if err != nil {
		return fmt.Errorf("tenant %s: set phone region: %w", tenant, mapErr(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("tenant %s: %w", tenant, lethe.ErrNotFound)
	}
	return nil
}

// SetTenantChat changes a tenant's session lifetime and chat origins;
// lethe.ErrNotFound when the tenant does not exist.
func (s *Store) SetTenantChat(ctx context.Context, tenant string, lifetime lethe.Duration, origins []string) error {
	db, err := s.db()
	if err != nil {
		return err
	}
	tag, err := db.Exec(ctx, "UPDATE tenants SET session_lifetime = $1, chat_origins = $2 WHERE id = $3", lifetime.String(), originsJSON(origins), tenant)
	if err != nil {
		return fmt.Errorf("tenant %s: set chat settings: %w", tenant, mapErr(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("tenant %s: %w", tenant, lethe.ErrNotFound)
	}
	return nil
}

// Tenant reads one tenant; lethe.ErrNotFound when absent.
func (s *Store) Tenant(ctx context.Context, id string) (*lethe.Tenant, error) {
	ts, err := s.tenants(ctx, "SELECT id, packs, phone_region, session_lifetime, chat_origins, created_at FROM tenants WHERE id = $1", id)
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
	ts, err := s.tenants(ctx, "SELECT id, packs, phone_region, session_lifetime, chat_origins, created_at FROM tenants ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("tenants: %w", err)
	}
	return ts, nil
}

func (s *Store) tenants(ctx context.Context, query string, args ...any) ([]*lethe.Tenant, error) {
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	rows, err := db.Query(ctx, query, args...)
	if err != nil {
		return nil, mapErr(err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*lethe.Tenant, error) {
		var (
			t        lethe.Tenant
			lifetime string
			origins  string
		)
		if err := row.Scan(&t.ID, &t.Packs, &t.PhoneRegion, &lifetime, &origins, &t.CreatedAt); err != nil {
			return nil, err
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
		t.CreatedAt = t.CreatedAt.UTC()
		return &t, nil
	})
	return out, mapErr(err)
}

// PutKey stores a wrapped tenant key; lethe.ErrConflict when that tenant,
// purpose and version exist.
func (s *Store) PutKey(ctx context.Context, k *lethe.WrappedKey) error {
	if k == nil || k.Tenant == "" || k.Purpose == "" {
		return fmt.Errorf("put key: %w: tenant and purpose required", lethe.ErrInvalid)
	}
	db, err := s.db()
	if err != nil {
		return err
	}
	_, err = db.Exec(ctx, `INSERT INTO keys (tenant, purpose, version, kek_id, wrapped, created_at, retired)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		k.Tenant, string(k.Purpose), int64(k.Version), k.KEKID, k.Wrapped, ms(s.orNow(k.Created)), k.Retired)
	if err != nil {
		return fmt.Errorf("put key %s/%s v%d: %w", k.Tenant, k.Purpose, k.Version, mapErr(err))
	}
	return nil
}

// Keys returns every key of a tenant, oldest version first (and by purpose
// within a version).
func (s *Store) Keys(ctx context.Context, tenant string) ([]*lethe.WrappedKey, error) {
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	rows, err := db.Query(ctx, `SELECT tenant, purpose, version, kek_id, wrapped, created_at, retired
		FROM keys WHERE tenant = $1 ORDER BY version, purpose`, tenant)
	if err != nil {
		return nil, fmt.Errorf("keys of %s: %w", tenant, mapErr(err))
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
		k.Purpose = lethe.KeyPurpose(purpose)
		k.Version = uint32(version)
		k.Created = k.Created.UTC()
		return &k, nil
	})
	if err != nil {
		return nil, fmt.Errorf("keys of %s: %w", tenant, mapErr(err))
	}
	return out, nil
}

// CreateAPIKey stores an API key; lethe.ErrConflict when the prefix is
// taken.
func (s *Store) CreateAPIKey(ctx context.Context, k *lethe.APIKey) error {
	if k == nil || k.Prefix == "" || k.Tenant == "" {
		return fmt.Errorf("create api key: %w: prefix and tenant required", lethe.ErrInvalid)
	}
	db, err := s.db()
	if err != nil {
		return err
	}
	_, err = db.Exec(ctx, "INSERT INTO api_keys (prefix, tenant, hash, created_at, revoked, roles) VALUES ($1, $2, $3, $4, $5, $6)",
		k.Prefix, k.Tenant, k.Hash, ms(s.orNow(k.CreatedAt)), k.Revoked, lethe.EncodeRoles(k.Roles))
	if err != nil {
		return fmt.Errorf("create api key %s: %w", k.Prefix, mapErr(err))
	}
	return nil
}

// APIKey finds a key by its public prefix; lethe.ErrNotFound when unknown.
func (s *Store) APIKey(ctx context.Context, prefix string) (*lethe.APIKey, error) {
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	var (
		k     lethe.APIKey
		roles string
	)
	err = db.QueryRow(ctx, "SELECT prefix, tenant, hash, created_at, revoked, roles FROM api_keys WHERE prefix = $1", prefix).
		Scan(&k.Prefix, &k.Tenant, &k.Hash, &k.CreatedAt, &k.Revoked, &roles)
	if noRows(err) {
		return nil, fmt.Errorf("api key %s: %w", prefix, lethe.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("api key %s: %w", prefix, mapErr(err))
	}
	k.CreatedAt, k.Roles = k.CreatedAt.UTC(), lethe.DecodeRoles(roles)
	return &k, nil
}

// APIKeys lists a tenant's keys (revoked ones too), oldest first.
func (s *Store) APIKeys(ctx context.Context, tenant string) ([]*lethe.APIKey, error) {
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	rows, err := db.Query(ctx, `SELECT prefix, tenant, hash, created_at, revoked, roles FROM api_keys
		WHERE tenant = $1 ORDER BY created_at, prefix`, tenant)
	if err != nil {
		return nil, fmt.Errorf("api keys of %s: %w", tenant, mapErr(err))
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*lethe.APIKey, error) {
		var (
			k     lethe.APIKey
			roles string
		)
		if err := row.Scan(&k.Prefix, &k.Tenant, &k.Hash, &k.CreatedAt, &k.Revoked, &roles); err != nil {
			return nil, err
		}
		k.CreatedAt, k.Roles = k.CreatedAt.UTC(), lethe.DecodeRoles(roles)
		return &k, nil
	})
	if err != nil {
		return nil, fmt.Errorf("api keys of %s: %w", tenant, mapErr(err))
	}
	return out, nil
}

// RevokeAPIKey marks a tenant's key revoked; lethe.ErrNotFound when the
// tenant has no such key. Revoking twice is not an error.
func (s *Store) RevokeAPIKey(ctx context.Context, tenant, prefix string) error {
	db, err := s.db()
	if err != nil {
		return err
	}
	tag, err := db.Exec(ctx, "UPDATE api_keys SET revoked = true WHERE tenant = $1 AND prefix = $2", tenant, prefix)
	if err != nil {
		return fmt.Errorf("revoke api key %s: %w", prefix, mapErr(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("revoke api key %s: %w", prefix, lethe.ErrNotFound)
	}
	return nil
}

// Settings returns a tenant's settings of a collection; lethe.ErrNotFound
// when the tenant never set any.
func (s *Store) Settings(ctx context.Context, tenant, collection string) (*lethe.Settings, error) {
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	var (
		body []byte
		at   time.Time
	)
	err = db.QueryRow(ctx, "SELECT body, updated_at FROM settings WHERE tenant = $1 AND collection = $2",
		tenant, collection).Scan(&body, &at)
	if noRows(err) {
		return nil, fmt.Errorf("settings %s/%s: %w", tenant, collection, lethe.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("settings %s/%s: %w", tenant, collection, mapErr(err))
	}
	var st lethe.Settings
	if err := json.Unmarshal(body, &st); err != nil {
		return nil, fmt.Errorf("settings %s/%s: %w", tenant, collection, err)
	}
	st.UpdatedAt = at.UTC()
	return &st, nil
}

// PutSettings sets or replaces a tenant's settings of a collection. A zero
// UpdatedAt is set from the store's clock.
func (s *Store) PutSettings(ctx context.Context, tenant, collection string, st *lethe.Settings) error {
	if st == nil || tenant == "" || collection == "" {
		return fmt.Errorf("put settings: %w: tenant, collection and settings required", lethe.ErrInvalid)
	}
	db, err := s.db()
	if err != nil {
		return err
	}
	at := ms(s.orNow(st.UpdatedAt))
	body := *st
	body.UpdatedAt = at
	b, err := json.Marshal(&body)
	if err != nil {
		return fmt.Errorf("put settings %s/%s: %w", tenant, collection, err)
	}
	_, err = db.Exec(ctx, `INSERT INTO settings (tenant, collection, body, updated_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (tenant, collection) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at`,
		tenant, collection, string(b), at)
	if err != nil {
		return fmt.Errorf("put settings %s/%s: %w", tenant, collection, mapErr(err))
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
