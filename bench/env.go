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
	"github.com/lethe-privacy/lethe/sqlite"
)

// Env is a Lethe instance as "lethe serve" builds it: the SQLite store
// with its default options, an engine with a fresh master key, and the
// benchmark's two tenants with their collections switched on.
type Env struct {
	Store  *sqlite.Store
	Engine *engine.Engine
	// DBPath is the store's database file.
	DBPath string
}

// OpenEnv creates the store in dir (which must not hold one yet), the
// engine over it and the tenants ChatTenant and ShopTenant. now is the
// clock of both (time.Now when nil).
func OpenEnv(ctx context.Context, dir string, now func() time.Time) (*Env, error) {
	if now == nil {
		now = time.Now
	}
	key := make([]byte, 32)
	rand.Read(key)
	kek, err := keyring.NewFileKEK(key)
	if err != nil {
		return nil, fmt.Errorf("bench: master key: %w", err)
	}
	path := filepath.Join(dir, "lethe.db")
	st, err := sqlite.Open(ctx, path, sqlite.Options{Now: now})
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	eng, err := engine.New(ctx, engine.Config{Store: st, KEK: kek, Now: now})
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("bench: %w", err)
	}
	env := &Env{Store: st, Engine: eng, DBPath: path}
	if err := env.setup(ctx); err != nil {
		env.Close()
		return nil, err
	}
	return env, nil
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
	return e.Store.Close()
}

// errMismatch reports a run whose work did not come out as planned (a
// lookup that found nothing, a sweep that missed records): its figures
// would be wrong, so the run fails.
var errMismatch = errors.New("bench: unexpected outcome")
