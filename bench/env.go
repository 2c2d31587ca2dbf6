package bench

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
	"github.com/lethe-privacy/lethe/keyring"
	"github.com/lethe-privacy/lethe/postgres"
	"github.com/lethe-privacy/lethe/sqlite"
)

// Env is a Lethe instance as "lethe serve" builds it: the SQLite store
// (or, with OpenEnvPG, the PostgreSQL one) with its default options, an
// engine with a fresh master key, and the benchmark's two tenants with
// their collections switched on.
type Env struct {
	// Store is the SQLite store; nil on PostgreSQL.
	Store *sqlite.Store
	// PG is the PostgreSQL store; nil on SQLite.
	PG     *postgres.Store
	Engine *engine.Engine
	// DBPath is the SQLite store's database file; DSN the PostgreSQL
	// store's database.
	DBPath string
	DSN    string

	kek keyring.Wrapper
	now func() time.Time
}

// OpenEnv creates the store in dir (which must not hold one yet), the
// engine over it and the tenants ChatTenant and ShopTenant. now is the
// clock of both (time.Now when nil).
func OpenEnv(ctx context.Context, dir string, now func() time.Time) (*Env, error) {
	if now == nil {
		now = time.Now
	}
	kek, err := freshKEK()
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "lethe.db")
	st, err := sqlite.Open(ctx, path, sqlite.Options{Now: now})
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	env := &Env{Store: st, DBPath: path, kek: kek, now: now}
	return env.start(ctx, st, true)
}

// OpenEnvPG is OpenEnv on the PostgreSQL database of dsn, which must be
// empty: the store migrates it.
func OpenEnvPG(ctx context.Context, dsn string, now func() time.Time) (*Env, error) {
	if now == nil {
		now = time.Now
	}
	kek, err := freshKEK()
	if err != nil {
		return nil, err
	}
	st, err := postgres.Open(ctx, dsn, postgres.Options{Now: now})
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	env := &Env{PG: st, DSN: dsn, kek: kek, now: now}
	return env.start(ctx, st, true)
}

// Instance opens one more Lethe instance on e's PostgreSQL database, with
// the same master key, as a second "lethe serve" would: its own store
// (connection pool) and engine, the tenants already there.
func (e *Env) Instance(ctx context.Context) (*Env, error) {
	if e.PG == nil {
		return nil, fmt.Errorf("%w: bench: several instances need PostgreSQL", lethe.ErrInvalid)
	}
	st, err := postgres.Open(ctx, e.DSN, postgres.Options{Now: e.now})
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	other := &Env{PG: st, DSN: e.DSN, kek: e.kek, now: e.now}
	return other.start(ctx, st, false)
}

func freshKEK() (keyring.Wrapper, error) {
	key := make([]byte, 32)
	rand.Read(key)
	kek, err := keyring.NewFileKEK(key)
	if err != nil {
		return nil, fmt.Errorf("bench: master key: %w", err)
	}
	return kek, nil
}

// start builds the engine over st and, when first, the tenants; it
// closes st when that fails.
func (e *Env) start(ctx context.Context, st lethe.Store, first bool) (*Env, error) {
	eng, err := engine.New(ctx, engine.Config{Store: st, KEK: e.kek, Now: e.now})
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("bench: %w", err)
	}
	e.Engine = eng
	if first {
		if err := e.setup(ctx); err != nil {
			e.Close()
			return nil, err
		}
	}
	return e, nil
}

func (e *Env) setup(ctx context.Context) error {
	if _, err := e.Engine.CreateTenant(ctx, "bench", ChatTenant, []string{ChatPack}); err != nil {
		return fmt.Errorf("bench: tenant %s: %w", ChatTenant, err)
	}
	if _, err := e.Engine.CreateTenant(ctx, "bench", ShopTenant, []string{ShopPack}); err != nil {
		return fmt.Errorf("bench: tenant %s: %w", ShopTenant, err)
	}
	// Prize draw entries are off unless a tenant switches them on.
	on := true
	if _, err := e.Engine.PutSettings(ctx, "bench", ChatTenant, EntryCollection, &lethe.Settings{Enabled: &on}); err != nil {
		return fmt.Errorf("bench: enable %s: %w", EntryCollection, err)
	}
	// PutSettings re-plans the (empty) collection in the background; wait
	// for it so that it does not run inside a measurement.
	for e.Engine.ReplanStatus(ChatTenant, EntryCollection).Running {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

// Close stops the engine and closes the store.
func (e *Env) Close() error {
	e.Engine.Close()
	if e.PG != nil {
		return e.PG.Close()
	}
	return e.Store.Close()
}

// errMismatch reports a run whose work did not come out as planned (a
// lookup that found nothing, a sweep that missed records): its figures
// would be wrong, so the run fails.
var errMismatch = errors.New("bench: unexpected outcome")
