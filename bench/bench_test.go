package bench

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestRawSchema_MatchesTheStoresRecordsAndSubjects keeps the baseline's
// copy of the tables in step with the store's migration: same columns
// (name, type, default, NOT NULL), same indexes (columns, uniqueness,
// partial WHERE).
func TestRawSchema_MatchesTheStoresRecordsAndSubjects(t *testing.T) {
	mig, err := os.ReadFile("../sqlite/migrations/00001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	up, _, ok := strings.Cut(string(mig), "-- +goose Down")
	if !ok {
		t.Fatal("migration has no Down section")
	}
	ctx := context.Background()
	describe := func(schema string) []string {
		t.Helper()
		raw, err := OpenRaw(ctx, filepath.Join(t.TempDir(), "s.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		// OpenRaw made the baseline tables already; a migration replaces
		// them with its own.
		if schema != "" {
			if _, err := raw.db.ExecContext(ctx, "DROP TABLE records; DROP TABLE subjects;"); err != nil {
				t.Fatal(err)
			}
			if _, err := raw.db.ExecContext(ctx, schema); err != nil {
				t.Fatal(err)
			}
		}
		var out []string
		for _, table := range []string{"records", "subjects"} {
			out = append(out, queryLines(t, raw.db, "SELECT name, type, \"notnull\", coalesce(dflt_value, ''), pk FROM pragma_table_info(?)", table)...)
			out = append(out, queryLines(t, raw.db, "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL ORDER BY name", table)...)
		}
		return out
	}
	if diff := cmp.Diff(describe(up), describe("")); diff != "" {
		t.Errorf("raw baseline schema differs from the store's (-store +raw):\n%s", diff)
	}
}

// queryLines runs a query and returns each row's columns joined by "|",
// white space collapsed.
func queryLines(t *testing.T, db *sql.DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.Query(q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = strings.Join(strings.Fields(v.String), " ")
		}
		out = append(out, strings.Join(parts, "|"))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestPercentile_NearestRank(t *testing.T) {
	ms := func(vs ...int) []time.Duration {
		out := make([]time.Duration, len(vs))
		for i, v := range vs {
			out[i] = time.Duration(v) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // 100 down to 1: percentile must sort
	}
	for _, tc := range []struct {
		name string
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{"no samples", nil, 50, 0},
		{"one sample", ms(7), 99, 7 * time.Millisecond},
		{"median of odd count", ms(3, 1, 2), 50, 2 * time.Millisecond},
		{"median of even count takes the lower", ms(4, 1, 3, 2), 50, 2 * time.Millisecond},
		{"p99 of 100", ms(hundred...), 99, 99 * time.Millisecond},
		{"p100 is the max", ms(hundred...), 100, 100 * time.Millisecond},
		{"p99 of 10 is the max", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 99, 10 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := percentile(tc.in, tc.p); got != tc.want {
				t.Errorf("percentile(%v) = %v, want %v", tc.p, got, tc.want)
			}
		})
	}
}

// TestRaw_SweepsOnlyDueRowsAndTheirSubjects checks the baseline does the
// work it stands for: due rows deleted or rewritten with their subjects,
// rows not due untouched.
func TestRaw_SweepsOnlyDueRowsAndTheirSubjects(t *testing.T) {
	ctx := context.Background()
	raw, err := OpenRaw(ctx, filepath.Join(t.TempDir(), "raw.db"))
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
	n, err := raw.DeleteDue(ctx, now, 7)
	if err != nil || n != 30 {
		t.Fatalf("DeleteDue = %d, %v; want 30", n, err)
	}
	for i, want := range map[int]int{0: 0, 29: 0, 100: 1, 119: 1} {
		if got, err := raw.Lookup(ctx, ChatTenant, []byte(EntryEmail(i))); err != nil || got != want {
			t.Errorf("lookup entry %d = %d, %v; want %d", i, got, err, want)
		}
	}
	if got := count(t, raw.db, "SELECT count(*) FROM subjects"); got != 40 {
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
	if got := count(t, raw.db, "SELECT count(*) FROM records WHERE state = 'anonymized' AND plain NOT LIKE '%buyer%' AND due_at > ?", now.UnixMilli()); got != 5 {
		t.Errorf("%d orders anonymized with their plan moved on, want 5", got)
	}
	if got := count(t, raw.db, "SELECT count(*) FROM subjects WHERE tenant = ?", ShopTenant); got != 0 {
		t.Errorf("%d order subjects left, want 0", got)
	}
	if n, err := raw.AnonymizeDue(ctx, now, 1000, forms); err != nil || n != 0 {
		t.Errorf("second AnonymizeDue = %d, %v; want 0", n, err)
	}
}

func count(t *testing.T, db *sql.DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRun_TinyRunReportsEveryPhase runs every phase at a tiny size: each
// reported in order, every sweep acting on every due record (Run fails
// otherwise), and the figures measured.
func TestRun_TinyRunReportsEveryPhase(t *testing.T) {
	cfg := Config{Records: 300, SweepRecords: 200, HTTPDuration: 200 * time.Millisecond, Lookups: 100,
		LagRate: 400, LagDuration: time.Second, Dir: t.TempDir()}
	var phases []string
	res, err := Run(context.Background(), cfg, func(p string) { phases = append(phases, p) })
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Phases(cfg), phases); diff != "" {
		t.Errorf("phases (-want +got):\n%s", diff)
	}
	if res.LookupRecords <= 300 || res.SweepRecords != 200 || res.LookupCount != 100 {
		t.Errorf("lookup at %d records (want more than 300: the HTTP creates count), sweeps of %d, %d lookups",
			res.LookupRecords, res.SweepRecords, res.LookupCount)
	}
	if res.SweepLagSamples == 0 || res.SweepLagIngestRPS < 300 {
		t.Errorf("lag phase: %d samples at %.0f records/s, want samples at about 400/s", res.SweepLagSamples, res.SweepLagIngestRPS)
	}
	if entries, _ := os.ReadDir(cfg.Dir); !slices.ContainsFunc(entries, func(e os.DirEntry) bool { return e.Name() == "lethe.db" }) {
		t.Errorf("no lethe.db in the given folder")
	}
}

func TestRun_RefusesAFolderInUse(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "lethe.db"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), Config{Records: 10, Dir: dir}, nil); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("err = %v, want a refusal of the non-empty folder", err)
	}
}

func TestScramble_IsOneToOne(t *testing.T) {
	seen := make(map[int]bool, 200_000)
	for i := range 200_000 {
		v := scramble(i)
		if v < 0 || v >= 100_000_000 || seen[v] {
			t.Fatalf("scramble(%d) = %d: out of range or taken", i, v)
		}
		seen[v] = true
	}
	if scramble(1) == 1 && scramble(2) == 2 {
		t.Error("scramble keeps the order")
	}
}
