package engine

import (
	"context"
	"fmt"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/keyring"
)

// Writes after a key rotation. A write in flight when a tenant's data key
// is rotated may carry values sealed under the old version: a create
// sealed just before, or a patch writing back the envelopes it read. If
// it lands after the rewrap's last pass, those values stay on the old
// version, which then can never be destroyed. So every record write goes
// through freshen, which re-seals values not under the current version,
// holding the write gate's read side; a rewrap first takes the gate's
// write side once, which waits for every write already past freshen.
// After that barrier every write sees the new version as current.

// freshen re-seals, in place, the values of recs that are not under their
// tenant's current data key version. Values already current keep their
// bytes; the common case costs a version read per value.
func (e *Engine) freshen(ctx context.Context, recs []*lethe.Record) error {
	var (
		tenant string
		keys   *keyring.TenantKeys
	)
	for _, r := range recs {
		if r == nil || len(r.Sealed) == 0 {
			continue
		}
		if keys == nil || r.Tenant != tenant {
			k, err := e.keys.Tenant(ctx, r.Tenant)
			if err != nil {
				return err
			}
			tenant, keys = r.Tenant, k
		}
		cur := keys.CurrentVersion()
		for name, env := range r.Sealed {
			v, err := keyring.KeyVersion(env)
			if err != nil || v == cur {
				continue // not an envelope the keyring made: left to the store's checks
			}
			ad := keyring.AD{Tenant: r.Tenant, Collection: r.Collection, Record: r.ID, Field: name}
			pt, err := keys.Open(env, ad)
			if err != nil {
				return fmt.Errorf("re-seal %s/%s/%s: %w", r.Collection, r.ID, name, err)
			}
			fresh, err := keys.Seal(pt, ad)
			clear(pt)
			if err != nil {
				return err
			}
			r.Sealed[name] = fresh
		}
	}
	return nil
}

// writeBarrier waits for every record write that may still carry values
// of a version rotated away before it was called.
func (e *Engine) writeBarrier() {
	e.writeGate.Lock()
	//lint:ignore SA2001 an empty critical section is the barrier
	e.writeGate.Unlock()
}

func (s *auditedStore) InsertRecords(ctx context.Context, recs []*lethe.Record) error {
	s.e.writeGate.RLock()
	defer s.e.writeGate.RUnlock()
	if err := s.e.freshen(ctx, recs); err != nil {
		return err
	}
	return s.Store.InsertRecords(ctx, recs)
}

func (s *auditedStore) UpdateRecord(ctx context.Context, r *lethe.Record) error {
	s.e.writeGate.RLock()
	defer s.e.writeGate.RUnlock()
	if err := s.e.freshen(ctx, []*lethe.Record{r}); err != nil {
		return err
	}
	return s.Store.UpdateRecord(ctx, r)
}
