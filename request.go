package lethe

import (
	"context"
	"time"
)

// RequestType is what a data-subject or data-origin request asks for.
type RequestType string

const (
	RequestExport    RequestType = "export"
	RequestErase     RequestType = "erase"
	RequestAnonymize RequestType = "anonymize"
	// RequestExportThenAnonymize exports everything in scope first and
	// anonymizes only once the export is complete (X4).
	RequestExportThenAnonymize RequestType = "export_then_anonymize"
)

// RequestState is where a request job stands. Pending and running jobs are
// active: at most one identical active job exists per tenant.
type RequestState string

const (
	RequestPending RequestState = "pending"
	RequestRunning RequestState = "running"
	RequestDone    RequestState = "done"
	RequestFailed  RequestState = "failed"
)

// Scope kinds of a request.
const (
	ScopeSubject = "subject"
	ScopeOrigin  = "origin"
	ScopeTenant  = "tenant"
)

// RequestScope says which records a request covers: one subject (by the
// blind-index hashes of its identifiers, never their values), one origin,
// or the whole tenant.
type RequestScope struct {
	Kind        string          `json:"kind"`
	Origin      string          `json:"origin,omitempty"`
	Identifiers []ScopeIdentity `json:"identifiers,omitempty"`
}

// ScopeIdentity is one identifier of a subject scope: its kind and the
// keyed blind-index hash of its normalized value.
type ScopeIdentity struct {
	Kind string `json:"kind"`
	Hash []byte `json:"hash"`
}

// RecordCursor is the last record a request batch handled; records sort by
// collection, then id.
type RecordCursor struct {
	Collection string `json:"collection"`
	ID         string `json:"id"`
}

// Request is a persisted request job. Its progress (phase, cursor, counts)
// is written in the same transaction as each batch of work, so a restarted
// job resumes exactly where the last committed batch ended.
type Request struct {
	ID     string
	Tenant string
	Type   RequestType
	Scope  RequestScope
	// ScopeKey identifies the scope for idempotency (type, scope and
	// dry run make a job's identity).
	ScopeKey string
	DryRun   bool
	Actor    string
	State    RequestState
	// Phase is "export" or "apply" while running.
	Phase     string
	Cursor    RecordCursor
	Total     int64
	Processed int64
	// Result is the engine's running tally (JSON); the store keeps it opaque.
	Result []byte
	// Receipt is the signed receipt (JSON) once the job is done.
	Receipt []byte
	Error   string
	// ExportChunks counts the sealed export chunks held; zero once expired.
	ExportChunks    int
	ExportExpiresAt time.Time
	// Owner and LeaseUntil mark the runner working on the job; another
	// runner takes it over only once the lease has run out.
	Owner      string
	LeaseUntil time.Time
	CreatedAt  time.Time
	UpdatedAt  time.Time
	FinishedAt time.Time
}

// Active reports whether the job still has work to do.
func (r *Request) Active() bool { return r.State == RequestPending || r.State == RequestRunning }

// RequestItem is what a request did (or, in a dry run, would do) to one
// record: its action, the fields changed, and for a held record why and
// until when. Items hold ids and field names, never values.
type RequestItem struct {
	Seq        int64
	Collection string
	RecordID   string
	Action     Action // delete, anonymize, hold, or "redact" (list items removed)
	Fields     []string
	Reason     string
	Until      time.Time
}

// ActionRedact removes a subject's entries from a list field of a record
// that belongs to someone else (an additional contact person of an order).
const ActionRedact Action = "redact"

// RequestBatch is one transaction of request work: the record changes, the
// items describing them, an optional sealed export chunk, the audit entries
// and the job's new progress. A store applies all of it or nothing, and only
// while Job.Owner still holds the job (ErrConflict otherwise).
type RequestBatch struct {
	Deletes []RecordRef
	Updates []*Record
	Items   []RequestItem
	// Chunk is a sealed export chunk stored at index Job.ExportChunks-1
	// when not nil.
	Chunk []byte
	// Audit entries commit with the batch (not in the manager log, see
	// CheckBatchAudit).
	Audit []*AuditEntry
	Job   *Request
}

// ScopeQuery pages through a tenant's records in (collection, id) order,
// those of one origin when Origin is set.
type ScopeQuery struct {
	Tenant string
	Origin string
	After  RecordCursor
	Limit  int
}

// ItemQuery pages through a request's items, optionally of one action.
type ItemQuery struct {
	Tenant, Request string
	Action          Action
	AfterSeq        int64
	Limit           int
}

// OriginStat tells since when a tenant holds records of an origin.
type OriginStat struct {
	Origin  string
	First   time.Time // created_at of its oldest record
	Records int64
}

// RequestStore is the part of Store that persists data-subject and
// data-origin request jobs (see engine requests).
type RequestStore interface {
	// CreateRequest stores a new pending job, unless an identical one
	// (tenant, type, scope key, dry run) is pending or running: then it
	// returns that one and created false. A unique index decides, so two
	// concurrent callers never both create.
	CreateRequest(ctx context.Context, r *Request) (job *Request, created bool, err error)
	// Request reads a tenant's job; ErrNotFound when absent or another
	// tenant's.
	Request(ctx context.Context, tenant, id string) (*Request, error)
	// ListRequests pages through a tenant's jobs in id order, filtered by
	// state and type when set.
	ListRequests(ctx context.Context, q RequestQuery) ([]*Request, error)
	// ClaimRequest hands the oldest pending job, or a running one whose
	// lease has run out (its runner died), to owner until leaseUntil;
	// ErrNotFound when none.
	ClaimRequest(ctx context.Context, owner string, now, leaseUntil time.Time) (*Request, error)
	// ApplyRequestBatch performs one batch of request work (see
	// RequestBatch) in a single durable transaction.
	ApplyRequestBatch(ctx context.Context, b *RequestBatch) error
	// ScopeRecords pages through records of a scope (subjects not loaded).
	ScopeRecords(ctx context.Context, q ScopeQuery) ([]*Record, error)
	// CountScope counts the records ScopeRecords would page through.
	CountScope(ctx context.Context, tenant, origin string) (int64, error)
	// RequestItems pages through a job's items in the order they were made.
	RequestItems(ctx context.Context, q ItemQuery) ([]RequestItem, error)
	// ExportChunk reads one sealed export chunk; ErrNotFound when absent
	// or expired.
	ExportChunk(ctx context.Context, tenant, request string, index int) ([]byte, error)
	// DeleteExpiredExports removes the export chunks of jobs whose export
	// expired at or before now; returns how many jobs lost their export.
	DeleteExpiredExports(ctx context.Context, now time.Time) (int, error)
	// Origins lists the origins of a tenant's records with the creation
	// time of each one's oldest record.
	Origins(ctx context.Context, tenant string) ([]OriginStat, error)
}
