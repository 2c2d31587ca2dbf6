package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-privacy/lethe"
)

// AppendAuditSigned appends entries and replaces the signed head of every
// chain they moved, in one transaction: a committed entry is never left
// outside its chain's signed head. sign runs while the chains are locked,
// so it must be quick and must not call the store.
func (s *Store) AppendAuditSigned(ctx context.Context, entries []*lethe.AuditEntry, sign func(*lethe.Checkpoint) error) error {
	return s.appendAuditSigned(ctx, entries, sign, false)
}

// AppendAuditLazy appends like AppendAuditSigned in a transaction that
// commits with synchronous_commit=off: the commit returns before its WAL
// is flushed. A crash of the server process keeps it (the WAL writer
// flushes within moments, and the operating system holds what was
// written); a power cut may lose the last such commits, whole and in
// order, but never one that a later synchronous commit follows, since
// flushing that commit's WAL flushes everything before it. The setting is
// SET LOCAL: it ends with the transaction and never reaches other work on
// the connection.
func (s *Store) AppendAuditLazy(ctx context.Context, entries []*lethe.AuditEntry, sign func(*lethe.Checkpoint) error) error {
	return s.appendAuditSigned(ctx, entries, sign, true)
}

func (s *Store) appendAuditSigned(ctx context.Context, entries []*lethe.AuditEntry, sign func(*lethe.Checkpoint) error, lazy bool) error {
	if len(entries) == 0 {
		return nil
	}
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if lazy {
			if _, err := tx.Exec(ctx, "SET LOCAL synchronous_commit = off"); err != nil {
				return err
			}
		}
		if err := s.appendAudit(ctx, tx, entries); err != nil {
			return err
		}
		b := &pgx.Batch{}
		for _, e := range lethe.ChainHeads(entries) {
			cp := e.Head()
			if err := sign(cp); err != nil {
				return fmt.Errorf("sign head of %s/%s: %w", e.Tenant, e.Log, err)
			}
			if err := queueCheckpoint(b, headsTable, cp); err != nil {
				return err
			}
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return fmt.Errorf("append audit: %w", err)
	}
	return nil
}

// The two checkpoint tables.
const (
	headsTable       = "audit_heads"
	checkpointsTable = "audit_checkpoints"
)

// queueCheckpoint queues the statement storing a checkpoint in table.
func queueCheckpoint(b *pgx.Batch, table string, cp *lethe.Checkpoint) error {
	if cp == nil || cp.Tenant == "" || cp.Log == "" || cp.Seq <= 0 || len(cp.Hash) == 0 || len(cp.MAC) == 0 {
		return fmt.Errorf("%w: checkpoint needs tenant, log, seq, hash and mac", lethe.ErrInvalid)
	}
	q := `INSERT INTO audit_checkpoints (tenant, log, seq, hash, time, mac) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (tenant, log, seq) DO UPDATE SET hash = excluded.hash, time = excluded.time, mac = excluded.mac`
	if table == headsTable {
		// A head never moves back: a late signer of an older head (after
		// an ApplyBatch) must not replace a newer one.
		q = `INSERT INTO audit_heads (tenant, log, seq, hash, time, mac) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (tenant, log) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, time = excluded.time, mac = excluded.mac
			WHERE excluded.seq > audit_heads.seq`
	}
	b.Queue(q, cp.Tenant, string(cp.Log), cp.Seq, cp.Hash, ms(cp.Time), cp.MAC)
	return nil
}

// putCheckpoint stores one checkpoint in table.
func (s *Store) putCheckpoint(ctx context.Context, table string, cp *lethe.Checkpoint) error {
	db, err := s.db()
	if err != nil {
		return err
	}
	b := &pgx.Batch{}
	if err := queueCheckpoint(b, table, cp); err != nil {
		return err
	}
	if err := db.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("%s %s/%s #%d: %w", table, cp.Tenant, cp.Log, cp.Seq, mapErr(err))
	}
	return nil
}

// SetAuditHead replaces a chain's signed head unless the stored one is
// newer.
func (s *Store) SetAuditHead(ctx context.Context, head *lethe.Checkpoint) error {
	return s.putCheckpoint(ctx, headsTable, head)
}

// PutCheckpoint stores a periodic checkpoint (replacing an identical one).
func (s *Store) PutCheckpoint(ctx context.Context, cp *lethe.Checkpoint) error {
	return s.putCheckpoint(ctx, checkpointsTable, cp)
}

// AuditHead returns a chain's signed head; ErrNotFound when none.
func (s *Store) AuditHead(ctx context.Context, tenant string, log lethe.Log) (*lethe.Checkpoint, error) {
	cps, err := s.checkpoints(ctx, headsTable, tenant, log)
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
	return s.checkpoints(ctx, checkpointsTable, tenant, log)
}

func (s *Store) checkpoints(ctx context.Context, table, tenant string, log lethe.Log) ([]*lethe.Checkpoint, error) {
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	rows, err := db.Query(ctx, "SELECT seq, hash, time, mac FROM "+table+" WHERE tenant = $1 AND log = $2 ORDER BY seq",
		tenant, string(log))
	if err != nil {
		return nil, fmt.Errorf("%s of %s/%s: %w", table, tenant, log, mapErr(err))
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*lethe.Checkpoint, error) {
		cp := &lethe.Checkpoint{Tenant: tenant, Log: log}
		if err := row.Scan(&cp.Seq, &cp.Hash, &cp.Time, &cp.MAC); err != nil {
			return nil, err
		}
		cp.Time = cp.Time.UTC()
		return cp, nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s of %s/%s: %w", table, tenant, log, mapErr(err))
	}
	return out, nil
}

// AuditChains lists every chain with entries, a head or checkpoints.
func (s *Store) AuditChains(ctx context.Context) ([]lethe.AuditChain, error) {
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	rows, err := db.Query(ctx, `SELECT c.tenant, c.log, coalesce(a.first, 0), coalesce(a.last, 0), a.n
		FROM (SELECT DISTINCT tenant, log FROM audit
			UNION SELECT tenant, log FROM audit_heads
			UNION SELECT tenant, log FROM audit_checkpoints) c
		CROSS JOIN LATERAL (SELECT min(seq) AS first, max(seq) AS last, count(*) AS n
			FROM audit WHERE tenant = c.tenant AND log = c.log) a
		ORDER BY c.tenant, c.log`)
	if err != nil {
		return nil, fmt.Errorf("audit chains: %w", mapErr(err))
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (lethe.AuditChain, error) {
		var (
			c   lethe.AuditChain
			log string
		)
		err := row.Scan(&c.Tenant, &log, &c.First, &c.Last, &c.Count)
		c.Log = lethe.Log(log)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("audit chains: %w", mapErr(err))
	}
	return out, nil
}

// ExpireAudit removes a chain's expired entries up to its newest usable
// checkpoint (see lethe.AuditStore), all in one transaction.
func (s *Store) ExpireAudit(ctx context.Context, tenant string, log lethe.Log, before time.Time) (int64, error) {
	var removed int64
	err := s.tx(ctx, func(tx pgx.Tx) error {
		removed = 0
		// The newest entry stays: the next append continues the chain from
		// it. Entries at or after the first young one stay too, even when
		// an older one follows them (clocks may step back). The cut is the
		// newest checkpoint at or below both limits.
		var anchor *int64
		err := tx.QueryRow(ctx, `SELECT max(cp.seq) FROM audit_checkpoints cp
			WHERE cp.tenant = $1 AND cp.log = $2
			AND cp.seq <= (SELECT max(seq) - 1 FROM audit WHERE tenant = $1 AND log = $2)
			AND cp.seq <= coalesce((SELECT min(seq) - 1 FROM audit WHERE tenant = $1 AND log = $2 AND time >= $3),
				9223372036854775807)`,
			tenant, string(log), ms(before)).Scan(&anchor)
		if err != nil || anchor == nil {
			return err
		}
		tag, err := tx.Exec(ctx, "DELETE FROM audit WHERE tenant = $1 AND log = $2 AND seq <= $3", tenant, string(log), *anchor)
		if err != nil {
			return err
		}
		removed = tag.RowsAffected()
		_, err = tx.Exec(ctx, "DELETE FROM audit_checkpoints WHERE tenant = $1 AND log = $2 AND seq < $3", tenant, string(log), *anchor)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("expire audit %s/%s: %w", tenant, log, err)
	}
	return removed, nil
}
