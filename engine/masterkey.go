package engine

import (
	"context"
	"sync"
	"time"

	"github.com/lethe-privacy/lethe/keyring"
)

// masterKeyProbeEvery bounds how often MasterKeyHealth asks the master
// key service: /readyz may be polled every second by a load balancer, and
// each probe is a KMS call.
const masterKeyProbeEvery = 5 * time.Second

type masterKeyState struct {
	mu   sync.Mutex
	last time.Time
}

// MasterKeyHealth is what /readyz says about the master key.
type MasterKeyHealth struct {
	// Provider names it ("key file ...", "Vault transit key ..."), no secret.
	Provider  string
	Reachable bool
	// Since is when it stopped answering; cached tenant keys serve until
	// they are CacheTTL+Grace old.
	Since        time.Time
	CacheTTL     time.Duration
	OutageGrace  time.Duration
	ErrorMessage string
}

// MasterKeyHealth unwraps the stored probe (at most every few seconds)
// and reports whether the master key service answers. While it does not,
// the process goes on working with the tenant keys it holds in memory,
// for a bounded time (keyring.Keyring.CacheTTL and OutageGrace).
func (e *Engine) MasterKeyHealth(ctx context.Context) MasterKeyHealth {
	e.mk.mu.Lock()
	due := time.Since(e.mk.last) >= masterKeyProbeEvery
	if due {
		e.mk.last = time.Now()
	}
	e.mk.mu.Unlock()
	if due {
		p, err := e.store.Meta(ctx, metaKEKProbe)
		if err == nil {
			err = keyring.CheckProbe(ctx, e.kek, p)
		}
		e.keys.NoteMasterKey(err)
	}
	h := e.keys.Health()
	ttl, grace := e.keys.Grace()
	out := MasterKeyHealth{Reachable: h.Reachable, Since: h.Since, CacheTTL: ttl, OutageGrace: grace, ErrorMessage: h.Error}
	if d, ok := e.kek.(interface{ Describe() string }); ok {
		out.Provider = d.Describe()
	}
	return out
}
