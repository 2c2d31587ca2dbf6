package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync/atomic"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/audit"
	"github.com/lethe-privacy/lethe/keyring"
)

// auditor is the engine's side of the audit trail: the group-committing
// appender every entry goes through, the raw store under the engine's
// audited one, and the retention of the three logs.
type auditor struct {
	raw lethe.Store
	app *audit.Appender
	// lazy group-commits, without waiting for the disk flush, what a
	// power cut may lose: reads of decrypted PII (merged per caller, see
	// lazyItem) and authentication passes. See
	// lethe.AuditStore.AppendAuditLazy.
	lazy        *audit.Batcher[lazyItem]
	lazyEntries atomic.Int64 // entries the lazy batches became
	reads       bool         // log every read of decrypted PII (manager log)
	ret         audit.Retention
}

// DefaultLazyAudit is how reads and authentication passes are
// committed: before each commit the batcher waits for the reads that
// announced themselves (startRead) and steps aside for callers that are
// running, as long as that brings more of them, for at most 2 ms.
// Commits then grow with the load (fewer commits are what audited reads
// gain most from, BENCHMARKS.md "Audited reads", ADR 0010), and callers
// that all wait already are committed at once.
var DefaultLazyAudit = audit.BatchOptions{Yield: true, Delay: 2 * time.Millisecond, SubmitDelay: 20 * time.Millisecond}

// initAudit wraps the store so that every audit entry the engine writes,
// whichever path it takes, ends up under a signed chain head.
func (e *Engine) initAudit(cfg Config) error {
	ret := cfg.AuditRetention.WithDefaults()
	if err := ret.Validate(); err != nil {
		return err
	}
	a := &auditor{raw: cfg.Store, reads: !cfg.NoReadAudit, ret: ret}
	a.app = audit.NewAppender(func(ctx context.Context, entries []*lethe.AuditEntry) error {
		return e.commitAudit(ctx, entries, a.raw.AppendAuditSigned)
	}, audit.BatchOptions{})
	lazy := cfg.LazyAudit
	if lazy == (audit.BatchOptions{}) {
		lazy = DefaultLazyAudit
	}
	a.lazy = audit.NewBatcher(e.commitLazy, lazy)
	e.aud = a
	e.store = &auditedStore{Store: cfg.Store, e: e}
	return nil
}

// auditedStore routes the store's audit writes through the engine:
// AppendAudit goes to the group-committing appender, which signs the new
// chain heads in the same transaction; batches that carry audit entries
// (sweeps, deletions, requests) get their chain heads signed right after
// they commit.
type auditedStore struct {
	lethe.Store
	e *Engine
}

// Unwrap names the store underneath, where lethe.StoreAs finds the
// optional interfaces (the group-commit hint Put announces itself to).
func (s *auditedStore) Unwrap() lethe.Store { return s.Store }

func (s *auditedStore) AppendAudit(ctx context.Context, entries []*lethe.AuditEntry) error {
	return s.e.aud.app.Append(ctx, entries...)
}

func (s *auditedStore) ApplyBatch(ctx context.Context, b *lethe.Batch) error {
	s.e.writeGate.RLock()
	defer s.e.writeGate.RUnlock()
	if err := s.e.freshen(ctx, b.Updates); err != nil {
		return err
	}
	if err := s.Store.ApplyBatch(ctx, b); err != nil {
		return err
	}
	s.e.unindexed(b.Deletes)
	s.e.indexed(b.Updates)
	s.e.signHeads(ctx, b.Audit)
	return nil
}

func (s *auditedStore) ApplyRequestBatch(ctx context.Context, b *lethe.RequestBatch) error {
	s.e.writeGate.RLock()
	defer s.e.writeGate.RUnlock()
	if err := s.e.freshen(ctx, b.Updates); err != nil {
		return err
	}
	if err := s.Store.ApplyRequestBatch(ctx, b); err != nil {
		return err
	}
	s.e.unindexed(b.Deletes)
	s.e.indexed(b.Updates)
	s.e.signHeads(ctx, b.Audit)
	return nil
}

// AuditStats is the work of the audit trail's two group commits so far.
type AuditStats struct {
	// Durable commits flush to disk: erasures, settings, keys, requests.
	// Its items are entries.
	Durable audit.Stats
	// Lazy commits do not wait for the flush: reads of decrypted PII and
	// authentication passes. Its items are reads and passes; LazyEntries
	// is how many entries they became (a caller's reads in one commit
	// share an entry).
	Lazy        audit.Stats
	LazyEntries int64
}

// AuditStats returns the work of the audit trail so far.
func (e *Engine) AuditStats() AuditStats {
	return AuditStats{Durable: e.aud.app.Stats(), Lazy: e.aud.lazy.Stats(), LazyEntries: e.aud.lazyEntries.Load()}
}

// commitAudit is the appender's commit: one transaction for the entries
// and their chains' signed heads. Keys are resolved first, since signing
// happens inside the store's transaction and must not call the store.
func (e *Engine) commitAudit(ctx context.Context, entries []*lethe.AuditEntry,
	appendSigned func(context.Context, []*lethe.AuditEntry, func(*lethe.Checkpoint) error) error) error {
	signers := map[string]audit.Signer{}
	for _, en := range entries {
		if _, ok := signers[en.Tenant]; ok {
			continue
		}
		s, err := e.signer(ctx, en.Tenant, true)
		if err != nil {
			return fmt.Errorf("audit: keys of %s: %w", en.Tenant, err)
		}
		signers[en.Tenant] = s
	}
	return appendSigned(ctx, entries, func(cp *lethe.Checkpoint) error {
		audit.Sign(signers[cp.Tenant], cp)
		return nil
	})
}

// signHeads signs the chain heads a committed batch moved. The batch is
// durable already, so a failure here is logged, not returned: the next
// append to the chain signs a head that covers these entries, and until
// then "lethe audit verify" reports them as not covered.
func (e *Engine) signHeads(ctx context.Context, entries []*lethe.AuditEntry) {
	for _, en := range lethe.ChainHeads(entries) {
		if err := e.signHead(ctx, en); err != nil {
			e.log.Error("audit: sign chain head", "tenant", en.Tenant, "log", en.Log, "seq", en.Seq, "err", err)
		}
	}
}

func (e *Engine) signHead(ctx context.Context, en *lethe.AuditEntry) error {
	s, err := e.signer(ctx, en.Tenant, true)
	if err != nil {
		return err
	}
	cp := en.Head()
	audit.Sign(s, cp)
	return e.aud.raw.SetAuditHead(ctx, cp)
}

// signer returns the key that signs a tenant's checkpoints. The reserved
// system tenant gets its keys on first use when create is set.
func (e *Engine) signer(ctx context.Context, tenant string, create bool) (*keyring.TenantKeys, error) {
	k, err := e.keys.Tenant(ctx, tenant)
	if err == nil || !create || tenant != lethe.SystemTenant || !errors.Is(err, lethe.ErrNotFound) {
		return k, err
	}
	if err := e.keys.CreateTenant(ctx, tenant); err != nil && !errors.Is(err, lethe.ErrConflict) {
		return nil, err
	}
	return e.keys.Tenant(ctx, tenant)
}

// sealedKey is the data key of entries whose PII is sealed.
const sealedKey = "sealed"

// auditAD binds a sealed entry part to its tenant and log.
func auditAD(tenant string, log lethe.Log) keyring.AD {
	return keyring.AD{Tenant: tenant, Collection: "_audit", Record: string(log), Field: sealedKey}
}

// appendEntry writes one entry and waits for its commit. In the runtime
// and manager logs secret is sealed with the tenant's data key and stored
// as data["sealed"]; the security log takes no secret (it stays in the
// clear, C4).
func (e *Engine) appendEntry(ctx context.Context, tenant string, log lethe.Log, actor, event string, data, secret map[string]any) error {
	return e.appendEntryTo(ctx, e.aud.app, tenant, log, actor, event, data, secret)
}

func (e *Engine) appendEntryTo(ctx context.Context, app *audit.Appender, tenant string, log lethe.Log, actor, event string, data, secret map[string]any) error {
	entry, err := e.sealedEntry(ctx, tenant, log, actor, event, data, secret)
	if err != nil {
		return err
	}
	if err := app.Append(ctx, entry); err != nil {
		return fmt.Errorf("audit %s: %w", event, err)
	}
	return nil
}

// sealedEntry builds an entry whose secret, if any, is sealed with the
// tenant's data key under data["sealed"].
func (e *Engine) sealedEntry(ctx context.Context, tenant string, log lethe.Log, actor, event string, data, secret map[string]any) (*lethe.AuditEntry, error) {
	if data == nil {
		data = map[string]any{}
	}
	if len(secret) > 0 {
		if !audit.Sealed(log) {
			return nil, fmt.Errorf("audit %s: %w: the %s log holds no sealed data", event, lethe.ErrInvalid, log)
		}
		keys, err := e.signer(ctx, tenant, true)
		if err != nil {
			return nil, fmt.Errorf("audit %s: %w", event, err)
		}
		plain, err := json.Marshal(secret)
		if err != nil {
			return nil, fmt.Errorf("audit %s: %w", event, err)
		}
		env, err := keys.Seal(plain, auditAD(tenant, log))
		if err != nil {
			return nil, fmt.Errorf("audit %s: seal: %w", event, err)
		}
		data[sealedKey] = env
	}
	return e.entry(tenant, log, actor, event, data)
}

// Caller is who is behind a call, for the manager log: the principal's
// audit name and the client's address (the connection's, proxy headers
// are not trusted).
type Caller struct {
	Actor string
	IP    string
}

type callerKey struct{}

// WithCaller returns ctx carrying c; the API sets it for every
// authenticated request.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller ctx carries; actor "internal" when none
// (the CLI, background work).
func CallerFrom(ctx context.Context) Caller {
	c, _ := ctx.Value(callerKey{}).(Caller)
	if c.Actor == "" {
		c.Actor = "internal"
	}
	return c
}

// sealedNames lists a record's sealed (PII) field names, sorted.
func sealedNames(r *lethe.Record) []string {
	out := make([]string, 0, len(r.Sealed))
	for k := range r.Sealed {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// AuthAttempt is one authentication, for the security log.
type AuthAttempt struct {
	OK     bool
	Actor  string // principal name, or what the token claimed to be ("key:<prefix>", "unknown")
	Tenant string // the tenant the principal acts for; "" for none
	IP     string
	Route  string
}

// LogAuth records an authentication in the security log: a success in
// the tenant's log (the system log for the admin outside a tenant), a
// failure always in the system log, since an unauthenticated caller
// belongs to no tenant. Actor and address are in the clear, nothing else
// of the caller is kept.
func (e *Engine) LogAuth(ctx context.Context, a AuthAttempt) error {
	tenant, event := a.Tenant, "auth.success"
	if !a.OK {
		tenant, event = lethe.SystemTenant, "auth.failure"
	}
	if tenant == "" {
		tenant = lethe.SystemTenant
	}
	data := map[string]any{"ip": a.IP, "route": a.Route}
	if a.OK {
		// Every API call passes here: lazy like reads, and handed over
		// without waiting for its commit (audit.Batcher.Submit), so that
		// a call does not queue for a commit of its own before its work
		// starts. Should that commit fail, the next calls wait for theirs
		// and are refused with its error: fail closed, one batch late.
		// Failures are rare and what an investigation looks for: flushed.
		entry, err := e.sealedEntry(ctx, tenant, lethe.LogSecurity, a.Actor, event, data, nil)
		if err != nil {
			return err
		}
		if e.aud.lazy.Submit(lazyItem{entry: entry}) {
			return nil
		}
		if err := e.aud.lazy.Append(ctx, lazyItem{entry: entry}); err != nil {
			return fmt.Errorf("audit %s: %w", event, err)
		}
		return nil
	}
	return e.appendEntry(ctx, tenant, lethe.LogSecurity, a.Actor, event, data, nil)
}

// LogServer records a server event (start, stop) in the system runtime log.
func (e *Engine) LogServer(ctx context.Context, event string, data map[string]any) error {
	return e.appendEntry(ctx, lethe.SystemTenant, lethe.LogRuntime, "server", event, data, nil)
}

// LogEvent records an event of a tenant in one of its logs; secret is
// sealed (runtime and manager logs only). The request and export code
// records creation, completion and downloads through it.
func (e *Engine) LogEvent(ctx context.Context, tenant string, log lethe.Log, actor, event string, data, secret map[string]any) error {
	return e.appendEntry(ctx, tenant, log, actor, event, data, secret)
}
