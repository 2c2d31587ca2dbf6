package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/keyring"
)

// metaTenantKEK is the meta key holding the master key URL of a tenant
// that brings its own key. The meta table, not a tenants column: the URL
// is read only when the tenant's keys are loaded, and no migration is
// needed.
func metaTenantKEK(tenant string) string { return "tenant_master_key/" + tenant }

// tenantMasters caches the opened master keys of tenants that bring
// their own, by URL.
type tenantMasters struct {
	mu     sync.Mutex
	opened map[string]keyring.Wrapper
}

// tenantKEK is keyring.Keyring.TenantKEK: the tenant's own master key, or
// nil when it has none.
func (e *Engine) tenantKEK(ctx context.Context, tenant string) (keyring.Wrapper, error) {
	if tenant == lethe.SystemTenant {
		return nil, nil
	}
	raw, err := e.store.Meta(ctx, metaTenantKEK(tenant))
	if errors.Is(err, lethe.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return e.openTenantKEK(ctx, string(raw))
}

func (e *Engine) openTenantKEK(ctx context.Context, url string) (keyring.Wrapper, error) {
	e.tm.mu.Lock()
	defer e.tm.mu.Unlock()
	if w := e.tm.opened[url]; w != nil {
		return w, nil
	}
	if e.openTM == nil {
		return nil, fmt.Errorf("this process opens no tenant master keys: %w", lethe.ErrInvalid)
	}
	w, err := e.openTM(ctx, url)
	if err != nil {
		return nil, err
	}
	if e.tm.opened == nil {
		e.tm.opened = map[string]keyring.Wrapper{}
	}
	e.tm.opened[url] = w
	return w, nil
}

// TenantMasterKey returns the URL of a tenant's own master key;
// lethe.ErrNotFound when it uses the instance's.
func (e *Engine) TenantMasterKey(ctx context.Context, tenant string) (string, error) {
	raw, err := e.store.Meta(ctx, metaTenantKEK(tenant))
	if err != nil {
		return "", err
	}
	return string(raw), nil
}

// SetTenantMasterKey makes url (any --master-key URL: a key file, Vault,
// a cloud KMS key) the master key of the tenant's keys, bring-your-own-
// key: the key is opened and must answer first, else nothing changes;
// then the URL is recorded and every key of the tenant is rewrapped under
// it, online. Until the move ends its keys open through whichever key
// wraps each (keyring.Chain), so an interrupted move is finished by
// running it again. The instance's master key rewrap leaves the tenant's
// keys alone from then on. Admin only (the caller checks); audited in the
// tenant's runtime log.
func (e *Engine) SetTenantMasterKey(ctx context.Context, actor, tenant, url string) (int, error) {
	if tenant == lethe.SystemTenant {
		return 0, fmt.Errorf("the system tenant's keys follow the instance's master key: %w", lethe.ErrInvalid)
	}
	if _, err := e.tenant(ctx, tenant); err != nil {
		return 0, err
	}
	rs, err := e.rotationStore()
	if err != nil {
		return 0, err
	}
	// A key that cannot be used is the caller's input to fix (ErrInvalid,
	// beside the kind it has); one whose service does not answer, a retry.
	refused := func(err error) error {
		if errors.Is(err, lethe.ErrUnavailable) || errors.Is(err, lethe.ErrInvalid) {
			return fmt.Errorf("tenant %s: master key: %w; nothing was changed", tenant, err)
		}
		return fmt.Errorf("%w: tenant %s: master key: %w; nothing was changed", lethe.ErrInvalid, tenant, err)
	}
	own, err := e.openTenantKEK(ctx, url)
	if err != nil {
		return 0, refused(err)
	}
	// Proves the key answers, and that a fresh wrap opens again.
	if _, err := keyring.NewProbe(ctx, own); err != nil {
		return 0, refused(err)
	}
	var from keyring.Wrapper = e.kek
	if prev, err := e.tenantKEK(ctx, tenant); err != nil {
		return 0, err
	} else if prev != nil {
		from = prev
	}
	if err := e.store.SetMeta(ctx, metaTenantKEK(tenant), []byte(url)); err != nil {
		return 0, err
	}
	chain := keyring.Chain{Own: own, Instance: from}
	keys, err := e.store.Keys(ctx, tenant)
	if err != nil {
		return 0, err
	}
	moved := 0
	for _, k := range keys {
		if k.KEKID == own.ID() {
			continue
		}
		dek, err := chain.Unwrap(ctx, k.Wrapped, k.KEKID)
		if err != nil {
			return moved, fmt.Errorf("tenant %s: unwrap %s key v%d: %w", tenant, k.Purpose, k.Version, err)
		}
		w, id, err := own.Wrap(ctx, dek)
		clear(dek)
		if err != nil {
			return moved, fmt.Errorf("tenant %s: wrap %s key v%d: %w", tenant, k.Purpose, k.Version, err)
		}
		old := k.KEKID
		k.Wrapped, k.KEKID = w, id
		ok, err := rs.RewrapKey(ctx, k, old)
		if err != nil {
			return moved, err
		}
		if ok {
			moved++
		}
	}
	e.keys.Forget(tenant)
	if err := e.checkpoint(ctx); err != nil {
		return moved, err
	}
	desc := own.ID()
	if d, ok := own.(interface{ Describe() string }); ok {
		desc = d.Describe()
	}
	return moved, e.appendEntry(ctx, tenant, lethe.LogRuntime, actor, "tenant.master_key_set",
		map[string]any{"master_key": desc, "wrapped_keys": moved}, nil)
}

// ownKEKTenants returns which of the tenants have a master key of their
// own: the instance's master key rewrap does not touch their keys.
func (e *Engine) ownKEKTenants(ctx context.Context, keys []*lethe.WrappedKey) (map[string]bool, error) {
	out := map[string]bool{}
	seen := map[string]bool{}
	for _, k := range keys {
		if seen[k.Tenant] || k.Tenant == lethe.SystemTenant {
			continue
		}
		seen[k.Tenant] = true
		_, err := e.store.Meta(ctx, metaTenantKEK(k.Tenant))
		switch {
		case err == nil:
			out[k.Tenant] = true
		case !errors.Is(err, lethe.ErrNotFound):
			return nil, err
		}
	}
	return out, nil
}

// FailingTenantKeys lists the tenants whose own master key failed the
// last time their keys were loaded, sorted; /readyz names them.
func (e *Engine) FailingTenantKeys() []string {
	var out []string
	for t := range e.keys.FailingTenants() {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}
