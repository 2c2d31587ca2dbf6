package engine

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/keyring"
)

// rotationStore returns the store's rotation methods; every store Lethe
// ships has them.
func (e *Engine) rotationStore() (lethe.KeyRotationStore, error) {
	rs, ok := lethe.StoreAs[lethe.KeyRotationStore](e.aud.raw)
	if !ok {
		return nil, fmt.Errorf("this store cannot rotate keys: %w", lethe.ErrInvalid)
	}
	return rs, nil
}

func (e *Engine) master() (keyring.Master, error) {
	m, ok := e.kek.(keyring.Master)
	if !ok {
		return nil, fmt.Errorf("the master key %T has no versions to rotate: %w", e.kek, lethe.ErrInvalid)
	}
	return m, nil
}

// checkpointer is the SQLite store's checkpoint: the master key id and
// probe must reach the main database file, where the read-only check of
// the next start looks for them.
type checkpointer interface {
	Checkpoint(ctx context.Context) error
}

func (e *Engine) checkpoint(ctx context.Context) error {
	if c, ok := e.aud.raw.(checkpointer); ok {
		return c.Checkpoint(ctx)
	}
	return nil
}

// RotateMasterKey creates a new master key version (a new line in the key
// file, a new Vault key version) and records it as the key the data is
// made with. New wraps use it at once; RewrapMasterKey then moves every
// wrapped key to it. Audited in the system runtime log.
func (e *Engine) RotateMasterKey(ctx context.Context, actor string) (string, error) {
	return e.rotateMaster(ctx, actor, func(m keyring.Master) (string, error) { return m.Rotate(ctx) })
}

// RotateMasterKeyTo moves to the key rawURL names (a cloud KMS key of the
// same service) as RotateMasterKey moves to a new version: new wraps use
// it at once, the older key keeps unwrapping until RewrapMasterKey has
// moved everything. Later starts name the new key (--master-key).
func (e *Engine) RotateMasterKeyTo(ctx context.Context, actor, rawURL string) (string, error) {
	return e.rotateMaster(ctx, actor, func(m keyring.Master) (string, error) {
		rt, ok := m.(keyring.Retargeter)
		if !ok {
			return "", fmt.Errorf("%s creates its own versions: rotate without naming a key: %w", m.Describe(), lethe.ErrInvalid)
		}
		return rt.RotateTo(ctx, rawURL)
	})
}

func (e *Engine) rotateMaster(ctx context.Context, actor string, rotate func(keyring.Master) (string, error)) (string, error) {
	m, err := e.master()
	if err != nil {
		return "", err
	}
	rs, err := e.rotationStore()
	if err != nil {
		return "", err
	}
	old := m.ID()
	id, err := rotate(m)
	if err != nil {
		return "", err
	}
	if err := e.store.SetMeta(ctx, metaKEKID, []byte(id)); err != nil {
		return "", fmt.Errorf("record master key %s: %w", id, err)
	}
	if err := e.checkpoint(ctx); err != nil {
		return "", err
	}
	total, err := e.masterBacklog(ctx, rs, id)
	if err != nil {
		return "", err
	}
	job := &RewrapJob{Scope: ScopeMaster, Target: id, Total: total, State: RewrapRunning, Started: e.now()}
	if err := e.saveJob(ctx, job); err != nil {
		return "", err
	}
	if err := e.appendEntry(ctx, lethe.SystemTenant, lethe.LogRuntime, actor, "master_key.rotated",
		map[string]any{"from": old, "to": id, "wrapped_keys": total}, nil); err != nil {
		return "", err
	}
	return id, nil
}

// masterBacklog counts the wrapped keys (and the probe) not on target.
func (e *Engine) masterBacklog(ctx context.Context, rs lethe.KeyRotationStore, target string) (int64, error) {
	keys, err := rs.AllKeys(ctx)
	if err != nil {
		return 0, err
	}
	own, err := e.ownKEKTenants(ctx, keys)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, k := range keys {
		if k.KEKID != target && !own[k.Tenant] {
			n++
		}
	}
	if p, err := e.store.Meta(ctx, metaKEKProbe); err == nil && keyring.ProbeKEKID(p) != target {
		n++
	}
	if id, ok := e.consoleKeyKEK(ctx); ok && id != target {
		n++
	}
	return n, nil
}

// RotateTenantKey creates a new data key version for a tenant and retires
// the older ones: new seals, in this process at once and in others within
// seconds, use the new version. RewrapTenant then re-seals every record
// value sealed under an older one. Audited in the tenant's runtime log.
func (e *Engine) RotateTenantKey(ctx context.Context, actor, tenant string) (uint32, error) {
	if _, err := e.tenant(ctx, tenant); err != nil {
		return 0, err
	}
	old, _ := e.keys.Tenant(ctx, tenant)
	var from uint32
	if old != nil {
		from = old.CurrentVersion()
	}
	v, err := e.keys.Rotate(ctx, tenant)
	if err != nil {
		return 0, err
	}
	if err := e.startTenantJob(ctx, tenant, v); err != nil {
		return 0, err
	}
	if err := e.appendEntry(ctx, tenant, lethe.LogRuntime, actor, "data_key.rotated",
		map[string]any{"from": from, "to": v}, nil); err != nil {
		return 0, err
	}
	return v, nil
}

// startTenantJob records a rewrap of tenant to data key version v.
func (e *Engine) startTenantJob(ctx context.Context, tenant string, v uint32) error {
	counts, err := e.valueVersions(ctx, tenant)
	if err != nil {
		return err
	}
	var total int64
	for ver, n := range counts {
		if ver != v {
			total += n
		}
	}
	job := &RewrapJob{Scope: ScopeTenant, Tenant: tenant, Target: strconv.FormatUint(uint64(v), 10), Total: total,
		State: RewrapRunning, Started: e.now()}
	return e.saveJob(ctx, job)
}

// autoRotated is the keyring's OnAutoRotate: a data key reached its seal
// cap (keyring.DefaultMaxSealsPerKey, below the 2^32 random nonces NIST
// SP 800-38D allows) and a seal rotated it. The old version is retired;
// here its values are rewrapped in the background, as after a manual
// rotation.
func (e *Engine) autoRotated(tenant string, retired, current uint32) {
	e.bg.Add(1)
	go func() {
		defer e.bg.Done()
		ctx := e.bgCtx
		if err := e.startTenantJob(ctx, tenant, current); err != nil {
			e.log.Error("automatic data key rotation: rewrap not started", "tenant", tenant, "err", err)
			return
		}
		_ = e.appendEntry(ctx, tenant, lethe.LogRuntime, "lethe", "data_key.rotated",
			map[string]any{"from": retired, "to": current, "reason": "seal cap"}, nil)
		if _, err := e.RewrapTenant(ctx, tenant, nil); err != nil && !errors.Is(err, context.Canceled) {
			e.log.Error("automatic data key rotation: rewrap stopped; it resumes at the next start", "tenant", tenant, "err", err)
		}
	}()
}

// DestroyTenantKey deletes a retired data key version for good, once no
// record value and no audit entry is sealed under it. What it sealed
// elsewhere (idempotency answers, kept 24 hours; export chunks, kept until
// their request expires) becomes unreadable: rotate, rewrap, and destroy a
// day later.
func (e *Engine) DestroyTenantKey(ctx context.Context, actor, tenant string, version uint32) error {
	rs, err := e.rotationStore()
	if err != nil {
		return err
	}
	keys, err := e.keys.Tenant(ctx, tenant)
	if err != nil {
		return err
	}
	found := false
	for _, v := range keys.Versions() {
		if v.Version != version {
			continue
		}
		found = true
		if v.Current || !v.Retired {
			return fmt.Errorf("data key v%d of %s is in use for new writes; rotate first: %w", version, tenant, lethe.ErrConflict)
		}
	}
	if !found {
		return fmt.Errorf("data key v%d of %s: %w", version, tenant, lethe.ErrNotFound)
	}
	values, err := e.valueVersions(ctx, tenant)
	if err != nil {
		return err
	}
	entries, err := e.auditVersions(ctx, tenant)
	if err != nil {
		return err
	}
	if values[version] > 0 || entries[version] > 0 {
		return fmt.Errorf("data key v%d of %s still seals %d record values and %d audit entries (rewrap first; audit entries age out with their log): %w",
			version, tenant, values[version], entries[version], lethe.ErrConflict)
	}
	if err := rs.DeleteKey(ctx, tenant, lethe.KeyData, version); err != nil {
		return err
	}
	e.keys.Forget(tenant)
	return e.appendEntry(ctx, tenant, lethe.LogRuntime, actor, "data_key.destroyed", map[string]any{"version": version}, nil)
}

// DestroyMasterKey removes an old master key version once no wrapped key
// uses it. Vault removes versions oldest first only: there every version
// up to kekID goes, each checked the same way.
func (e *Engine) DestroyMasterKey(ctx context.Context, actor, kekID string) error {
	m, err := e.master()
	if err != nil {
		return err
	}
	rs, err := e.rotationStore()
	if err != nil {
		return err
	}
	if kekID == m.ID() {
		return fmt.Errorf("master key %s is the current version; rotate first: %w", kekID, lethe.ErrConflict)
	}
	versions, err := m.Versions(ctx)
	if err != nil {
		return err
	}
	doomed := map[string]bool{}
	for _, v := range versions {
		doomed[v] = true
		if v == kekID {
			break
		}
	}
	if !doomed[kekID] {
		return fmt.Errorf("master key version %s: %w", kekID, lethe.ErrNotFound)
	}
	if _, isTransit := m.(*keyring.Transit); !isTransit {
		doomed = map[string]bool{kekID: true}
	}
	keys, err := rs.AllKeys(ctx)
	if err != nil {
		return err
	}
	using := 0
	for _, k := range keys {
		if doomed[k.KEKID] {
			using++
		}
	}
	if p, err := e.store.Meta(ctx, metaKEKProbe); err == nil && doomed[keyring.ProbeKEKID(p)] {
		using++
	}
	if id, ok := e.consoleKeyKEK(ctx); ok && doomed[id] {
		using++
	}
	if using > 0 {
		return fmt.Errorf("master key version %s still wraps %d keys (run the rewrap first): %w", kekID, using, lethe.ErrConflict)
	}
	if err := m.Destroy(ctx, kekID); err != nil {
		return err
	}
	return e.appendEntry(ctx, lethe.SystemTenant, lethe.LogRuntime, actor, "master_key.destroyed", map[string]any{"version": kekID}, nil)
}
