package keyring

import (
	"context"
	"errors"
	"fmt"
	"maps"
)

// Chain wraps with Own and unwraps each key through whichever of Own and
// Instance knows the version that wrapped it: a tenant moving to a key of
// its own (bring-your-own-key) reads throughout the move, whichever of its
// keys has moved already.
type Chain struct {
	Own      Wrapper
	Instance Wrapper
}

var _ Wrapper = Chain{}

// Wrap wraps with the tenant's own key.
func (c Chain) Wrap(ctx context.Context, dek []byte) ([]byte, string, error) {
	return c.Own.Wrap(ctx, dek)
}

// Unwrap unwraps through the key that wrapped: the tenant's own when it
// knows kekID, else the instance's.
func (c Chain) Unwrap(ctx context.Context, wrapped []byte, kekID string) ([]byte, error) {
	if Knows(c.Own, kekID) {
		return c.Own.Unwrap(ctx, wrapped, kekID)
	}
	return c.Instance.Unwrap(ctx, wrapped, kekID)
}

// ID is the tenant's own key's id.
func (c Chain) ID() string { return c.Own.ID() }

// wrapperFor returns the master key that wraps tenant's keys: its own
// (TenantKEK), chained to the instance's for keys not moved yet, or the
// instance's.
func (k *Keyring) wrapperFor(ctx context.Context, tenant string) (Wrapper, error) {
	if k.TenantKEK == nil {
		return k.kek, nil
	}
	own, err := k.TenantKEK(ctx, tenant)
	if err != nil {
		k.noteTenant(tenant, err)
		return nil, fmt.Errorf("tenant %s: its own master key: %w", tenant, err)
	}
	if own == nil {
		return k.kek, nil
	}
	k.mu.Lock()
	k.own[tenant] = true
	k.mu.Unlock()
	return Chain{Own: own, Instance: k.kek}, nil
}

// note records the result of loading a tenant's keys: against the
// tenant when it has a master key of its own, so that its key service
// failing says nothing about the instance's, else against the instance's.
func (k *Keyring) note(tenant string, err error) {
	k.mu.Lock()
	own := k.own[tenant]
	k.mu.Unlock()
	if own {
		k.noteTenant(tenant, err)
		return
	}
	k.noteOutage(err)
}

func (k *Keyring) noteTenant(tenant string, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err == nil {
		delete(k.failing, tenant)
		return
	}
	if !errors.Is(err, context.Canceled) {
		k.failing[tenant] = err.Error()
	}
}

// FailingTenants names the tenants whose keys failed to load through a
// master key of their own, with the last error (no secret in it). Their
// calls fail, closed; every other tenant goes on.
func (k *Keyring) FailingTenants() map[string]string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return maps.Clone(k.failing)
}
