package postgres_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/postgres"
)

// Each benchmark runs the store beside a raw pgx baseline doing the same
// work on the same tables in the same run: the baseline is the floor a
// hand-written program would reach, and the gap is what the store costs.
// Run them with a small -benchtime, for example:
//
//	go test ./postgres/ -run '^$' -bench . -benchtime 5x

const benchBatch = 1000

// benchRecord is a typical record: three plain fields, three sealed ones
// of envelope size, two subjects with 16-byte hashes.
func benchRecord(tenant, id string) *lethe.Record {
	h := func(s string) []byte { x := sha256.Sum256([]byte(s)); return x[:16] }
	env := func(s string) []byte { x := sha256.Sum256([]byte(s)); return append(x[:], x[:]...) }
	return &lethe.Record{
		Tenant: tenant, Collection: "orders", ID: id, Origin: "shop",
		CreatedAt: t0, UpdatedAt: t0, State: lethe.StateActive,
		Plain:  map[string]any{"status": "open", "amount": int64(4200), "country": "DE"},
		Sealed: map[string][]byte{"email": env("e" + id), "name": env("n" + id), "strasse": env("s" + id)},
		Subjects: []lethe.Subject{
			{Kind: "email", Field: "email", Hash: h("mail-" + id)},
			{Kind: "customer_id", Field: "customer", Hash: h("cust-" + id)},
		},
		Plan: lethe.Plan{Action: lethe.ActionDelete, Rule: "delete-after", DueAt: t0.AddDate(1, 0, 0)},
	}
}

// benchEnv is one migrated database with a store and a raw pool on it.
type benchEnv struct {
	store *postgres.Store
	pool  *pgxpool.Pool
}

func newBenchEnv(b *testing.B) *benchEnv {
	b.Helper()
	dsn := migratedDSN(b)
	pool, err := pgxpool.New(b.Context(), dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	return &benchEnv{store: openDSN(b, dsn), pool: pool}
}

// batch builds benchBatch new records with ids prefix-0 ... prefix-999.
func batch(tenant, prefix string) []*lethe.Record {
	recs := make([]*lethe.Record, benchBatch)
	for i := range recs {
		recs[i] = benchRecord(tenant, fmt.Sprintf("%s-%04d", prefix, i))
	}
	return recs
}

// rawInsert stores records as a hand-written pgx program would: one
// transaction, COPY records, COPY subjects, with rids counted in Go.
func rawInsert(ctx context.Context, pool *pgxpool.Pool, recs []*lethe.Record, nextRid *int64) error {
	rows := make([][]any, len(recs))
	var subs [][]any
	for i, r := range recs {
		plain, err := json.Marshal(r.Plain)
		if err != nil {
			return err
		}
		*nextRid++
		rid := *nextRid
		rows[i] = []any{rid, r.Tenant, r.Collection, r.ID, r.Origin, r.CreatedAt, r.UpdatedAt, string(r.State),
			string(plain), lethe.EncodeSealed(r.Sealed), string(r.Plan.Action), r.Plan.Rule, r.Plan.DueAt}
		for pos, s := range r.Subjects {
			subs = append(subs, []any{rid, int32(pos), r.Tenant, r.Collection, s.Kind, s.Field, s.Hash, s.Unique})
		}
	}
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"records"}, []string{"rid", "tenant", "collection", "id", "origin",
			"created_at", "updated_at", "state", "plain", "sealed", "plan_action", "plan_rule", "due_at"}, pgx.CopyFromRows(rows))
		if err != nil {
			return err
		}
		_, err = tx.CopyFrom(ctx, pgx.Identifier{"subjects"}, []string{"rec", "pos", "tenant", "collection", "kind",
			"field", "hash", "uniq"}, pgx.CopyFromRows(subs))
		return err
	})
}

// reportRecords reports the throughput of the timed part.
func reportRecords(b *testing.B, perOp int) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N*perOp)/s, "records/s")
	}
}

func BenchmarkInsertRecords(b *testing.B) {
	env := newBenchEnv(b)
	runs := 0
	rawRid := int64(1 << 40) // far above the sequence the store draws from
	b.Run("store", func(b *testing.B) {
		runs++
		for i := 0; b.Loop(); i++ {
			if err := env.store.InsertRecords(b.Context(), batch("store", fmt.Sprintf("r%d-b%d", runs, i))); err != nil {
				b.Fatal(err)
			}
		}
		reportRecords(b, benchBatch)
	})
	b.Run("raw-copy", func(b *testing.B) {
		runs++
		for i := 0; b.Loop(); i++ {
			if err := rawInsert(b.Context(), env.pool, batch("raw", fmt.Sprintf("r%d-b%d", runs, i)), &rawRid); err != nil {
				b.Fatal(err)
			}
		}
		reportRecords(b, benchBatch)
	})
}

func BenchmarkRecordLookup(b *testing.B) {
	env := newBenchEnv(b)
	const stored = 10 * benchBatch
	for i := range stored / benchBatch {
		if err := env.store.InsertRecords(b.Context(), batch("t", fmt.Sprintf("b%02d", i))); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := env.pool.Exec(b.Context(), "ANALYZE"); err != nil {
		b.Fatal(err)
	}
	ref := func(i int) lethe.RecordRef {
		i = i * 7919 % stored // spread over the table
		return lethe.RecordRef{Tenant: "t", Collection: "orders", ID: fmt.Sprintf("b%02d-%04d", i/benchBatch, i%benchBatch)}
	}
	b.Run("store", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			r, err := env.store.Record(b.Context(), ref(i))
			if err != nil || len(r.Subjects) != 2 {
				b.Fatalf("Record: %v", err)
			}
		}
		reportRecords(b, 1)
	})
	b.Run("raw-select", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			rf := ref(i)
			var (
				rid                             int64
				tenant, coll, id, origin, state string
				plain, sealed                   []byte
				action, rule                    *string
				created, updated, due           any
			)
			err := env.pool.QueryRow(b.Context(), `SELECT rid, tenant, collection, id, origin, created_at, updated_at,
				state, plain, sealed, plan_action, plan_rule, due_at FROM records
				WHERE tenant = $1 AND collection = $2 AND id = $3`, rf.Tenant, rf.Collection, rf.ID).
				Scan(&rid, &tenant, &coll, &id, &origin, &created, &updated, &state, &plain, &sealed, &action, &rule, &due)
			if err != nil {
				b.Fatalf("raw select: %v", err)
			}
		}
		reportRecords(b, 1)
	})
}

func BenchmarkApplyBatchDeletes(b *testing.B) {
	env := newBenchEnv(b)
	runs := 0
	refs := func(recs []*lethe.Record) []lethe.RecordRef {
		out := make([]lethe.RecordRef, len(recs))
		for i, r := range recs {
			out[i] = r.Ref()
		}
		return out
	}
	b.Run("store", func(b *testing.B) {
		runs++
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			recs := batch("store", fmt.Sprintf("r%d-b%d", runs, i))
			if err := env.store.InsertRecords(b.Context(), recs); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			if err := env.store.ApplyBatch(b.Context(), &lethe.Batch{Deletes: refs(recs)}); err != nil {
				b.Fatal(err)
			}
		}
		reportRecords(b, benchBatch)
	})
	b.Run("raw-delete", func(b *testing.B) {
		runs++
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			recs := batch("raw", fmt.Sprintf("r%d-b%d", runs, i))
			if err := env.store.InsertRecords(b.Context(), recs); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			tenants, colls, ids := make([]string, len(recs)), make([]string, len(recs)), make([]string, len(recs))
			for j, r := range recs {
				tenants[j], colls[j], ids[j] = r.Tenant, r.Collection, r.ID
			}
			err := pgx.BeginFunc(b.Context(), env.pool, func(tx pgx.Tx) error {
				rows, err := tx.Query(b.Context(), `DELETE FROM records WHERE (tenant, collection, id) IN (
					SELECT * FROM unnest($1::text[], $2::text[], $3::text[])) RETURNING rid`, tenants, colls, ids)
				if err != nil {
					return err
				}
				rids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
				if err != nil {
					return err
				}
				if len(rids) != benchBatch {
					return fmt.Errorf("deleted %d records, want %d", len(rids), benchBatch)
				}
				_, err = tx.Exec(b.Context(), "DELETE FROM subjects WHERE rec = ANY($1)", rids)
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		reportRecords(b, benchBatch)
	})
}
