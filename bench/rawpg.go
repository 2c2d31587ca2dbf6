package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// baseline is the raw side of every ratio: the same rows, written and
// read as a program without Lethe would, on the same database engine.
// Raw is the SQLite one, RawPG the PostgreSQL one.
type baseline interface {
	Insert(ctx context.Context, rows []RawRow) error
	Lookup(ctx context.Context, tenant string, value []byte) (int, error)
	DeleteDue(ctx context.Context, now time.Time, batch int) (int, error)
	AnonymizeDue(ctx context.Context, now time.Time, limit int, forms map[string]string) (int, error)
	Checkpoint(ctx context.Context) error
	Close() error
}

// rawPGSchema holds the baseline's tables, in the store's database: the
// same server, durability and connection path as the store.
const rawPGSchema = "lethe_bench_raw"

// RawPG is the PostgreSQL baseline: the store's records and subjects
// tables copied with their indexes and defaults (CREATE TABLE ... LIKE
// ... INCLUDING ALL, so the copy cannot drift from the migrations) into a
// schema of their own, written with plain pgx: COPY for inserts, one
// statement per batch (arrays through unnest) for deletes and updates,
// no encryption, no audit.
type RawPG struct {
	pool    *pgxpool.Pool
	nextRid int64
	store   string // the schema of the store's tables
}

// OpenRawPG creates the baseline's schema (dropping an old one) in the
// database of dsn, whose store tables must exist (the store is opened
// first and migrates).
func OpenRawPG(ctx context.Context, dsn string) (*RawPG, error) {
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("open raw baseline: %w", err)
	}
	r := &RawPG{pool: pool}
	// The store's tables are where the connection's search path finds
	// them.
	if err := pool.QueryRow(ctx, "SELECT current_schema()").Scan(&r.store); err != nil {
		pool.Close()
		return nil, fmt.Errorf("raw baseline schema: %w", err)
	}
	_, err = pool.Exec(ctx, `DROP SCHEMA IF EXISTS `+rawPGSchema+` CASCADE;
		CREATE SCHEMA `+rawPGSchema+`;
		CREATE TABLE `+rawPGSchema+`.records (LIKE records INCLUDING ALL);
		CREATE TABLE `+rawPGSchema+`.subjects (LIKE subjects INCLUDING ALL);`)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("raw baseline schema: %w", err)
	}
	return r, nil
}

// Close drops the baseline's schema and closes the pool.
func (r *RawPG) Close() error {
	_, err := r.pool.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+rawPGSchema+" CASCADE")
	r.pool.Close()
	return err
}

// Insert copies rows and their subjects in one transaction, with rids
// counted here, as a hand-written loader would.
func (r *RawPG) Insert(ctx context.Context, rows []RawRow) error {
	recs := make([][]any, len(rows))
	var subs [][]any
	for i, row := range rows {
		r.nextRid++
		rid := r.nextRid
		recs[i] = []any{rid, row.Tenant, row.Collection, row.ID, row.Origin, row.Created, row.Created, "active",
			row.Plain, row.Action, row.Rule, row.Due}
		for pos, s := range row.Subjects {
			subs = append(subs, []any{rid, int32(pos), row.Tenant, row.Collection, s.Kind, s.Field, s.Value})
		}
	}
	err := pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		_, err := tx.CopyFrom(ctx, pgx.Identifier{rawPGSchema, "records"}, []string{"rid", "tenant", "collection", "id",
			"origin", "created_at", "updated_at", "state", "plain", "plan_action", "plan_rule", "due_at"}, pgx.CopyFromRows(recs))
		if err != nil {
			return err
		}
		_, err = tx.CopyFrom(ctx, pgx.Identifier{rawPGSchema, "subjects"}, []string{"rec", "pos", "tenant", "collection",
			"kind", "field", "hash"}, pgx.CopyFromRows(subs))
		return err
	})
	if err != nil {
		return fmt.Errorf("raw insert: %w", err)
	}
	return nil
}

// Lookup reads the tenant's records holding the identifier through the
// (tenant, hash) index and returns how many it found.
func (r *RawPG) Lookup(ctx context.Context, tenant string, value []byte) (int, error) {
	rows, err := r.pool.Query(ctx, `SELECT rid, tenant, collection, id, origin, created_at, updated_at,
		state, plain::text, sealed, plan_action, plan_rule, due_at FROM `+rawPGSchema+`.records
		WHERE rid IN (SELECT rec FROM `+rawPGSchema+`.subjects WHERE tenant = $1 AND hash = $2)`, tenant, value)
	if err != nil {
		return 0, fmt.Errorf("raw lookup: %w", err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var (
			rid                                int64
			created, updated                   time.Time
			tn, coll, id, origin, state, plain string
			sealed                             []byte
			action, rule                       *string
			due                                *time.Time
		)
		if err := rows.Scan(&rid, &tn, &coll, &id, &origin, &created, &updated, &state, &plain, &sealed,
			&action, &rule, &due); err != nil {
			return 0, fmt.Errorf("raw lookup: %w", err)
		}
		n++
	}
	return n, rows.Err()
}

// DeleteDue deletes every row due at or before now with its subjects,
// batch rows per transaction, oldest due first: one SELECT, one DELETE
// of the subjects and one of the records per batch.
func (r *RawPG) DeleteDue(ctx context.Context, now time.Time, batch int) (int, error) {
	total := 0
	for {
		n, err := r.sweepOnce(ctx, now, batch, func(tx pgx.Tx, due []dueRow) error {
			_, err := tx.Exec(ctx, "DELETE FROM "+rawPGSchema+".records WHERE rid = ANY($1)", rids(due))
			return err
		})
		total += n
		if err != nil || n == 0 {
			return total, err
		}
	}
}

// AnonymizeDue rewrites up to limit due rows in one transaction (one
// UPDATE from unnest'ed arrays), drops their subjects and moves their
// plan to deletion ten years after creation; see Raw.AnonymizeDue.
func (r *RawPG) AnonymizeDue(ctx context.Context, now time.Time, limit int, forms map[string]string) (int, error) {
	return r.sweepOnce(ctx, now, limit, func(tx pgx.Tx, due []dueRow) error {
		plains := make([]string, len(due))
		dues := make([]time.Time, len(due))
		for i, d := range due {
			plain, ok := forms[d.id]
			if !ok {
				return fmt.Errorf("no anonymized form of %s", d.id)
			}
			plains[i] = plain
			dues[i] = time.UnixMilli(d.created).AddDate(10, 0, 0)
		}
		_, err := tx.Exec(ctx, `UPDATE `+rawPGSchema+`.records r SET updated_at = $1, state = 'anonymized',
			plain = u.plain::jsonb, sealed = NULL, plan_action = 'delete', plan_rule = 'delete', due_at = u.due
			FROM unnest($2::bigint[], $3::text[], $4::timestamptz[]) AS u(rid, plain, due) WHERE r.rid = u.rid`,
			now, rids(due), plains, dues)
		return err
	})
}

// sweepOnce runs act on up to limit due rows, oldest due first, and drops
// their subjects, in one transaction; it returns how many rows it acted on.
func (r *RawPG) sweepOnce(ctx context.Context, now time.Time, limit int, act func(tx pgx.Tx, due []dueRow) error) (int, error) {
	n := 0
	err := pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT rid, id, created_at FROM `+rawPGSchema+`.records
			WHERE due_at IS NOT NULL AND due_at <= $1 ORDER BY due_at LIMIT $2 FOR UPDATE`, now, limit)
		if err != nil {
			return err
		}
		var due []dueRow
		for rows.Next() {
			var (
				d       dueRow
				created time.Time
			)
			if err := rows.Scan(&d.rid, &d.id, &created); err != nil {
				rows.Close()
				return err
			}
			d.created = created.UnixMilli()
			due = append(due, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(due) == 0 {
			return nil
		}
		if err := act(tx, due); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "DELETE FROM "+rawPGSchema+".subjects WHERE rec = ANY($1)", rids(due)); err != nil {
			return err
		}
		n = len(due)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("raw sweep: %w", err)
	}
	return n, nil
}

// Checkpoint does nothing: the PostgreSQL store's sweep leaves the
// write-ahead log to the server, and so does the baseline.
func (r *RawPG) Checkpoint(context.Context) error { return nil }

// sizes are the bytes of the store's records and subjects tables and of
// the baseline's, with their indexes and TOAST data.
func (r *RawPG) sizes(ctx context.Context) (store, raw int64, err error) {
	if store, err = pgTablesSize(ctx, r.pool, r.store); err != nil {
		return 0, 0, err
	}
	raw, err = pgTablesSize(ctx, r.pool, rawPGSchema)
	return store, raw, err
}

// pgTablesSize adds up pg_total_relation_size of records and subjects
// in schema.
func pgTablesSize(ctx context.Context, pool *pgxpool.Pool, schema string) (int64, error) {
	var n int64
	err := pool.QueryRow(ctx, `SELECT pg_total_relation_size(format('%I.records', $1::text)::regclass)
		+ pg_total_relation_size(format('%I.subjects', $1::text)::regclass)`, schema).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("table size: %w", err)
	}
	return n, nil
}

func rids(due []dueRow) []int64 {
	out := make([]int64, len(due))
	for i, d := range due {
		out[i] = d.rid
	}
	return out
}
