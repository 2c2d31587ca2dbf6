package engine

// Checkpointing, expiring, reading and verifying the logs the audit
// trail has written.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/audit"
	"github.com/lethe-privacy/lethe/keyring"
)

// CheckpointAudit stores a periodic checkpoint of every chain whose signed
// head moved since its last checkpoint: the anchors retention cuts at. It
// copies the signed head after checking its MAC, so a head altered in the
// database never becomes an anchor. Returns how many were stored.
func (e *Engine) CheckpointAudit(ctx context.Context) (int, error) {
	chains, err := e.aud.raw.AuditChains(ctx)
	if err != nil {
		return 0, fmt.Errorf("audit checkpoint: %w", err)
	}
	n := 0
	for _, c := range chains {
		head, err := e.aud.raw.AuditHead(ctx, c.Tenant, c.Log)
		if errors.Is(err, lethe.ErrNotFound) {
			continue
		}
		if err != nil {
			return n, fmt.Errorf("audit checkpoint: %w", err)
		}
		cps, err := e.aud.raw.Checkpoints(ctx, c.Tenant, c.Log)
		if err != nil {
			return n, fmt.Errorf("audit checkpoint: %w", err)
		}
		if len(cps) > 0 && cps[len(cps)-1].Seq >= head.Seq {
			continue
		}
		s, err := e.signer(ctx, c.Tenant, false)
		if err != nil {
			return n, fmt.Errorf("audit checkpoint %s/%s: %w", c.Tenant, c.Log, err)
		}
		if !audit.ValidMAC(s, head) {
			return n, fmt.Errorf("audit checkpoint %s/%s: %w: signed head at seq %d does not verify; run lethe audit verify", c.Tenant, c.Log, lethe.ErrCrypto, head.Seq)
		}
		if err := e.aud.raw.PutCheckpoint(ctx, head); err != nil {
			return n, fmt.Errorf("audit checkpoint: %w", err)
		}
		n++
	}
	return n, nil
}

// ExpireAudit checkpoints every chain and then removes each log's entries
// past its retention, up to a checkpoint (which stays as the chain's
// anchor, so the chain still verifies). A summary goes to the system
// runtime log. Sweep calls it after its batches.
func (e *Engine) ExpireAudit(ctx context.Context) (int64, error) {
	if _, err := e.CheckpointAudit(ctx); err != nil {
		return 0, err
	}
	chains, err := e.aud.raw.AuditChains(ctx)
	if err != nil {
		return 0, fmt.Errorf("audit expiry: %w", err)
	}
	now := e.now()
	var total int64
	counts := map[string]int64{}
	for _, c := range chains {
		keep, err := e.aud.ret.For(c.Log)
		if err != nil {
			continue // a log of a later version: not ours to expire
		}
		n, err := e.aud.raw.ExpireAudit(ctx, c.Tenant, c.Log, now.Add(-keep))
		if err != nil {
			return total, fmt.Errorf("audit expiry: %w", err)
		}
		if n > 0 {
			counts[string(c.Log)] += n
			total += n
		}
	}
	if total > 0 {
		if err := e.LogServer(ctx, "audit.expire", map[string]any{"removed": counts}); err != nil {
			return total, err
		}
	}
	return total, nil
}

// LogEntry is an audit entry as a reader sees it: sealed parts opened.
type LogEntry struct {
	Seq   int64
	Time  time.Time
	Actor string
	Event string
	Data  map[string]any
	Hash  []byte
}

// AuditLog returns a page of a tenant's log (the admin may read the
// system tenant's) and the cursor of the next page (0 when this was the
// last). Sealed parts are opened for the caller; a part that no longer
// opens shows as "sealed": "unreadable".
func (e *Engine) AuditLog(ctx context.Context, q lethe.AuditQuery) ([]*LogEntry, int64, error) {
	if _, err := audit.ParseLog(string(q.Log)); err != nil {
		return nil, 0, err
	}
	// Entries handed over without waiting (authentications) are
	// committed before the log is read: a caller sees its own calls.
	if err := e.aud.lazy.Sync(ctx); err != nil {
		return nil, 0, err
	}
	if q.Tenant != lethe.SystemTenant {
		if _, err := e.tenant(ctx, q.Tenant); err != nil {
			return nil, 0, err
		}
	}
	if q.Limit <= 0 || q.Limit > audit.MaxLimit {
		q.Limit = audit.DefaultLimit
	}
	want := q.Limit
	q.Limit++ // one more tells whether a next page exists
	raw, err := e.aud.raw.AuditEntries(ctx, q)
	if err != nil {
		return nil, 0, err
	}
	var next int64
	if len(raw) > want {
		raw = raw[:want]
		next = raw[want-1].Seq
	}
	var keys *keyring.TenantKeys
	out := make([]*LogEntry, 0, len(raw))
	for _, en := range raw {
		le := &LogEntry{Seq: en.Seq, Time: en.Time, Actor: en.Actor, Event: en.Event, Hash: en.Hash, Data: map[string]any{}}
		if len(en.Data) > 0 {
			if err := json.Unmarshal(en.Data, &le.Data); err != nil {
				le.Data = map[string]any{"unparsable": true}
			}
		}
		if s, ok := le.Data[sealedKey].(string); ok && audit.Sealed(q.Log) {
			if keys == nil {
				keys, _ = e.keys.Tenant(ctx, q.Tenant)
			}
			le.Data[sealedKey] = e.openSealed(keys, q.Tenant, q.Log, s)
		}
		out = append(out, le)
	}
	return out, next, nil
}

// openSealed opens an entry's sealed part (base64 of a field envelope).
func (e *Engine) openSealed(keys *keyring.TenantKeys, tenant string, log lethe.Log, s string) any {
	env, err := base64.StdEncoding.DecodeString(s)
	if err != nil || keys == nil {
		return "unreadable"
	}
	plain, err := keys.Open(env, auditAD(tenant, log))
	if err != nil {
		return "unreadable"
	}
	var v any
	if json.Unmarshal(plain, &v) != nil {
		return "unreadable"
	}
	return v
}

// AuditReport is the outcome of verifying every chain.
type AuditReport struct {
	Chains  int
	Entries int64
	Breaks  []*audit.Break // the first break of each broken chain
}

// VerifyAudit checks every chain (see package audit): hashes, seq
// continuity, previous-hash links, checkpoint and head signatures, and
// that each chain starts at seq 1 or a signed anchor. It reads only.
func (e *Engine) VerifyAudit(ctx context.Context) (*AuditReport, error) {
	if err := e.aud.lazy.Sync(ctx); err != nil {
		return nil, err
	}
	chains, err := e.aud.raw.AuditChains(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit verify: %w", err)
	}
	rep := &AuditReport{Chains: len(chains)}
	for _, c := range chains {
		b, n, err := e.verifyChain(ctx, c)
		if err != nil {
			return rep, err
		}
		rep.Entries += n
		if b != nil {
			rep.Breaks = append(rep.Breaks, b)
		}
	}
	return rep, nil
}

func (e *Engine) verifyChain(ctx context.Context, c lethe.AuditChain) (*audit.Break, int64, error) {
	ch := audit.Chain{Tenant: c.Tenant, Log: c.Log}
	head, err := e.aud.raw.AuditHead(ctx, c.Tenant, c.Log)
	switch {
	case err == nil:
		ch.Head = head
	case !errors.Is(err, lethe.ErrNotFound):
		return nil, 0, fmt.Errorf("audit verify %s/%s: %w", c.Tenant, c.Log, err)
	}
	if ch.Checkpoints, err = e.aud.raw.Checkpoints(ctx, c.Tenant, c.Log); err != nil {
		return nil, 0, fmt.Errorf("audit verify %s/%s: %w", c.Tenant, c.Log, err)
	}
	if k, err := e.signer(ctx, c.Tenant, false); err == nil {
		ch.Signer = k
	} else if !errors.Is(err, lethe.ErrNotFound) {
		return nil, 0, fmt.Errorf("audit verify %s/%s: %w", c.Tenant, c.Log, err)
	}
	v := audit.NewVerifier(ch)
	var after int64
	for {
		page, err := e.aud.raw.AuditEntries(ctx, lethe.AuditQuery{Tenant: c.Tenant, Log: c.Log, AfterSeq: after, Limit: audit.MaxLimit})
		if err != nil {
			return nil, v.Entries(), fmt.Errorf("audit verify %s/%s: %w", c.Tenant, c.Log, err)
		}
		for _, en := range page {
			v.Add(en)
		}
		if len(page) < audit.MaxLimit {
			break
		}
		after = page[len(page)-1].Seq
	}
	return v.Finish(), v.Entries(), nil
}

// AuditChains lists the stored chains (for tools).
func (e *Engine) AuditChains(ctx context.Context) ([]lethe.AuditChain, error) {
	if err := e.aud.lazy.Sync(ctx); err != nil {
		return nil, err
	}
	return e.aud.raw.AuditChains(ctx)
}
