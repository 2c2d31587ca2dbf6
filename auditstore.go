package lethe

import (
	"context"
	"time"
)

// SystemTenant is the reserved tenant whose logs hold what belongs to no
// tenant: failed authentications, server start and stop. Tenant ids cannot
// start with "_", so it never clashes with a real tenant.
const SystemTenant = "_system"

// Checkpoint is a signed statement "chain (Tenant, Log) had entry Seq with
// hash Hash at Time". The MAC is keyed with a tenant key, so whoever can
// write the database but lacks the master key cannot forge one. Checkpoints
// anchor a chain whose older entries retention removed, and the chain's
// signed head shows that no entry was appended or cut off at its end.
type Checkpoint struct {
	Tenant string
	Log    Log
	Seq    int64
	Hash   []byte
	Time   time.Time
	MAC    []byte
}

// AuditChain describes one (tenant, log) chain as stored.
type AuditChain struct {
	Tenant      string
	Log         Log
	First, Last int64 // seq of the oldest and newest stored entry; 0 when none
	Count       int64
}

// AuditStore is the part of Store that keeps the audit chains' signed heads
// and checkpoints and expires old entries (see package audit).
type AuditStore interface {
	// AppendAuditSigned appends entries like AppendAudit and, in the same
	// transaction, replaces the signed head of every chain it moved: sign
	// receives each new head (Tenant, Log, Seq, Hash, Time set) and fills
	// in its MAC. sign must not call the store.
	AppendAuditSigned(ctx context.Context, entries []*AuditEntry, sign func(*Checkpoint) error) error
	// AppendAuditLazy is AppendAuditSigned with a commit that does not
	// wait for the disk flush (SQLite synchronous=NORMAL for that one
	// transaction, PostgreSQL synchronous_commit=off): a process crash
	// keeps it, a power loss may drop the last such commits, whole and in
	// order, never one that a later flushed commit follows. Only for
	// entries whose loss on a power cut is tolerable (reads of PII,
	// successful authentications), never for erasures or request state.
	AppendAuditLazy(ctx context.Context, entries []*AuditEntry, sign func(*Checkpoint) error) error
	// SetAuditHead replaces a chain's signed head (after entries were
	// appended through ApplyBatch or AppendAudit), unless the stored head
	// has a higher seq: heads never move back.
	SetAuditHead(ctx context.Context, head *Checkpoint) error
	// AuditHead returns a chain's signed head; ErrNotFound when none.
	AuditHead(ctx context.Context, tenant string, log Log) (*Checkpoint, error)
	// PutCheckpoint stores a periodic checkpoint; storing the same one
	// twice is not an error.
	PutCheckpoint(ctx context.Context, cp *Checkpoint) error
	// Checkpoints returns a chain's periodic checkpoints, oldest first.
	Checkpoints(ctx context.Context, tenant string, log Log) ([]*Checkpoint, error)
	// AuditChains lists every chain that has entries, a head or a
	// checkpoint, ordered by tenant and log.
	AuditChains(ctx context.Context) ([]AuditChain, error)
	// ExpireAudit removes a chain's entries older than before, but only up
	// to a checkpoint: it picks the newest checkpoint whose seq is below the
	// chain's last entry and at or below which every entry is older than
	// before, deletes the entries up to and including it and the
	// checkpoints older than it, and keeps it as the chain's anchor. The
	// newest entry always stays, so the chain continues from it. Returns
	// the number of entries removed.
	ExpireAudit(ctx context.Context, tenant string, log Log, before time.Time) (int64, error)
}
