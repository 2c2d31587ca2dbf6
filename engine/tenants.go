package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/policy"
)

var tenantIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// CreateTenant creates a tenant using the named packs, with its own data,
// blind-index and receipt keys.
func (e *Engine) CreateTenant(ctx context.Context, actor, id string, packs []string) (*lethe.Tenant, error) {
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
	if _, err := e.policySet(packs); err != nil {
		return nil, &lethe.FieldError{Field: "packs", Reason: err.Error()}
	}
	t := &lethe.Tenant{ID: id, Packs: append([]string(nil), packs...), CreatedAt: e.now().UTC()}
	if err := e.store.CreateTenant(ctx, t); err != nil {
		return nil, err
	}
	if err := e.keys.CreateTenant(ctx, id); err != nil {
		return nil, fmt.Errorf("tenant %s: create keys: %w", id, err)
	}
	if err := e.audit(ctx, id, lethe.LogSecurity, actor, "tenant.create", map[string]any{"packs": packs}); err != nil {
		return nil, err
	}
	return t, nil
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
