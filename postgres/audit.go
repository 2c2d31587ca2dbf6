package postgres

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-privacy/lethe"
)

// AppendAudit appends entries to their chains in one transaction. For each
// entry it assigns Seq (last of the tenant log + 1), Prev (the last hash)
// and Hash (lethe.ChainHash) and writes them back into the caller's entry.
// Time is stored in milliseconds, so it is truncated to the millisecond
// (and set from the store's clock when zero) before hashing: the hash then
// verifies against the entry as read back.
func (s *Store) AppendAudit(ctx context.Context, entries []*lethe.AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	err := s.tx(ctx, func(tx pgx.Tx) error { return s.appendAudit(ctx, tx, entries) })
	if err != nil {
		return fmt.Errorf("append audit: %w", err)
	}
	return nil
}

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

// lockChainsSQL takes a transaction-scoped advisory lock on each chain,
// in the order of the lock keys, so that two transactions locking
// overlapping chains cannot deadlock. The key hashes tenant and log
// (separated by a NUL, which neither holds); a collision only makes two
// chains share a lock.
const lockChainsSQL = `SELECT count(pg_advisory_xact_lock(h)) FROM (
		SELECT DISTINCT hashtextextended(t, hashtextextended(l, 0)) AS h
		FROM unnest($1::text[], $2::text[]) AS c(t, l) ORDER BY h) k`

// chainHeadsSQL reads the last entry of each chain: one backward step on
// the primary key (tenant, log, seq) per chain.
const chainHeadsSQL = `SELECT c.t, c.l, a.seq, a.hash FROM unnest($1::text[], $2::text[]) AS c(t, l)
	CROSS JOIN LATERAL (SELECT seq, hash FROM audit WHERE tenant = c.t AND log = c.l ORDER BY seq DESC LIMIT 1) a`

// insertAuditSQL inserts entries from arrays, one per column.
const insertAuditSQL = `INSERT INTO audit (tenant, log, seq, time, actor, event, data, prev, hash)
	SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::timestamptz[], $5::text[], $6::text[],
		$7::bytea[], $8::bytea[], $9::bytea[])`

// appendAudit appends entries inside the caller's transaction. Several
// instances may append to one chain at once: each transaction first locks
// the chains it appends to (lockChainsSQL, held until it ends), and only
// then reads their heads, in a statement whose snapshot already sees the
// previous holder's commit. So two instances never assign the same seq nor
// fork a chain; the primary key (tenant, log, seq) would refuse it anyway.
// Lock and head read go to the server in one round trip, the insert in a
// second.
func (s *Store) appendAudit(ctx context.Context, q querier, entries []*lethe.AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	heads := make(map[chainKey]chainHead)
	for _, e := range entries {
		if e == nil || e.Tenant == "" || e.Log == "" || e.Event == "" {
			return fmt.Errorf("%w: audit entry needs tenant, log and event", lethe.ErrInvalid)
		}
		heads[chainKey{e.Tenant, e.Log}] = chainHead{}
	}
	keys := make([]chainKey, 0, len(heads))
	for k := range heads {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].tenant != keys[j].tenant {
			return keys[i].tenant < keys[j].tenant
		}
		return keys[i].log < keys[j].log
	})
	tenants, logs := make([]string, len(keys)), make([]string, len(keys))
	for i, k := range keys {
		tenants[i], logs[i] = k.tenant, string(k.log)
	}

	b := &pgx.Batch{}
	b.Queue(lockChainsSQL, tenants, logs)
	b.Queue(chainHeadsSQL, tenants, logs)
	br := q.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		br.Close()
		return fmt.Errorf("lock audit chains: %w", mapErr(err))
	}
	rows, err := br.Query()
	if err != nil {
		br.Close()
		return fmt.Errorf("audit chain heads: %w", mapErr(err))
	}
	var (
		k   chainKey
		log string
		h   chainHead
	)
	_, err = pgx.ForEachRow(rows, []any{&k.tenant, &log, &h.seq, &h.hash}, func() error {
		k.log = lethe.Log(log)
		heads[k] = h
		return nil
	})
	if err == nil {
		err = br.Close()
	} else {
		br.Close()
	}
	if err != nil {
		return fmt.Errorf("audit chain heads: %w", mapErr(err))
	}

	n := len(entries)
	var (
		eTenants, eLogs, actors, events = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		seqs                            = make([]int64, n)
		times                           = make([]time.Time, n)
		datas, prevs, hashes            = make([][]byte, n), make([][]byte, n), make([][]byte, n)
	)
	for i, e := range entries {
		k := chainKey{e.Tenant, e.Log}
		head := heads[k]
		e.Time = ms(s.orNow(e.Time))
		e.Seq = head.seq + 1
		e.Prev = head.hash
		e.Hash = lethe.ChainHash(e.Prev, e)
		heads[k] = chainHead{e.Seq, e.Hash}
		eTenants[i], eLogs[i], seqs[i], times[i] = e.Tenant, string(e.Log), e.Seq, e.Time
		actors[i], events[i], datas[i], prevs[i], hashes[i] = e.Actor, e.Event, e.Data, e.Prev, e.Hash
	}
	if _, err := q.Exec(ctx, insertAuditSQL, eTenants, eLogs, seqs, times, actors, events, datas, prevs, hashes); err != nil {
		return fmt.Errorf("audit append: %w", mapErr(err))
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
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	args := []any{q.Tenant, q.AfterSeq}
	where := "tenant = $1 AND seq > $2"
	add := func(cond string, v any) {
		args = append(args, v)
		where += fmt.Sprintf(" AND %s $%d", cond, len(args))
	}
	order := "seq"
	if q.Log != "" {
		add("log =", string(q.Log))
	} else {
		order = "seq, log"
	}
	if !q.From.IsZero() {
		add("time >=", ms(q.From))
	}
	if !q.To.IsZero() {
		add("time <", ms(q.To))
	}
	if q.Actor != "" {
		add("actor =", q.Actor)
	}
	if q.Event != "" {
		add("event =", q.Event)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	args = append(args, limit)
	rows, err := db.Query(ctx, fmt.Sprintf(`SELECT tenant, log, seq, time, actor, event, data, prev, hash
		FROM audit WHERE %s ORDER BY %s LIMIT $%d`, where, order, len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("audit entries of %s: %w", q.Tenant, mapErr(err))
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*lethe.AuditEntry, error) {
		var (
			e   lethe.AuditEntry
			log string
		)
		if err := row.Scan(&e.Tenant, &log, &e.Seq, &e.Time, &e.Actor, &e.Event, &e.Data, &e.Prev, &e.Hash); err != nil {
			return nil, err
		}
		e.Log = lethe.Log(log)
		e.Time = e.Time.UTC()
		return &e, nil
	})
	if err != nil {
		return nil, fmt.Errorf("audit entries of %s: %w", q.Tenant, mapErr(err))
	}
	return out, nil
}
