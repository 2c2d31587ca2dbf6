package engine

import (
	"context"
	"errors"
	"sort"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/keyring"
)

// DataKeyVersion is one data key version of a tenant and what uses it.
type DataKeyVersion struct {
	Version uint32 `json:"version"`
	Current bool   `json:"current"`
	Retired bool   `json:"retired"`
	// Values counts record values sealed under it; AuditEntries the audit
	// entries whose sealed part it sealed.
	Values       int64 `json:"values"`
	AuditEntries int64 `json:"audit_entries"`
}

// TenantKeyStatus is what lethe keys status --tenant and the API show.
type TenantKeyStatus struct {
	Tenant   string           `json:"tenant"`
	Versions []DataKeyVersion `json:"versions"`
	Rewrap   *RewrapJob       `json:"rewrap,omitempty"`
}

// TenantKeyStatus counts a tenant's values per data key version (a read
// of every record with sealed fields and of its sealed logs).
func (e *Engine) TenantKeyStatus(ctx context.Context, tenant string) (*TenantKeyStatus, error) {
	if _, err := e.tenant(ctx, tenant); err != nil {
		return nil, err
	}
	if err := e.keys.Refresh(ctx, tenant); err != nil {
		return nil, err
	}
	keys, err := e.keys.Tenant(ctx, tenant)
	if err != nil {
		return nil, err
	}
	// The job is read before the counts: a rewrap that finishes in between
	// then shows as running beside counts already moved, never as done
	// beside counts from before it.
	st := &TenantKeyStatus{Tenant: tenant}
	if j, err := e.RewrapStatus(ctx, ScopeTenant, tenant); err == nil {
		st.Rewrap = j
	} else if !errors.Is(err, lethe.ErrNotFound) {
		return nil, err
	}
	values, err := e.valueVersions(ctx, tenant)
	if err != nil {
		return nil, err
	}
	entries, err := e.auditVersions(ctx, tenant)
	if err != nil {
		return nil, err
	}
	for _, v := range keys.Versions() {
		st.Versions = append(st.Versions, DataKeyVersion{Version: v.Version, Current: v.Current, Retired: v.Retired,
			Values: values[v.Version], AuditEntries: entries[v.Version]})
	}
	return st, nil
}

// MasterKeyVersion is one master key version and how many wrapped keys
// (the probe counted) it wraps.
type MasterKeyVersion struct {
	ID          string `json:"id"`
	Current     bool   `json:"current"`
	WrappedKeys int64  `json:"wrapped_keys"`
}

// MasterKeyStatus is what lethe keys status shows of the master key.
type MasterKeyStatus struct {
	Provider string             `json:"provider"`
	Versions []MasterKeyVersion `json:"versions"`
	Rewrap   *RewrapJob         `json:"rewrap,omitempty"`
}

// MasterKeyStatus counts wrapped keys per master key version. A version
// the store names but the key no longer holds is listed too: its keys
// cannot be opened, which the operator must see.
func (e *Engine) MasterKeyStatus(ctx context.Context) (*MasterKeyStatus, error) {
	rs, err := e.rotationStore()
	if err != nil {
		return nil, err
	}
	st := &MasterKeyStatus{}
	// The job before the counts, as in TenantKeyStatus.
	if j, err := e.RewrapStatus(ctx, ScopeMaster, ""); err == nil {
		st.Rewrap = j
	} else if !errors.Is(err, lethe.ErrNotFound) {
		return nil, err
	}
	counts := map[string]int64{}
	keys, err := rs.AllKeys(ctx)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		counts[k.KEKID]++
	}
	if p, err := e.store.Meta(ctx, metaKEKProbe); err == nil {
		counts[keyring.ProbeKEKID(p)]++
	}
	if id, ok := e.consoleKeyKEK(ctx); ok {
		counts[id]++
	}
	ids := []string{e.kek.ID()}
	if m, ok := e.kek.(keyring.Master); ok {
		st.Provider = m.Describe()
		if ids, err = m.Versions(ctx); err != nil {
			return nil, err
		}
	}
	seen := map[string]bool{}
	for _, id := range ids {
		seen[id] = true
		st.Versions = append(st.Versions, MasterKeyVersion{ID: id, Current: id == e.kek.ID(), WrappedKeys: counts[id]})
	}
	var unknown []string
	for id := range counts {
		if !seen[id] {
			unknown = append(unknown, id)
		}
	}
	sort.Strings(unknown)
	for _, id := range unknown {
		st.Versions = append(st.Versions, MasterKeyVersion{ID: id, WrappedKeys: counts[id]})
	}
	return st, nil
}
