// Package engine holds Lethe's use cases: creating tenants, writing and
// reading records (sealing PII, indexing subjects, planning retention),
// settings, subject lookup and the sweeper. It is the only place that knows
// the rules; the HTTP API, the CLI and the scheduler are thin callers.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/audit"
	"github.com/lethe-privacy/lethe/keyring"
	"github.com/lethe-privacy/lethe/policy"
	"github.com/lethe-privacy/lethe/vectors"
)

// Config is what an Engine is built from.
type Config struct {
	Store lethe.Store
	// KEK wraps tenant keys; its ID is checked against the one the data
	// was created with, so a wrong master key fails at start.
	KEK keyring.Wrapper
	// Extra is an application policy (--policy FILE) that every tenant
	// uses beside its packs; nil for none.
	Extra *policy.Policy
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Logger receives operational messages (never PII); discarded when nil.
	Logger *slog.Logger
	// SweepBatch is how many due records one sweep transaction takes.
	SweepBatch int
	// MaxSealsPerKey caps encryptions per data key before rotation (0:
	// the keyring's default).
	MaxSealsPerKey uint64
	// AuditRetention is how long each audit log keeps its entries (zero
	// periods: the defaults, runtime 7d, manager 180d, security 365d).
	AuditRetention audit.Retention
	// LazyAudit shapes the commits of read and authentication entries
	// (zero: DefaultLazyAudit).
	LazyAudit audit.BatchOptions
	// KeyCacheTTL and KeyOutageGrace bound how long unwrapped tenant keys
	// stay in memory, and how much longer they serve while the master key
	// service is unreachable (zero: the keyring's defaults).
	KeyCacheTTL, KeyOutageGrace time.Duration
	// NoReadAudit turns off the manager-log entry for each read of
	// decrypted PII (on by default; off only for measurements).
	NoReadAudit bool
	// VectorExactMax is the size up to which a vectors collection is
	// searched by an exact scan, an HNSW graph beyond (0:
	// vectors.DefaultExactMax).
	VectorExactMax int
	// OpenTenantMaster opens the master key URL of a tenant that brings
	// its own key (SetTenantMasterKey); nil refuses such tenants.
	OpenTenantMaster func(ctx context.Context, url string) (keyring.Wrapper, error)
}

// Engine runs Lethe's use cases. It is safe for concurrent use.
type Engine struct {
	store lethe.Store
	keys  *keyring.Keyring
	kek   keyring.Wrapper // also wraps the console's session key
	mk    masterKeyState
	// tm and openTM: the master keys of tenants that bring their own.
	tm     tenantMasters
	openTM func(ctx context.Context, url string) (keyring.Wrapper, error)
	rw     rewraps
	// consoleMu serializes changes to the console's user list.
	consoleMu sync.Mutex
	extra     *policy.Policy
	now       func() time.Time
	log       *slog.Logger
	sweepN    int
	aud       *auditor

	mu       sync.Mutex
	tenants  map[string]*tenantState
	settings map[settingsKey]cachedSettings
	// settingsMu orders settings writes in this process, so that two
	// PATCHes of one collection do not lose each other's change.
	settingsMu sync.Mutex

	sweepMu sync.Mutex // one sweep at a time in this process
	// instance names this engine as the owner of leases; several engines
	// on one database take turns sweeping through the "sweep" lease.
	instance string
	replans  replans
	bg       sync.WaitGroup
	stop     context.CancelFunc
	bgCtx    context.Context

	vecs vectorIndexes
	// writeGate orders record writes against a rewrap's start
	// (writegate.go).
	writeGate sync.RWMutex
	// redactors holds one *redact.Analyzer per phone region.
	redactors sync.Map
}

type settingsKey struct{ tenant, collection string }

type tenantState struct {
	tenant *lethe.Tenant
	set    *policy.Set
	read   time.Time // when tenant was read (monotonic wall clock)
}

// metaKEKID is the meta key holding the ID of the master key the data was
// created with.
const metaKEKID = "kek_id"

// ErrWrongMasterKey: the master key is not the one this data was created
// with. Nothing was changed.
var ErrWrongMasterKey = keyring.ErrWrongMasterKey

// New builds an engine and checks the master key against the store: on a
// first start it records the key's ID, afterwards a different key fails
// with ErrWrongMasterKey before anything is written.
func New(ctx context.Context, cfg Config) (*Engine, error) {
	if cfg.Store == nil || cfg.KEK == nil {
		return nil, errors.New("engine: Store and KEK are required")
	}
	e := &Engine{
		store:    cfg.Store,
		kek:      cfg.KEK,
		extra:    cfg.Extra,
		log:      cfg.Logger,
		sweepN:   cfg.SweepBatch,
		instance: newInstance(),
		tenants:  make(map[string]*tenantState),
		settings: make(map[settingsKey]cachedSettings),
		vecs:     vectorIndexes{exactMax: cfg.VectorExactMax, cfg: vectors.HNSWConfig{Seed: 1}},
	}
	if es, ok := lethe.StoreAs[lethe.EmbeddingStore](cfg.Store); ok {
		e.vecs.src = es
	}
	clock := cfg.Now
	if clock == nil {
		clock = time.Now
	}
	// Stores keep milliseconds: the engine's clock does too, so that what
	// a write answers is what a later read returns.
	e.now = func() time.Time { return clock().UTC().Truncate(time.Millisecond) }
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.sweepN <= 0 {
		e.sweepN = 1000
	}
	if err := CheckMasterKey(ctx, cfg.Store, cfg.KEK); err != nil {
		return nil, err
	}
	e.kek = cfg.KEK
	e.keys = keyring.New(cfg.Store, cfg.KEK)
	e.keys.CacheTTL, e.keys.OutageGrace = cfg.KeyCacheTTL, cfg.KeyOutageGrace
	e.keys.OnAutoRotate = e.autoRotated
	e.openTM = cfg.OpenTenantMaster
	e.keys.TenantKEK = e.tenantKEK
	e.keys.PhoneRegion = func(ctx context.Context, tenant string) (string, error) {
		t, err := cfg.Store.Tenant(ctx, tenant)
		if err != nil {
			return "", err
		}
		return t.PhoneRegion, nil
	}
	if cfg.MaxSealsPerKey > 0 {
		e.keys.MaxSealsPerKey = cfg.MaxSealsPerKey
	}
	if err := e.initAudit(cfg); err != nil {
		return nil, err
	}
	e.bgCtx, e.stop = context.WithCancel(context.Background())
	return e, nil
}

// CheckMasterKey compares the master key's ID with the one recorded in the
// store, recording it on a first start; then it unwraps the stored probe
// (keyring.CheckProbe), creating one for data made before probes existed.
// A master key with versions (keyring.Master) passes when it still holds
// the recorded version, so a key file or Vault key rotated since passes.
func CheckMasterKey(ctx context.Context, st lethe.Store, kek keyring.Wrapper) error {
	knows := func(id string) bool { return keyring.Knows(kek, id) }
	id, err := st.Meta(ctx, metaKEKID)
	switch {
	case errors.Is(err, lethe.ErrNotFound):
		// Several instances may start on a new database at once: the
		// first id stored wins, and a different key is refused.
		stored, err := st.InitMeta(ctx, metaKEKID, []byte(kek.ID()))
		if err != nil {
			return fmt.Errorf("record master key id: %w", err)
		}
		if !knows(string(stored)) {
			return fmt.Errorf("%w: the data was created with master key %s, this key is %s", ErrWrongMasterKey, stored, kek.ID())
		}
	case err != nil:
		return fmt.Errorf("read master key id: %w", err)
	case !knows(string(id)):
		return fmt.Errorf("%w: the data was created with master key %s, this key is %s", ErrWrongMasterKey, id, kek.ID())
	}
	return checkProbe(ctx, st, kek)
}

// metaKEKProbe holds the master key probe (keyring.NewProbe).
const metaKEKProbe = "kek_probe"

func checkProbe(ctx context.Context, st lethe.Store, kek keyring.Wrapper) error {
	p, err := st.Meta(ctx, metaKEKProbe)
	if errors.Is(err, lethe.ErrNotFound) {
		fresh, err := keyring.NewProbe(ctx, kek)
		if err != nil {
			return err
		}
		if p, err = st.InitMeta(ctx, metaKEKProbe, fresh); err != nil {
			return fmt.Errorf("record master key probe: %w", err)
		}
	} else if err != nil {
		return fmt.Errorf("read master key probe: %w", err)
	}
	return keyring.CheckProbe(ctx, kek, p)
}

// Close waits for background work (re-planning) to stop and for the
// audit entries already handed in to commit.
func (e *Engine) Close() {
	e.stop()
	e.bg.Wait()
	e.aud.app.Close()
	e.aud.lazy.Close()
}

// Store returns the engine's store (for health checks and tools).
func (e *Engine) Store() lethe.Store { return e.store }

// Now returns the engine's clock reading.
func (e *Engine) Now() time.Time { return e.now() }

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// tenant returns a tenant with its policy set, cached after the first use.
// The tenant is read again once the cached copy is settingsTTL old, so that
// a phone region another instance changed applies here too; when that read
// fails the cached copy goes on serving.
func (e *Engine) tenant(ctx context.Context, id string) (*tenantState, error) {
	e.mu.Lock()
	ts := e.tenants[id]
	e.mu.Unlock()
	if ts != nil && time.Since(ts.read) < settingsTTL {
		return ts, nil
	}
	t, err := e.store.Tenant(ctx, id)
	if err != nil {
		if ts != nil {
			return ts, nil
		}
		return nil, err
	}
	set := (*policy.Set)(nil)
	if ts != nil && slices.Equal(ts.tenant.Packs, t.Packs) {
		set = ts.set
	} else if set, err = e.policySet(t.Packs); err != nil {
		return nil, fmt.Errorf("tenant %s: %w", id, err)
	}
	return e.cacheTenant(t, set), nil
}

// cacheTenant caches a tenant as just read, and brings the phone region of
// its keys in memory up to date (keys loaded later read it themselves).
func (e *Engine) cacheTenant(t *lethe.Tenant, set *policy.Set) *tenantState {
	ts := &tenantState{tenant: t, set: set, read: time.Now()}
	e.mu.Lock()
	e.tenants[t.ID] = ts
	e.mu.Unlock()
	if k := e.keys.Loaded(t.ID); k != nil && t.PhoneRegion != "" && k.PhoneRegion() != t.PhoneRegion {
		if err := k.SetPhoneRegion(t.PhoneRegion); err != nil {
			e.log.Error("tenant phone region not applied", "tenant", t.ID, "err", err)
		}
	}
	return ts
}

func (e *Engine) policySet(packs []string) (*policy.Set, error) {
	var ps []*policy.Policy
	for _, name := range packs {
		p, err := policy.Pack(name)
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	if e.extra != nil {
		ps = append(ps, e.extra)
	}
	return policy.Combine(ps...)
}

// collection resolves a tenant's collection; unknown names are ErrNotFound.
func (e *Engine) collection(ctx context.Context, tenant, name string) (*tenantState, *policy.Collection, error) {
	ts, err := e.tenant(ctx, tenant)
	if err != nil {
		return nil, nil, err
	}
	c := ts.set.Collection(name)
	if c == nil {
		return nil, nil, fmt.Errorf("collection %q: %w for tenant %s", name, lethe.ErrNotFound, tenant)
	}
	return ts, c, nil
}
