package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/lethe-privacy/lethe"
)

// AppendAuditSigned appends entries and replaces the signed head of every
// chain they moved, in one transaction: a committed entry is never left
// outside its chain's signed head.
func (s *Store) AppendAuditSigned(ctx context.Context, entries []*lethe.AuditEntry, sign func(*lethe.Checkpoint) error) error {
	return s.appendAuditSigned(ctx, entries, sign, false)
}

// AppendAuditLazy appends like AppendAuditSigned in a transaction that
// commits without waiting for fsync (see writeLazy).
func (s *Store) AppendAuditLazy(ctx context.Context, entries []*lethe.AuditEntry, sign func(*lethe.Checkpoint) error) error {
	return s.appendAuditSigned(ctx, entries, sign, true)
}

func (s *Store) appendAuditSigned(ctx context.Context, entries []*lethe.AuditEntry, sign func(*lethe.Checkpoint) error, lazy bool) error {
	err := s.eachFile(entries, func(f *file, entries []*lethe.AuditEntry) error {
		write := f.write
		if lazy {
			write = f.writeLazy
		}
		return write(ctx, func(tx *sql.Tx) error {
			return s.appendSigned(newStmts(ctx, tx, f.whot), entries, sign)
		})
	})
	if err != nil {
		return fmt.Errorf("append audit: %w", err)
	}
	return nil
}

// appendSigned appends entries and signs the heads they moved, inside the
// caller's transaction.
func (s *Store) appendSigned(p *stmts, entries []*lethe.AuditEntry, sign func(*lethe.Checkpoint) error) error {
	defer p.close()
	if err := s.appendAudit(p, entries); err != nil {
		return err
	}
	for _, e := range lethe.ChainHeads(entries) {
		cp := e.Head()
		if err := sign(cp); err != nil {
			return fmt.Errorf("sign head of %s/%s: %w", e.Tenant, e.Log, err)
		}
		if err := putCheckpoint(p, "audit_heads", cp); err != nil {
			return err
		}
	}
	return nil
}

// putCheckpoint stores a checkpoint in table (audit_heads or
// audit_checkpoints).
func putCheckpoint(p *stmts, table string, cp *lethe.Checkpoint) error {
	if cp.Tenant == "" || cp.Log == "" || cp.Seq <= 0 || len(cp.Hash) == 0 || len(cp.MAC) == 0 {
		return fmt.Errorf("%w: checkpoint needs tenant, log, seq, hash and mac", lethe.ErrInvalid)
	}
	q := "INSERT OR REPLACE INTO audit_checkpoints (tenant, log, seq, hash, time, mac) VALUES (?, ?, ?, ?, ?, ?)"
	if table == "audit_heads" {
		q = qAuditHeadPut
	}
	_, err := p.exec(q, cp.Tenant, string(cp.Log), cp.Seq, cp.Hash, millis(cp.Time), cp.MAC)
	if err != nil {
		return fmt.Errorf("%s %s/%s #%d: %w", table, cp.Tenant, cp.Log, cp.Seq, mapErr(err))
	}
	return nil
}

// SetAuditHead replaces a chain's signed head unless the stored one is
// newer.
func (s *Store) SetAuditHead(ctx context.Context, head *lethe.Checkpoint) error {
	return s.storeCheckpoint(ctx, "audit_heads", head)
}

func (s *Store) storeCheckpoint(ctx context.Context, table string, cp *lethe.Checkpoint) error {
	if s.isClosed() {
		return errClosed
	}
	if cp == nil {
		return fmt.Errorf("%s: %w: no checkpoint", table, lethe.ErrInvalid)
	}
	f := s.logFile(cp.Log)
	return f.write(ctx, func(tx *sql.Tx) error {
		p := newStmts(ctx, tx, f.whot)
		defer p.close()
		return putCheckpoint(p, table, cp)
	})
}

// PutCheckpoint stores a periodic checkpoint (replacing an identical one).
func (s *Store) PutCheckpoint(ctx context.Context, cp *lethe.Checkpoint) error {
	return s.storeCheckpoint(ctx, "audit_checkpoints", cp)
}

// AuditHead returns a chain's signed head; ErrNotFound when none.
func (s *Store) AuditHead(ctx context.Context, tenant string, log lethe.Log) (*lethe.Checkpoint, error) {
	cps, err := s.checkpoints(ctx, "audit_heads", tenant, log)
	if err != nil {
		return nil, err
	}
	if len(cps) == 0 {
		return nil, fmt.Errorf("audit head of %s/%s: %w", tenant, log, lethe.ErrNotFound)
	}
	return cps[0], nil
}

// Checkpoints returns a chain's periodic checkpoints, oldest first.
func (s *Store) Checkpoints(ctx context.Context, tenant string, log lethe.Log) ([]*lethe.Checkpoint, error) {
	return s.checkpoints(ctx, "audit_checkpoints", tenant, log)
}

func (s *Store) checkpoints(ctx context.Context, table, tenant string, log lethe.Log) ([]*lethe.Checkpoint, error) {
	if s.isClosed() {
		return nil, errClosed
	}
	rows, err := s.logFile(log).query(ctx, "SELECT seq, hash, time, mac FROM "+table+" WHERE tenant = ? AND log = ? ORDER BY seq", tenant, string(log))
	if err != nil {
		return nil, fmt.Errorf("%s of %s/%s: %w", table, tenant, log, err)
	}
	defer rows.Close()
	var out []*lethe.Checkpoint
	for rows.Next() {
		cp := &lethe.Checkpoint{Tenant: tenant, Log: log}
		var at int64
		if err := rows.Scan(&cp.Seq, &cp.Hash, &at, &cp.MAC); err != nil {
			return nil, fmt.Errorf("%s of %s/%s: %w", table, tenant, log, mapErr(err))
		}
		cp.Time = fromMillis(at)
		out = append(out, cp)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s of %s/%s: %w", table, tenant, log, mapErr(err))
	}
	return out, nil
}

// AuditChains lists every chain with entries, a head or checkpoints, in
// both files.
func (s *Store) AuditChains(ctx context.Context) ([]lethe.AuditChain, error) {
	if s.isClosed() {
		return nil, errClosed
	}
	out, err := auditChains(ctx, s.file)
	if err != nil {
		return nil, err
	}
	mlog, err := auditChains(ctx, s.managerLog)
	if err != nil {
		return nil, err
	}
	out = append(out, mlog...)
	slices.SortFunc(out, func(a, b lethe.AuditChain) int {
		return cmp.Or(cmp.Compare(a.Tenant, b.Tenant), cmp.Compare(a.Log, b.Log))
	})
	return out, nil
}

func auditChains(ctx context.Context, f *file) ([]lethe.AuditChain, error) {
	rows, err := f.query(ctx, `
		SELECT c.tenant, c.log,
			COALESCE((SELECT MIN(seq) FROM audit a WHERE a.tenant = c.tenant AND a.log = c.log), 0),
			COALESCE((SELECT MAX(seq) FROM audit a WHERE a.tenant = c.tenant AND a.log = c.log), 0),
			(SELECT COUNT(*) FROM audit a WHERE a.tenant = c.tenant AND a.log = c.log)
		FROM (SELECT DISTINCT tenant, log FROM audit
			UNION SELECT tenant, log FROM audit_heads
			UNION SELECT tenant, log FROM audit_checkpoints) c
		ORDER BY c.tenant, c.log`)
	if err != nil {
		return nil, fmt.Errorf("audit chains: %w", err)
	}
	defer rows.Close()
	var out []lethe.AuditChain
	for rows.Next() {
		var c lethe.AuditChain
		var log string
		if err := rows.Scan(&c.Tenant, &log, &c.First, &c.Last, &c.Count); err != nil {
			return nil, fmt.Errorf("audit chains: %w", mapErr(err))
		}
		c.Log = lethe.Log(log)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit chains: %w", mapErr(err))
	}
	return out, nil
}

// ExpireAudit removes a chain's expired entries up to its newest usable
// checkpoint (see lethe.AuditStore), all in one transaction.
func (s *Store) ExpireAudit(ctx context.Context, tenant string, log lethe.Log, before time.Time) (int64, error) {
	if s.isClosed() {
		return 0, errClosed
	}
	var removed int64
	f := s.logFile(log)
	err := f.write(ctx, func(tx *sql.Tx) error {
		p := newStmts(ctx, tx, f.whot)
		defer p.close()
		var last, young sql.NullInt64
		args := []any{tenant, string(log)}
		if err := p.scanRow("SELECT MAX(seq) FROM audit WHERE tenant = ? AND log = ?", args, &last); err != nil {
			return mapErr(err)
		}
		if !last.Valid {
			return nil
		}
		if err := p.scanRow("SELECT MIN(seq) FROM audit WHERE tenant = ? AND log = ? AND time >= ?",
			[]any{tenant, string(log), millis(before)}, &young); err != nil {
			return mapErr(err)
		}
		// The newest entry stays: the next append continues the chain from
		// it. Entries at or after the first young one stay too, even when
		// an older one follows them (clocks may step back).
		limit := last.Int64 - 1
		if young.Valid && young.Int64-1 < limit {
			limit = young.Int64 - 1
		}
		var anchor sql.NullInt64
		if err := p.scanRow("SELECT MAX(seq) FROM audit_checkpoints WHERE tenant = ? AND log = ? AND seq <= ?",
			[]any{tenant, string(log), limit}, &anchor); err != nil {
			return mapErr(err)
		}
		if !anchor.Valid {
			return nil
		}
		res, err := p.exec("DELETE FROM audit WHERE tenant = ? AND log = ? AND seq <= ?", tenant, string(log), anchor.Int64)
		if err != nil {
			return mapErr(err)
		}
		removed, _ = res.RowsAffected()
		_, err = p.exec("DELETE FROM audit_checkpoints WHERE tenant = ? AND log = ? AND seq < ?", tenant, string(log), anchor.Int64)
		return mapErr(err)
	})
	if err != nil {
		return 0, fmt.Errorf("expire audit %s/%s: %w", tenant, log, err)
	}
	return removed, nil
}
