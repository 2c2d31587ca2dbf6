package engine

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/keyring"
)

// ConsoleRole is what a console user may do. The console has its own three
// roles rather than the API's five because a person at a browser works by
// job, not by endpoint: the admin manages users and every tenant, a
// manager runs one tenant, an auditor reads one tenant's logs and changes
// nothing.
type ConsoleRole string

const (
	ConsoleAdmin   ConsoleRole = "admin"
	ConsoleManager ConsoleRole = "manager"
	ConsoleAuditor ConsoleRole = "auditor"
)

// ConsoleUser is one person who may sign in to the console. Tenant is ""
// for the global admin and set for every other role. Hash is an argon2id
// PHC string made by the console package; the engine stores it opaquely.
type ConsoleUser struct {
	Name    string      `json:"name"`
	Tenant  string      `json:"tenant,omitempty"`
	Role    ConsoleRole `json:"role"`
	Hash    string      `json:"hash"`
	Created time.Time   `json:"created"`
}

const (
	metaConsoleUsers = "console_users"
	metaConsoleKey   = "console_session_key"
)

var consoleUserName = regexp.MustCompile(`^[a-z0-9][a-z0-9._@-]{0,63}$`)

// ConsoleUsers returns every console user, by name.
func (e *Engine) ConsoleUsers(ctx context.Context) ([]ConsoleUser, error) {
	raw, err := e.store.Meta(ctx, metaConsoleUsers)
	if errors.Is(err, lethe.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var us []ConsoleUser
	if err := json.Unmarshal(raw, &us); err != nil {
		return nil, fmt.Errorf("console users: %w", err)
	}
	sort.Slice(us, func(i, j int) bool { return us[i].Name < us[j].Name })
	return us, nil
}

// ConsoleUser returns one user, or lethe.ErrNotFound.
func (e *Engine) ConsoleUser(ctx context.Context, name string) (*ConsoleUser, error) {
	us, err := e.ConsoleUsers(ctx)
	if err != nil {
		return nil, err
	}
	for i := range us {
		if us[i].Name == name {
			return &us[i], nil
		}
	}
	return nil, fmt.Errorf("%w: console user %q", lethe.ErrNotFound, name)
}

// AddConsoleUser stores a new user (lethe.ErrConflict if the name is
// taken) and records it in the security log of its tenant.
func (e *Engine) AddConsoleUser(ctx context.Context, actor string, u ConsoleUser) error {
	if !consoleUserName.MatchString(u.Name) {
		return fmt.Errorf("%w: user name must be 1-64 of a-z 0-9 . _ @ -, starting with a letter or digit", lethe.ErrInvalid)
	}
	switch u.Role {
	case ConsoleAdmin:
		if u.Tenant != "" {
			return fmt.Errorf("%w: the admin role is global: give no tenant", lethe.ErrInvalid)
		}
	case ConsoleManager, ConsoleAuditor:
		if u.Tenant == "" {
			return fmt.Errorf("%w: role %s needs a tenant", lethe.ErrInvalid, u.Role)
		}
		if _, err := e.store.Tenant(ctx, u.Tenant); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%w: role must be admin, manager or auditor", lethe.ErrInvalid)
	}
	if u.Hash == "" {
		return fmt.Errorf("%w: no password hash", lethe.ErrInvalid)
	}
	e.consoleMu.Lock()
	defer e.consoleMu.Unlock()
	us, err := e.ConsoleUsers(ctx)
	if err != nil {
		return err
	}
	for _, o := range us {
		if o.Name == u.Name {
			return fmt.Errorf("%w: console user %q exists", lethe.ErrConflict, u.Name)
		}
	}
	u.Created = e.now()
	us = append(us, u)
	if err := e.putConsoleUsers(ctx, us); err != nil {
		return err
	}
	return e.appendEntry(ctx, tenantOrSystem(u.Tenant), lethe.LogSecurity, actor, "console.user.add",
		map[string]any{"user": u.Name, "role": string(u.Role)}, nil)
}

// RemoveConsoleUser deletes a user (lethe.ErrNotFound if there is none).
// Sessions it holds end at their next request: the console looks the user
// up on every one.
func (e *Engine) RemoveConsoleUser(ctx context.Context, actor, name string) error {
	e.consoleMu.Lock()
	defer e.consoleMu.Unlock()
	us, err := e.ConsoleUsers(ctx)
	if err != nil {
		return err
	}
	for i, o := range us {
		if o.Name == name {
			us = append(us[:i], us[i+1:]...)
			if err := e.putConsoleUsers(ctx, us); err != nil {
				return err
			}
			return e.appendEntry(ctx, tenantOrSystem(o.Tenant), lethe.LogSecurity, actor, "console.user.remove",
				map[string]any{"user": name}, nil)
		}
	}
	return fmt.Errorf("%w: console user %q", lethe.ErrNotFound, name)
}

func (e *Engine) putConsoleUsers(ctx context.Context, us []ConsoleUser) error {
	raw, err := json.Marshal(us)
	if err != nil {
		return err
	}
	return e.store.SetMeta(ctx, metaConsoleUsers, raw)
}

func tenantOrSystem(t string) string {
	if t == "" {
		return lethe.SystemTenant
	}
	return t
}

type wrappedConsoleKey struct {
	Wrapped []byte `json:"wrapped"`
	KEK     string `json:"kek"`
}

// ConsoleKey returns the 32-byte key the console signs its sessions and
// CSRF tokens with. It is made once, stored wrapped by the master key
// (never in the clear in the database) and shared by every instance, so a
// session started on one is good on all; a new master key means new
// sessions.
func (e *Engine) ConsoleKey(ctx context.Context) ([]byte, error) {
	raw, err := e.store.Meta(ctx, metaConsoleKey)
	if errors.Is(err, lethe.ErrNotFound) {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		w, id, err := e.kek.Wrap(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("wrap console key: %w", err)
		}
		enc, err := json.Marshal(wrappedConsoleKey{Wrapped: w, KEK: id})
		if err != nil {
			return nil, err
		}
		// Instances starting at once: the first key stored wins.
		raw, err = e.store.InitMeta(ctx, metaConsoleKey, enc)
		if err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	var wk wrappedConsoleKey
	if err := json.Unmarshal(raw, &wk); err != nil {
		return nil, fmt.Errorf("console key: %w", err)
	}
	return e.kek.Unwrap(ctx, wk.Wrapped, wk.KEK)
}

// consoleKeyKEK is the master key version the console key is wrapped
// under; false when no console key was made yet.
func (e *Engine) consoleKeyKEK(ctx context.Context) (string, bool) {
	raw, err := e.store.Meta(ctx, metaConsoleKey)
	if err != nil {
		return "", false
	}
	var wk wrappedConsoleKey
	if json.Unmarshal(raw, &wk) != nil {
		return "", false
	}
	return wk.KEK, true
}

// rewrapConsoleKey moves the console key to the master key's current
// version (part of the master rewrap), so that destroying the old
// version does not sign every console user out for good.
func (e *Engine) rewrapConsoleKey(ctx context.Context, m keyring.Master, target string) (bool, error) {
	raw, err := e.store.Meta(ctx, metaConsoleKey)
	if errors.Is(err, lethe.ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	var wk wrappedConsoleKey
	if err := json.Unmarshal(raw, &wk); err != nil {
		return false, fmt.Errorf("console key: %w", err)
	}
	if wk.KEK == target {
		return false, nil
	}
	w, id, err := keyring.Rewrap(ctx, m, wk.Wrapped, wk.KEK)
	if err != nil {
		return false, fmt.Errorf("rewrap console key: %w", err)
	}
	enc, err := json.Marshal(wrappedConsoleKey{Wrapped: w, KEK: id})
	if err != nil {
		return false, err
	}
	return true, e.store.SetMeta(ctx, metaConsoleKey, enc)
}
