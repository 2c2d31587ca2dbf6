package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/lethe-privacy/lethe"
)

// AppendAudit appends entries to their chains in one transaction. For each
// entry it assigns Seq (last of the tenant log + 1), Prev (the last hash)
// and Hash (lethe.ChainHash) and writes them back into the caller's entry.
// Time is stored in milliseconds, so it is truncated to the millisecond
// (and set from the store's clock when zero) before hashing: the hash then
// verifies against the entry as read back.
//
// Entries of the manager log go to its own file, in a transaction of
// their own: a batch with entries of both files is two transactions.
func (s *Store) AppendAudit(ctx context.Context, entries []*lethe.AuditEntry) error {
	err := s.eachFile(entries, func(f *file, entries []*lethe.AuditEntry) error {
		return f.write(ctx, func(tx *sql.Tx) error {
			p := newStmts(ctx, tx, f.whot)
			defer p.close()
			return s.appendAudit(p, entries)
		})
	})
	if err != nil {
		return fmt.Errorf("append audit: %w", err)
	}
	return nil
}

// The statements of an audit append, prepared once (see prepared).
const (
	qAuditHead   = "SELECT seq, hash FROM audit WHERE tenant = ? AND log = ? ORDER BY seq DESC LIMIT 1"
	qAuditInsert = `INSERT INTO audit (tenant, log, seq, time, actor, event, data, prev, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
	// A head never moves back: a late signer of an older head (after an
	// ApplyBatch) must not replace a newer one.
	qAuditHeadPut = `INSERT INTO audit_heads (tenant, log, seq, hash, time, mac) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant, log) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, time = excluded.time, mac = excluded.mac
		WHERE excluded.seq > audit_heads.seq`
)

// chainKey names one chain.
type chainKey struct {
	tenant string
	log    lethe.Log
}

// chainHead is the last entry of a chain.
type chainHead struct {
	seq  int64
	hash []byte
}

// appendAudit appends entries inside the caller's transaction. The writer
// connection is the only one that writes, and the transaction holds the
// write lock, so reading the chain head and appending cannot race.
func (s *Store) appendAudit(p *stmts, entries []*lethe.AuditEntry) error {
	heads := make(map[chainKey]chainHead)
	for _, e := range entries {
		if e == nil || e.Tenant == "" || e.Log == "" || e.Event == "" {
			return fmt.Errorf("%w: audit entry needs tenant, log and event", lethe.ErrInvalid)
		}
		k := chainKey{e.Tenant, e.Log}
		head, ok := heads[k]
		if !ok {
			err := p.scanRow(qAuditHead, []any{e.Tenant, string(e.Log)}, &head.seq, &head.hash)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("audit %s/%s: %w", e.Tenant, e.Log, mapErr(err))
			}
		}
		e.Time = s.orNow(e.Time).UTC().Truncate(time.Millisecond)
		e.Seq = head.seq + 1
		e.Prev = head.hash
		e.Hash = lethe.ChainHash(e.Prev, e)
		var data sql.NullString
		if e.Data != nil {
			data = sql.NullString{String: string(e.Data), Valid: true}
		}
		_, err := p.exec(qAuditInsert, e.Tenant, string(e.Log), e.Seq, millis(e.Time), e.Actor, e.Event, data, e.Prev, e.Hash)
		if err != nil {
			return fmt.Errorf("audit %s/%s #%d: %w", e.Tenant, e.Log, e.Seq, mapErr(err))
		}
		heads[k] = chainHead{e.Seq, e.Hash}
	}
	return nil
}

// AuditEntries returns a tenant's entries matching q, by seq. An empty Log
// selects every log of the tenant (then ordered by seq, then log). From is
// inclusive, To exclusive; Limit defaults to 100.
func (s *Store) AuditEntries(ctx context.Context, q lethe.AuditQuery) ([]*lethe.AuditEntry, error) {
	if q.Tenant == "" {
		return nil, fmt.Errorf("audit entries: %w: tenant required", lethe.ErrInvalid)
	}
	if s.isClosed() {
		return nil, errClosed
	}
	if q.Log != "" {
		return s.auditEntries(ctx, s.logFile(q.Log), q)
	}
	// Every log: both files, merged in the order of one query.
	out, err := s.auditEntries(ctx, s.file, q)
	if err != nil {
		return nil, err
	}
	mlog, err := s.auditEntries(ctx, s.managerLog, q)
	if err != nil {
		return nil, err
	}
	out = append(out, mlog...)
	slices.SortStableFunc(out, func(a, b *lethe.AuditEntry) int {
		return cmp.Or(cmp.Compare(a.Seq, b.Seq), cmp.Compare(a.Log, b.Log))
	})
	if limit := auditLimit(q); len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// auditLimit is a query's page size: 100 when unset.
func auditLimit(q lethe.AuditQuery) int {
	if q.Limit <= 0 {
		return 100
	}
	return q.Limit
}

func (s *Store) auditEntries(ctx context.Context, f *file, q lethe.AuditQuery) ([]*lethe.AuditEntry, error) {
	where := "tenant = ? AND seq > ?"
	args := []any{q.Tenant, q.AfterSeq}
	order := "seq"
	if q.Log != "" {
		where += " AND log = ?"
		args = append(args, string(q.Log))
	} else {
		order = "seq, log"
	}
	if !q.From.IsZero() {
		where += " AND time >= ?"
		args = append(args, millis(q.From))
	}
	if !q.To.IsZero() {
		where += " AND time < ?"
		args = append(args, millis(q.To))
	}
	if q.Actor != "" {
		where += " AND actor = ?"
		args = append(args, q.Actor)
	}
	if q.Event != "" {
		where += " AND event = ?"
		args = append(args, q.Event)
	}
	args = append(args, auditLimit(q))
	rows, err := f.query(ctx, "SELECT tenant, log, seq, time, actor, event, data, prev, hash FROM audit WHERE "+
		where+" ORDER BY "+order+" LIMIT ?", args...)
	if err != nil {
		return nil, fmt.Errorf("audit entries of %s: %w", q.Tenant, err)
	}
	defer rows.Close()
	var out []*lethe.AuditEntry
	for rows.Next() {
		var (
			e    lethe.AuditEntry
			log  string
			at   int64
			data sql.NullString
		)
		if err := rows.Scan(&e.Tenant, &log, &e.Seq, &at, &e.Actor, &e.Event, &data, &e.Prev, &e.Hash); err != nil {
			return nil, fmt.Errorf("audit entries of %s: %w", q.Tenant, mapErr(err))
		}
		e.Log = lethe.Log(log)
		e.Time = fromMillis(at)
		if data.Valid {
			e.Data = []byte(data.String)
		}
		out = append(out, &e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit entries of %s: %w", q.Tenant, mapErr(err))
	}
	return out, nil
}
