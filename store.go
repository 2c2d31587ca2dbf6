package lethe

import (
	"context"
	"fmt"
	"time"
)

// Store persists Lethe's state. The SQLite store is the embedded default;
// a PostgreSQL store implements the same interface for several instances.
// Every method is scoped by tenant where data is concerned: no method reads
// across tenants except the sweeper's DueRecords, whose results each carry
// their own tenant.
//
// Stores know SQL, not privacy: they never see a key or a plaintext PII
// value, only the sealed envelopes and blind-index hashes built by the engine.
type Store interface {
	// Meta reads a server-wide value (admin token hash, master key id);
	// ErrNotFound when unset.
	Meta(ctx context.Context, key string) ([]byte, error)
	SetMeta(ctx context.Context, key string, value []byte) error
	// InitMeta sets a server-wide value unless it is set already, and
	// returns the value that is stored afterwards: value when this call set
	// it, the earlier one otherwise. Instances starting at once on a new
	// database agree on one value (the master key id) this way.
	InitMeta(ctx context.Context, key string, value []byte) ([]byte, error)

	// CreateTenant fails with ErrConflict when the id is taken.
	CreateTenant(ctx context.Context, t *Tenant) error
	Tenant(ctx context.Context, id string) (*Tenant, error)
	Tenants(ctx context.Context) ([]*Tenant, error)
	// ListTenants pages through the tenants in id order.
	ListTenants(ctx context.Context, q TenantQuery) ([]*Tenant, error)
	// SetTenantPhoneRegion changes a tenant's phone region; ErrNotFound
	// when the tenant does not exist. Stored blind-index hashes stay as
	// they are.
	SetTenantPhoneRegion(ctx context.Context, tenant, region string) error
	// SetTenantChat changes a tenant's chat settings: how long its session
	// tokens live (zero: off) and the origins its pages are served from;
	// ErrNotFound when the tenant does not exist.
	SetTenantChat(ctx context.Context, tenant string, lifetime Duration, origins []string) error

	// PutKey stores a wrapped tenant key; ErrConflict when that tenant,
	// purpose and version exist.
	PutKey(ctx context.Context, k *WrappedKey) error
	// Keys returns every key of a tenant, oldest version first.
	Keys(ctx context.Context, tenant string) ([]*WrappedKey, error)

	CreateAPIKey(ctx context.Context, k *APIKey) error
	// APIKey finds a key by its public prefix; ErrNotFound when unknown.
	APIKey(ctx context.Context, prefix string) (*APIKey, error)
	// APIKeys lists a tenant's keys (revoked ones too), oldest first.
	APIKeys(ctx context.Context, tenant string) ([]*APIKey, error)
	// RevokeAPIKey marks a tenant's key revoked; ErrNotFound when the
	// tenant has no key with that prefix. Revoking twice is not an error.
	RevokeAPIKey(ctx context.Context, tenant, prefix string) error

	// Settings returns a tenant's settings of a collection, ErrNotFound when
	// the tenant never set any.
	Settings(ctx context.Context, tenant, collection string) (*Settings, error)
	PutSettings(ctx context.Context, tenant, collection string, s *Settings) error

	// InsertRecords stores new records with their subjects and plans, all
	// or nothing. A duplicate id or a second record with a unique subject
	// fails with ErrConflict. Concurrent callers are group-committed.
	InsertRecords(ctx context.Context, recs []*Record) error
	// Record reads one record; ErrNotFound when absent.
	Record(ctx context.Context, ref RecordRef) (*Record, error)
	// UpdateRecord replaces a record's fields, state, subjects and plan;
	// ErrNotFound when absent.
	UpdateRecord(ctx context.Context, r *Record) error
	// DeleteRecord removes a record and its subjects; ErrNotFound when absent.
	DeleteRecord(ctx context.Context, ref RecordRef) error
	// RecordsBySubject returns the tenant's records holding any of the
	// blind-index hashes, through the index only.
	RecordsBySubject(ctx context.Context, tenant string, hashes [][]byte) ([]*Record, error)
	// ScanRecords pages through a collection in id order, starting after
	// the given id ("" for the start).
	ScanRecords(ctx context.Context, tenant, collection, afterID string, limit int) ([]*Record, error)
	// ListRecords pages through a collection in id order, filtered (see
	// RecordQuery); subjects are not loaded.
	ListRecords(ctx context.Context, q RecordQuery) ([]*Record, error)

	// UpdatePlans rewrites only the plan columns of records, each guarded by
	// the record's UpdatedAt: a record written since it was read keeps the
	// plan its own write computed. Returns how many rows changed.
	UpdatePlans(ctx context.Context, updates []PlanUpdate) (int, error)

	// DueRecords returns up to limit records whose plan is due at or before
	// now, oldest due first, across tenants (the sweeper's work queue).
	DueRecords(ctx context.Context, now time.Time, limit int) ([]*Record, error)
	// TenantDueRecords is DueRecords for one tenant's records only (a
	// sweep started for one tenant, as the console's protection button
	// does).
	TenantDueRecords(ctx context.Context, tenant string, now time.Time, limit int) ([]*Record, error)
	// ApplyBatch performs one batch of retention or request work and its
	// audit entries in a single durable transaction: all or nothing. When
	// b.Lease is set, the batch applies only while that lease still names
	// its owner (ErrLeaseLost otherwise), so a sweeper that stalled past
	// its lease cannot act on records another instance took over.
	ApplyBatch(ctx context.Context, b *Batch) error
	// TakeLease grants the named lease to owner until until, when it is
	// free, ran out at or before now, is owner's already (a renewal) or is
	// held by l.Replaces (a holder known to be dead); false when another
	// owner holds it. Several instances on one database take the "sweep"
	// lease before sweeping, so due records are acted on once.
	TakeLease(ctx context.Context, l Lease, now time.Time) (bool, error)
	// LeaseHolder reads a lease as stored; ErrNotFound when never taken.
	LeaseHolder(ctx context.Context, name string) (*Lease, error)
	// PlanSummary counts planned actions of a tenant due up to until, by
	// collection, action and day (the sweeper's dry run).
	PlanSummary(ctx context.Context, tenant string, until time.Time) ([]PlanBucket, error)
	// Overdue reports how many records are due at or before now and the due
	// time of the oldest, for the sweep-lag metric.
	Overdue(ctx context.Context, now time.Time) (count int64, oldest time.Time, err error)
	// Stats counts a collection's records grouped by a plain (non-PII)
	// field and, when perDay, by creation day (O6), in SortStatRows order.
	Stats(ctx context.Context, tenant, collection, field string, perDay bool) ([]StatRow, error)

	// AppendAudit appends entries to their chains in one transaction.
	AppendAudit(ctx context.Context, entries []*AuditEntry) error
	// AuditEntries returns a tenant log's entries in chain order.
	AuditEntries(ctx context.Context, q AuditQuery) ([]*AuditEntry, error)

	AuditStore
	RequestStore
	IdempotencyStore
	SessionStore

	// Checkpoint moves committed data into the main database file and
	// truncates the write-ahead log, so that erased bytes do not linger.
	Checkpoint(ctx context.Context) error
	Close() error
}

// Batch is one transaction of retention or request work.
type Batch struct {
	Deletes []RecordRef
	Updates []*Record
	// Audit entries commit with the batch; they may go to any log but the
	// manager log (see CheckBatchAudit).
	Audit []*AuditEntry
	// Lease, when set, fences the batch (see Store.ApplyBatch).
	Lease *Lease
	// Unchanged, when set, guards the batch against writers that were
	// faster: it holds each record's UpdatedAt as its author read it, and
	// the store applies the batch only if every one of them is still
	// stored with that UpdatedAt; otherwise nothing is written and the
	// error is ErrConflict (the author reads again and decides anew). A
	// sweep decided on what it read; a legal hold or a new plan written a
	// moment later must win.
	Unchanged map[RecordRef]time.Time
}

// Lease is a named, time-limited right to one kind of background work.
type Lease struct {
	Name  string
	Owner string
	Until time.Time
	// Replaces, when set, names a previous holder whose process is known
	// to be gone: TakeLease takes the lease from it without waiting for
	// it to run out.
	Replaces string
}

// PlanUpdate is one guarded plan rewrite (see Store.UpdatePlans).
type PlanUpdate struct {
	Ref       RecordRef
	UpdatedAt time.Time // the record's UpdatedAt when its plan was computed
	Plan      Plan
}

// PlanBucket is one line of a plan summary.
type PlanBucket struct {
	Collection string
	Action     Action
	Day        string // YYYY-MM-DD in UTC
	Count      int64
}

// StatRow is one group of a statistics query.
type StatRow struct {
	Value any    // the grouped field's value (nil when absent)
	Day   string // YYYY-MM-DD, empty unless grouped per day
	Count int64
}

// CheckBatchAudit refuses audit entries of the manager log in a batch:
// that log holds the reads of PII, the busiest log by far, and a store may
// keep it apart from the data (the SQLite store keeps it in a file of its
// own, so that its commits do not empty the readers' caches), where no
// transaction of the data reaches. Erasures and request steps log to the
// security log.
func CheckBatchAudit(entries []*AuditEntry) error {
	for _, e := range entries {
		if e != nil && e.Log == LogManager {
			return fmt.Errorf("%w: a batch's audit entries cannot go to the %s log (event %q)", ErrInvalid, LogManager, e.Event)
		}
	}
	return nil
}
