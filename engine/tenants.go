package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/keyring"
	"github.com/lethe-privacy/lethe/policy"
)

var tenantIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// TenantSpec is what a tenant is created from.
type TenantSpec struct {
	ID    string
	Packs []string
	// PhoneRegion is the region phone numbers without a country code are
	// read in; empty for the packs' region, else lethe.DefaultPhoneRegion.
	PhoneRegion string
}

// CreateTenant creates a tenant using the named packs, with its own data,
// blind-index and receipt keys, reading phone numbers in the packs'
// region.
func (e *Engine) CreateTenant(ctx context.Context, actor, id string, packs []string) (*lethe.Tenant, error) {
	return e.CreateTenantFrom(ctx, actor, TenantSpec{ID: id, Packs: packs})
}

// CreateTenantFrom creates a tenant as CreateTenant does, with the choices
// of spec. The phone region is fixed at creation (the spec's, else the
// first pack's that names one, else lethe.DefaultPhoneRegion) and stored,
// so that a later pack release does not change how its numbers are read.
func (e *Engine) CreateTenantFrom(ctx context.Context, actor string, spec TenantSpec) (*lethe.Tenant, error) {
	id, packs := spec.ID, spec.Packs
	if !tenantIDPattern.MatchString(id) {
		return nil, &lethe.FieldError{Field: "id", Reason: "want 1-63 characters of a-z, 0-9, '_' and '-', starting with a letter or digit"}
	}
	if len(packs) == 0 && e.extra == nil {
		return nil, &lethe.FieldError{Field: "packs", Reason: fmt.Sprintf("name at least one pack (%v)", policy.PackNames())}
	}
	seen := map[string]bool{}
	for i, p := range packs {
		if seen[p] {
			return nil, &lethe.FieldError{Field: fmt.Sprintf("packs[%d]", i), Reason: fmt.Sprintf("pack %q named twice", p)}
		}
		seen[p] = true
		if _, err := policy.Pack(p); err != nil {
			return nil, &lethe.FieldError{Field: fmt.Sprintf("packs[%d]", i), Reason: fmt.Sprintf("unknown pack %q; known packs: %v", p, policy.PackNames())}
		}
	}
	set, err := e.policySet(packs)
	if err != nil {
		return nil, &lethe.FieldError{Field: "packs", Reason: err.Error()}
	}
	region := spec.PhoneRegion
	if region == "" {
		region = set.PhoneRegion()
	}
	if region == "" {
		region = lethe.DefaultPhoneRegion
	}
	if err := keyring.CheckPhoneRegion(region); err != nil {
		return nil, phoneRegionError(region)
	}
	t := &lethe.Tenant{ID: id, Packs: append([]string(nil), packs...), PhoneRegion: region, CreatedAt: e.now().UTC()}
	if err := e.store.CreateTenant(ctx, t); err != nil {
		return nil, err
	}
	if err := e.keys.CreateTenant(ctx, id); err != nil {
		return nil, fmt.Errorf("tenant %s: create keys: %w", id, err)
	}
	if err := e.audit(ctx, id, lethe.LogSecurity, actor, "tenant.create", map[string]any{"packs": packs, "phone_region": region}); err != nil {
		return nil, err
	}
	return t, nil
}

func phoneRegionError(region string) error {
	return &lethe.FieldError{Field: "phone_region", Reason: fmt.Sprintf("%q is not a supported region; want a two-letter country code with a numbering plan, such as DE, NL or BE", region)}
}

// SetPhoneRegion changes the region a tenant's phone numbers without a
// country code are read in, from the next write or lookup on. Stored
// blind-index hashes are not recomputed: they are hashes of the E.164
// form, so a lookup in E.164 (+49...) still finds numbers stored under the
// old region, while a national spelling ("0171 ...") is now read in the
// new one. Other instances apply the change within settingsTTL.
func (e *Engine) SetPhoneRegion(ctx context.Context, actor, tenant, region string) (*lethe.Tenant, error) {
	ts, err := e.tenant(ctx, tenant)
	if err != nil {
		return nil, err
	}
	if keyring.CheckPhoneRegion(region) != nil {
		return nil, phoneRegionError(region)
	}
	if err := e.audit(ctx, tenant, lethe.LogSecurity, actor, "tenant.update", map[string]any{"phone_region": region, "was": ts.tenant.PhoneRegion}); err != nil {
		return nil, err
	}
	if err := e.store.SetTenantPhoneRegion(ctx, tenant, region); err != nil {
		return nil, err
	}
	t, err := e.store.Tenant(ctx, tenant)
	if err != nil {
		return nil, err
	}
	return e.cacheTenant(t, ts.set).tenant, nil
}

// Tenant returns one tenant.
func (e *Engine) Tenant(ctx context.Context, id string) (*lethe.Tenant, error) {
	ts, err := e.tenant(ctx, id)
	if err != nil {
		return nil, err
	}
	return ts.tenant, nil
}

// Collections returns the tenant's collections, in pack order.
func (e *Engine) Collections(ctx context.Context, tenant string) ([]*policy.Collection, error) {
	ts, err := e.tenant(ctx, tenant)
	if err != nil {
		return nil, err
	}
	return ts.set.Collections(), nil
}

// Collection returns one of the tenant's collections.
func (e *Engine) Collection(ctx context.Context, tenant, name string) (*policy.Collection, error) {
	_, c, err := e.collection(ctx, tenant, name)
	return c, err
}

// audit appends one entry to a tenant log. It is the fail-closed path:
// callers return its error, so an operation that cannot be recorded is
// reported as failed.
func (e *Engine) audit(ctx context.Context, tenant string, log lethe.Log, actor, event string, data map[string]any) error {
	entry, err := e.entry(tenant, log, actor, event, data)
	if err != nil {
		return err
	}
	if err := e.store.AppendAudit(ctx, []*lethe.AuditEntry{entry}); err != nil {
		return fmt.Errorf("audit %s: %w", event, err)
	}
	return nil
}

func (e *Engine) entry(tenant string, log lethe.Log, actor, event string, data map[string]any) (*lethe.AuditEntry, error) {
	if data == nil {
		data = map[string]any{}
	}
	b, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("audit %s: %w", event, err)
	}
	return &lethe.AuditEntry{Tenant: tenant, Log: log, Time: e.now().UTC(), Actor: actor, Event: event, Data: b}, nil
}

// IsNotFound reports whether err means "does not exist".
func IsNotFound(err error) bool { return errors.Is(err, lethe.ErrNotFound) }
