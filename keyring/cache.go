package keyring

import (
	"context"
	"errors"
	"time"

	"github.com/lethe-privacy/lethe"
)

// DefaultCacheTTL is how long a tenant's unwrapped keys stay in memory
// before they are unwrapped again. Short enough that a key revoked in the
// KMS stops working within the hour; long enough that the KMS sees a call
// per tenant per hour, not per request.
const DefaultCacheTTL = time.Hour

// DefaultOutageGrace is how long past CacheTTL cached keys keep serving
// while the master key service is unreachable: a restart of Vault, a
// network blip. Past it the keys are dropped and calls fail (closed).
const DefaultOutageGrace = 15 * time.Minute

// outage records that the master key service could not be reached.
type outage struct {
	since time.Time // zero: no outage
	err   string
}

// Health is what /readyz reports about the master key service.
type Health struct {
	// Reachable is false while the last unwrap failed with the service
	// unreachable; cached keys then serve until CachedUntil.
	Reachable bool
	Since     time.Time // when the outage began (zero when reachable)
	Error     string    // the last failure, with no secret in it
}

func (k *Keyring) ttl() time.Duration {
	if k.CacheTTL > 0 {
		return k.CacheTTL
	}
	return DefaultCacheTTL
}

func (k *Keyring) grace() time.Duration {
	if k.OutageGrace > 0 {
		return k.OutageGrace
	}
	return DefaultOutageGrace
}

// cached serves t while it is younger than CacheTTL. An older t is
// unwrapped again by one caller (the others keep being served t); when
// that fails because the master key service is unreachable, t goes on
// serving until CacheTTL+OutageGrace after it was loaded, and Health says
// so. Any other failure, or the end of the grace, drops t from memory and
// fails: keys the KMS no longer vouches for are not used.
func (k *Keyring) cached(ctx context.Context, t *TenantKeys) (*TenantKeys, error) {
	now := k.Now()
	k.mu.Lock()
	age := now.Sub(t.loaded)
	k.mu.Unlock()
	if age < k.ttl() {
		k.checkVersions(ctx, t, now)
		return t, nil
	}
	if !t.refreshing.CompareAndSwap(false, true) {
		if age < k.ttl()+k.grace() {
			return t, nil
		}
	} else {
		defer t.refreshing.Store(false)
	}
	fresh, err := k.load(ctx, t.tenant)
	if err == nil {
		t.merge(fresh)
		k.mu.Lock()
		t.loaded = now
		k.mu.Unlock()
		k.note(t.tenant, nil)
		return t, nil
	}
	k.note(t.tenant, err)
	if errors.Is(err, lethe.ErrUnavailable) && age < k.ttl()+k.grace() {
		return t, nil
	}
	k.mu.Lock()
	if k.tenants[t.tenant] == t {
		delete(k.tenants, t.tenant)
	}
	k.mu.Unlock()
	return nil, err
}

// noteOutage records the result of an unwrap: an unreachable service
// starts (or continues) an outage, anything else ends it.
func (k *Keyring) noteOutage(err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err != nil && errors.Is(err, lethe.ErrUnavailable) {
		if k.outage.since.IsZero() {
			k.outage.since = k.Now()
		}
		k.outage.err = err.Error()
		return
	}
	if err == nil {
		k.outage = outage{}
	}
}

// NoteMasterKey lets a caller that reached the master key service itself
// (a health probe) report the result, as Tenant does.
func (k *Keyring) NoteMasterKey(err error) { k.noteOutage(err) }

// Health reports whether the master key service answered the last time
// it was needed.
func (k *Keyring) Health() Health {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.outage.since.IsZero() {
		return Health{Reachable: true}
	}
	return Health{Since: k.outage.since, Error: k.outage.err}
}

// Grace is how long cached keys serve through an outage past CacheTTL.
func (k *Keyring) Grace() (ttl, grace time.Duration) { return k.ttl(), k.grace() }

// versionCheckEvery is how often a tenant's cached keys are compared with
// the store's list of versions: a rotation by another process (lethe keys
// rotate, another instance) reaches this one within it, so that it stops
// sealing under a retired version. One indexed read per tenant and period.
const versionCheckEvery = 5 * time.Second

// checkVersions merges versions another process added or retired. It
// reads wrapped keys only; it unwraps (loads) only when something changed.
// A failure leaves t as it is: the next period tries again.
func (k *Keyring) checkVersions(ctx context.Context, t *TenantKeys, now time.Time) {
	k.mu.Lock()
	due := now.Sub(t.checked) >= versionCheckEvery
	if due {
		t.checked = now
	}
	k.mu.Unlock()
	if !due || !t.refreshing.CompareAndSwap(false, true) {
		return
	}
	defer t.refreshing.Store(false)
	wrapped, err := k.store.Keys(ctx, t.tenant)
	if err != nil {
		return
	}
	t.mu.RLock()
	changed := false
	for _, w := range wrapped {
		if w.Purpose != lethe.KeyData {
			continue
		}
		dk := t.data[w.Version]
		if dk == nil || dk.retired != w.Retired {
			changed = true
			break
		}
	}
	t.mu.RUnlock()
	if !changed {
		return
	}
	if fresh, err := k.load(ctx, t.tenant); err == nil {
		t.merge(fresh)
	}
}
