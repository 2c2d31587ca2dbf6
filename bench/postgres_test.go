package bench

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/lethe-privacy/lethe/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestRunPG_TinyRunReportsEveryPhaseAndThreeInstances runs the whole
// bench on PostgreSQL at a tiny size: every phase in order, the figures
// measured beside their baselines, three instances creating and sweeping
// on one database (Run fails when a sweep misses a record), and the
// baseline's schema gone afterwards.
func TestRunPG_TinyRunReportsEveryPhaseAndThreeInstances(t *testing.T) {
	dsn := pgtest.DSN(t)
	cfg := Config{Records: 300, SweepRecords: 200, HTTPDuration: 300 * time.Millisecond, Lookups: 50,
		LagRate: 300, LagDuration: 1500 * time.Millisecond, DatabaseURL: dsn}
	var phases []string
	res, err := Run(context.Background(), cfg, func(p string) { phases = append(phases, p) })
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Phases(cfg), phases); diff != "" {
		t.Errorf("phases (-want +got):\n%s", diff)
	}
	if got := phases[len(phases)-1]; got != "3 instances: sweep lag" {
		t.Errorf("last phase %q, want the three instances' sweep lag", got)
	}
	if res.Store != "postgres" || res.Instances != 3 || res.InstancesHTTPClients != 50 {
		t.Errorf("store %q, %d instances with %d clients; want postgres, 3, 50", res.Store, res.Instances, res.InstancesHTTPClients)
	}
	for name, v := range map[string]float64{
		"ingest": res.IngestBatchRPS, "ingest baseline": res.IngestBatchBaselineRPS,
		"lookup": res.LookupP50MS, "lookup baseline": res.LookupBaselineP50MS,
		"delete": res.SweepDeleteRPS, "delete baseline": res.SweepDeleteBaselineRPS,
		"anonymize": res.SweepAnonymizeRPS, "anonymize baseline": res.SweepAnonymizeBaselineRPS,
		"disk": res.DiskBytesPerRecord, "disk baseline": res.DiskBaselineBytesPerRecord,
		"creates c50": res.HTTPCreateC50RPS, "creates on 3 instances": res.InstancesHTTPCreateRPS,
		"3-instance ingest": res.InstancesSweepLagIngestRPS,
	} {
		if !(v > 0) {
			t.Errorf("%s = %v, want a measured figure", name, v)
		}
	}
	if res.HTTPCreateC50Errors != 0 || res.InstancesHTTPCreateErrors != 0 {
		t.Errorf("HTTP errors: %d at 50 clients, %d on 3 instances; want 0", res.HTTPCreateC50Errors, res.InstancesHTTPCreateErrors)
	}
	if r := res.IngestBatchRPS / res.IngestBatchBaselineRPS; res.IngestBatchRatio != r {
		t.Errorf("ingest ratio %v, want %v", res.IngestBatchRatio, r)
	}
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var schemas int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM pg_namespace WHERE nspname = $1", rawPGSchema).Scan(&schemas); err != nil {
		t.Fatal(err)
	}
	if schemas != 0 {
		t.Errorf("the baseline's schema %s is still there", rawPGSchema)
	}
}

// TestRawPG_SweepsOnlyDueRowsAndTheirSubjects is the SQLite baseline's
// test on the PostgreSQL one: due rows deleted or rewritten with their
// subjects, rows not due untouched.
func TestRawPG_SweepsOnlyDueRowsAndTheirSubjects(t *testing.T) {
	ctx := context.Background()
	env, err := OpenEnvPG(ctx, pgtest.DSN(t), nil) // migrates the tables the baseline copies
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	raw, err := OpenRawPG(ctx, env.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	now := time.Now()
	if err := raw.Insert(ctx, RawEntries(0, 30, now.Add(-EntryPeriod-time.Hour))); err != nil { // due
		t.Fatal(err)
	}
	if err := raw.Insert(ctx, RawEntries(100, 20, now)); err != nil { // not due
		t.Fatal(err)
	}
	if n, err := raw.DeleteDue(ctx, now, 7); err != nil || n != 30 {
		t.Fatalf("DeleteDue = %d, %v; want 30", n, err)
	}
	for i, want := range map[int]int{0: 0, 29: 0, 100: 1, 119: 1} {
		if got, err := raw.Lookup(ctx, ChatTenant, []byte(EntryEmail(i))); err != nil || got != want {
			t.Errorf("lookup entry %d = %d, %v; want %d", i, got, err, want)
		}
	}
	pgCount := func(q string, args ...any) int {
		t.Helper()
		var n int
		if err := raw.pool.QueryRow(ctx, q, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if got := pgCount("SELECT count(*) FROM " + rawPGSchema + ".subjects"); got != 40 {
		t.Errorf("%d subjects left, want 40 (two for each of 20 entries)", got)
	}
	base := now.Add(-OrderAnonymizeAfter - time.Hour)
	rows := RawOrders(0, 5, base)
	if err := raw.Insert(ctx, rows); err != nil {
		t.Fatal(err)
	}
	forms := map[string]string{}
	for i, r := range rows {
		forms[r.ID] = AnonymizedOrder(base, i)
	}
	if n, err := raw.AnonymizeDue(ctx, now, 1000, forms); err != nil || n != 5 {
		t.Fatalf("AnonymizeDue = %d, %v; want 5", n, err)
	}
	if got := pgCount("SELECT count(*) FROM "+rawPGSchema+".records WHERE state = 'anonymized' AND plain::text NOT LIKE '%buyer%' AND due_at > $1", now); got != 5 {
		t.Errorf("%d orders anonymized with their plan moved on, want 5", got)
	}
	if got := pgCount("SELECT count(*) FROM "+rawPGSchema+".subjects WHERE tenant = $1", ShopTenant); got != 0 {
		t.Errorf("%d order subjects left, want 0", got)
	}
	// The store's own tables hold none of the baseline's rows.
	if got := pgCount("SELECT count(*) FROM records WHERE tenant = $1", ShopTenant); got != 0 {
		t.Errorf("%d baseline rows in the store's table, want 0", got)
	}
}
