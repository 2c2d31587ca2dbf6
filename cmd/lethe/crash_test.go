package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
	"github.com/lethe-privacy/lethe/sqlite"
)

// The crash test proves the sweeper's promise that a sweep killed at any
// point loses nothing and erases nothing it should not: it runs the real
// binary, kills it with SIGKILL while it deletes, restarts it, and then
// compares every record that was not due byte for byte with its state
// before the first kill.

const (
	crashTenant   = "crash"
	crashDueColl  = "automated_chat_messages" // delete 1 day after creation
	crashKeepColl = "live_chat_messages"      // delete 7 days after creation
	crashPutBatch = 1000
)

// crashSize is how much data a run holds and how many kills must land
// while due records are being deleted.
type crashSize struct {
	name       string
	due, keep  int
	kills      int
	maxAttempt int
}

// crashSizes picks the form: -short for a quick check, LETHE_LONG=1 for the
// reliability figure (400k records, half due, 10 kills), else the CI form.
func crashSizes() crashSize {
	switch {
	case testing.Short():
		return crashSize{name: "short", due: 20_000, keep: 2_000, kills: 2, maxAttempt: 20}
	case os.Getenv("LETHE_LONG") == "1":
		return crashSize{name: "long", due: 200_000, keep: 200_000, kills: 10, maxAttempt: 60}
	}
	return crashSize{name: "default", due: 200_000, keep: 20_000, kills: 3, maxAttempt: 30}
}

// TestSweep_SurvivesSIGKILL is reliability test 1: SIGKILL "lethe sweep"
// at random points, restart it, and find 0 due records left, 0 not-due
// records changed, integrity_check ok and every deletion audited once.
func TestSweep_SurvivesSIGKILL(t *testing.T) {
	size := crashSizes()
	began := time.Now()
	bin := crashBuildBinary(t)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	dbPath := (&dataFlags{dir: dir}).dbPath()

	insertTime := crashPrepare(ctx, t, dir, size)
	total := size.due + size.keep
	t.Logf("%s form: inserted %d records (%d due, %d not due) in %s: %.0f records/s",
		size.name, total, size.due, size.keep, insertTime.Round(time.Millisecond), float64(total)/insertTime.Seconds())

	before := crashChecksums(ctx, t, dbPath, crashKeepColl)
	if len(before) != size.keep {
		t.Fatalf("%d not-due records stored, want %d", len(before), size.keep)
	}
	if n := crashCountDue(t, dbPath); n != int64(size.due) {
		t.Fatalf("%d records due before the first sweep, want %d", n, size.due)
	}

	kills := crashKillLoop(t, bin, dir, dbPath, size)
	var remaining []string
	for _, k := range kills {
		if k.outcome == crashLanded {
			remaining = append(remaining, fmt.Sprint(k.remaining))
		}
	}

	// A sweep that never ends (a livelock on records it cannot act on)
	// fails here instead of at the test binary's timeout.
	finalCtx, cancel := context.WithTimeout(ctx, crashFinalTimeout)
	defer cancel()
	finalStart := time.Now()
	out, err := crashSweepCmd(finalCtx, bin, dir).CombinedOutput()
	finalTime := time.Since(finalStart)
	if finalCtx.Err() != nil {
		t.Fatalf("final sweep did not finish within %s\n%s", crashFinalTimeout, out)
	}
	if err != nil {
		t.Fatalf("final sweep: %v\n%s", err, out)
	}

	crashVerify(ctx, t, dbPath, size, before)
	t.Logf("records %d (%d due, %d not due); kills landed mid-sweep %d of %d attempts; due left at each landed kill: %s",
		total, size.due, size.keep, len(remaining), len(kills), strings.Join(remaining, ", "))
	t.Logf("final sweep %s: %s", finalTime.Round(time.Millisecond), strings.TrimSpace(crashFirstLine(string(out))))
	t.Logf("total wall time %s", time.Since(began).Round(time.Millisecond))
}

// crashFirstLine returns the text up to its first newline.
func crashFirstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// crashBuildBinary builds cmd/lethe with the toolchain that runs the test,
// so that the binary under test is the code under test. Without a go tool
// the test is skipped loudly, except in CI, where a skipped crash test
// would hide a missing figure.
func crashBuildBinary(t *testing.T) string {
	t.Helper()
	// go test puts its own GOROOT/bin first on the test's PATH, so the
	// lookup finds the toolchain running the test; GOROOT covers the rest.
	goTool := filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	if _, err := os.Stat(goTool); os.Getenv("GOROOT") == "" || err != nil {
		goTool, err = exec.LookPath("go")
		if err != nil {
			msg := "NO GO TOOL FOUND (neither GOROOT/bin/go nor go on PATH): the SIGKILL crash test of the sweeper did NOT run"
			if os.Getenv("CI") == "true" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
	bin := filepath.Join(t.TempDir(), "lethe")
	start := time.Now()
	cmd := exec.Command(goTool, "build", "-o", bin, "./")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Logf("built %s in %s", bin, time.Since(start).Round(time.Millisecond))
	return bin
}

// crashFinalTimeout bounds the final sweep; it takes seconds.
const crashFinalTimeout = 3 * time.Minute

// crashSweepCmd is "lethe sweep" on dir with an environment that holds
// nothing but PATH and HOME; it is killed when ctx ends.
func crashSweepCmd(ctx context.Context, bin, dir string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, bin, "sweep", "--data", dir)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	return cmd
}

// crashPrepare creates the data folder through the same code path as the
// binary, one chatbot tenant, size.due records created three years ago in a
// collection deleted after one day, and size.keep records created now in a
// collection deleted after seven days. It returns the time the inserts took.
func crashPrepare(ctx context.Context, t *testing.T, dir string, size crashSize) time.Duration {
	t.Helper()
	o, err := (&dataFlags{dir: dir}).open(ctx, true, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := o.Close(); err != nil {
			t.Fatalf("close data folder: %v", err)
		}
	}()
	if _, err := o.eng.CreateTenant(ctx, "admin", crashTenant, []string{"chatbot"}); err != nil {
		t.Fatal(err)
	}
	now := o.eng.Now().UTC()
	old := now.AddDate(-3, 0, 0)
	type job struct {
		coll string
		recs []engine.NewRecord
	}
	var jobs []job
	for i := 0; i < size.due; i += crashPutBatch {
		recs := make([]engine.NewRecord, 0, crashPutBatch)
		for j := i; j < min(i+crashPutBatch, size.due); j++ {
			recs = append(recs, engine.NewRecord{
				// Spread over time, so the sweep's oldest-due-first order
				// is an order and not a tie.
				CreatedAt: old.Add(time.Duration(j) * time.Second),
				Fields: map[string]any{
					"session_id": fmt.Sprintf("s-%d", j/10),
					"sender":     "customer",
					"message":    fmt.Sprintf("Hi, I am Erika Muster %d, write to erika%d@example.org", j, j),
				},
			})
		}
		jobs = append(jobs, job{crashDueColl, recs})
	}
	for i := 0; i < size.keep; i += crashPutBatch {
		recs := make([]engine.NewRecord, 0, crashPutBatch)
		for j := i; j < min(i+crashPutBatch, size.keep); j++ {
			recs = append(recs, engine.NewRecord{
				CreatedAt: now,
				Fields: map[string]any{
					"session_id": fmt.Sprintf("l-%d", j/10),
					"sender":     "customer",
					"message":    fmt.Sprintf("Hello, Max Mustermann %d here, call +49 30 %07d", j, j),
					"ip_address": fmt.Sprintf("198.51.%d.%d", j/256%256, j%256),
				},
			})
		}
		jobs = append(jobs, job{crashKeepColl, recs})
	}

	// Sealing runs in the callers, committing in the store's loop: a few
	// concurrent callers keep both busy.
	start := time.Now()
	work := make(chan job)
	errs := make(chan error, len(jobs))
	var wg sync.WaitGroup
	for range max(2, runtime.GOMAXPROCS(0)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range work {
				if _, err := o.eng.Put(ctx, crashTenant, j.coll, j.recs); err != nil {
					errs <- fmt.Errorf("put %s: %w", j.coll, err)
				}
			}
		}()
	}
	for _, j := range jobs {
		work <- j
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return time.Since(start)
}

// crashRecordSum hashes everything a sweep must leave alone in a record:
// id, origin, times, plain fields, sealed envelopes, state and plan. Each
// part is length-prefixed, so that no two records hash alike by shifting
// bytes between parts.
func crashRecordSum(t *testing.T, r *lethe.Record) [32]byte {
	t.Helper()
	plain, err := json.Marshal(r.Plain)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	var n [8]byte
	put := func(b []byte) {
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	put([]byte(r.ID))
	put([]byte(r.Origin))
	put(binary.BigEndian.AppendUint64(nil, uint64(r.CreatedAt.UnixMilli())))
	put(binary.BigEndian.AppendUint64(nil, uint64(r.UpdatedAt.UnixMilli())))
	put(plain)
	put(lethe.EncodeSealed(r.Sealed))
	put([]byte(r.State))
	put([]byte(r.Plan.Action))
	put([]byte(r.Plan.Rule))
	put(binary.BigEndian.AppendUint64(nil, uint64(r.Plan.DueAt.UnixMilli())))
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

// crashChecksums opens the store, hashes every record of coll by id and
// closes the store again.
func crashChecksums(ctx context.Context, t *testing.T, dbPath, coll string) map[string][32]byte {
	t.Helper()
	st, err := sqlite.Open(ctx, dbPath, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	return crashScan(ctx, t, st, coll)
}

// crashScan hashes every record of coll by id.
func crashScan(ctx context.Context, t *testing.T, st *sqlite.Store, coll string) map[string][32]byte {
	t.Helper()
	sums := map[string][32]byte{}
	after := ""
	for {
		recs, err := st.ScanRecords(ctx, crashTenant, coll, after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			return sums
		}
		for _, r := range recs {
			sums[r.ID] = crashRecordSum(t, r)
		}
		after = recs[len(recs)-1].ID
	}
}

// crashReadOnly opens the database read-only, so that counting between
// kills cannot itself repair or change anything.
func crashReadOnly(t *testing.T, dbPath string) *sql.DB {
	t.Helper()
	q := url.Values{}
	q.Set("mode", "ro")
	q.Add("_pragma", "busy_timeout(5000)")
	u := url.URL{Scheme: "file", OmitHost: true, Path: dbPath, RawQuery: q.Encode()}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	return db
}

// crashCounts reads, read-only, how many records are due now, how many
// not-due records exist, and the head of the tenant's security log (where
// every committed sweep batch appends an entry).
func crashCounts(t *testing.T, dbPath string) (due, keep, auditSeq int64) {
	t.Helper()
	db := crashReadOnly(t, dbPath)
	defer db.Close()
	err := db.QueryRow(`SELECT
		(SELECT count(*) FROM records WHERE due_at IS NOT NULL AND due_at <= ?),
		(SELECT count(*) FROM records WHERE tenant = ? AND collection = ?),
		(SELECT coalesce(max(seq), 0) FROM audit WHERE tenant = ? AND log = ?)`,
		time.Now().UnixMilli(), crashTenant, crashKeepColl, crashTenant, string(lethe.LogSecurity)).Scan(&due, &keep, &auditSeq)
	if err != nil {
		t.Fatalf("count read-only: %v", err)
	}
	return due, keep, auditSeq
}

// crashCountDue counts the records due now.
func crashCountDue(t *testing.T, dbPath string) int64 {
	t.Helper()
	due, _, _ := crashCounts(t, dbPath)
	return due
}

// crashOutcome says where a kill landed.
type crashOutcome string

const (
	crashLanded   crashOutcome = "mid-sweep"        // some due records deleted, some left
	crashFinished crashOutcome = "finished first"   // the sweep exited before the kill
	crashAfter    crashOutcome = "after last batch" // nothing due left, process still closing
)

// crashKill is one attempt of the kill loop.
type crashKill struct {
	delay     time.Duration // drawn delay from the first committed batch to the kill
	capped    bool          // killed early because the run had used up its share of due work
	rate      float64       // deletions per millisecond seen while it ran, 0 if unseen
	outcome   crashOutcome
	remaining int64
}

// crashSweepBatch is the engine's default sweep batch (engine.Config.SweepBatch):
// each committed batch deletes at most this many records.
const crashSweepBatch = 1000

// crashMinDelay is the shortest delay between the first batch and a kill.
const crashMinDelay = 10 * time.Millisecond

// crashKillLoop starts "lethe sweep" again and again and SIGKILLs it at a
// random point after its first batch committed, until size.kills kills have
// landed with due records both deleted and left. The first delays are drawn
// from 200-1500 ms; once a kill has shown the deletion rate, each delay is
// drawn so that it leaves work for the kills still needed. A sweep that
// finishes before its kill halves the delays, down to 10 ms. As a guard, a
// run is killed as soon as its committed batches have used up its share of
// the due records: a sweep that ran to the end would leave nothing for the
// kills still to come.
func crashKillLoop(t *testing.T, bin, dir, dbPath string, size crashSize) []crashKill {
	t.Helper()
	var (
		kills  []crashKill
		landed int
		scale  = 1.0
		rate   float64 // records deleted per millisecond, 0 until measured
	)
	for attempt := 1; landed < size.kills; attempt++ {
		if attempt > size.maxAttempt {
			t.Fatalf("only %d of %d kills landed mid-sweep in %d attempts (delays down to %s): the sweep is too fast to catch; attempts: %+v",
				landed, size.kills, size.maxAttempt, crashMinDelay, kills)
		}
		dueBefore, keepBefore, seqBefore := crashCounts(t, dbPath)
		if dueBefore == 0 {
			t.Fatalf("no due records left after %d of %d landed kills; attempts: %+v", landed, size.kills, kills)
		}
		share := float64(dueBefore) / float64(size.kills-landed+1)
		var delay time.Duration
		if rate > 0 {
			delay = time.Duration((0.1 + 0.9*rand.Float64()) * share / rate * scale * float64(time.Millisecond))
		} else {
			delay = time.Duration((200 + 1300*rand.Float64()) * scale * float64(time.Millisecond))
		}
		delay = max(delay, crashMinDelay)
		maxBatches := max(1, int64(share)/crashSweepBatch)

		k, err := crashKillOnce(t, bin, dir, dbPath, seqBefore, maxBatches, delay)
		if err != nil {
			t.Fatalf("attempt %d: %v", attempt, err)
		}
		due, keep, _ := crashCounts(t, dbPath)
		k.remaining = due
		if keep != keepBefore {
			t.Fatalf("attempt %d: not-due records went from %d to %d", attempt, keepBefore, keep)
		}
		switch {
		case k.outcome == crashFinished:
			scale /= 2
		case due == 0:
			k.outcome = crashAfter
			scale /= 2
		case due < dueBefore:
			// Every batch but a sweep's last takes crashSweepBatch records
			// and the due count is a multiple of it: anything else left
			// means a batch was applied in part.
			if (dueBefore-due)%crashSweepBatch != 0 {
				t.Errorf("attempt %d: %d records deleted, not a whole number of batches of %d", attempt, dueBefore-due, crashSweepBatch)
			}
			k.outcome = crashLanded
			landed++
			if k.rate > rate {
				rate = k.rate // the fastest seen, so delays err towards short
			}
		default:
			t.Fatalf("attempt %d: killed after a committed batch, yet due records stayed at %d", attempt, due)
		}
		kills = append(kills, k)
		how := fmt.Sprintf("%s after the first batch", delay.Round(time.Millisecond))
		if k.capped {
			how = fmt.Sprintf("after %d batches (its share; drawn delay %s)", maxBatches, delay.Round(time.Millisecond))
		}
		t.Logf("attempt %d: kill %s: %s, %d due records left (%d before)", attempt, how, k.outcome, due, dueBefore)
	}
	return kills
}

// crashKillOnce starts a sweep, waits until it has committed a batch (the
// security log grows past seqBefore), then sends SIGKILL after delay more,
// or as soon as maxBatches batches have committed. A sweep that exits by
// itself first is reported as crashFinished; one that fails is an error.
func crashKillOnce(t *testing.T, bin, dir, dbPath string, seqBefore, maxBatches int64, delay time.Duration) (crashKill, error) {
	t.Helper()
	cmd := crashSweepCmd(context.Background(), bin, dir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return crashKill{}, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	exited := func(err error) (crashKill, error) {
		if err != nil {
			return crashKill{}, fmt.Errorf("sweep failed by itself: %w\n%s", err, out.String())
		}
		return crashKill{delay: delay, outcome: crashFinished}, nil
	}
	stop := func(err error) (crashKill, error) {
		cmd.Process.Kill()
		<-done
		return crashKill{}, err
	}

	db := crashReadOnly(t, dbPath)
	defer db.Close()
	var (
		first, last       time.Time // when the first and the latest batch were seen
		firstSeq, lastSeq int64
		capped            bool
		deadline          = time.Now().Add(60 * time.Second)
	)
	for {
		var seq int64
		err := db.QueryRow("SELECT coalesce(max(seq), 0) FROM audit WHERE tenant = ? AND log = ?",
			crashTenant, string(lethe.LogSecurity)).Scan(&seq)
		if err != nil {
			return stop(fmt.Errorf("poll audit log: %w", err))
		}
		if seq > seqBefore && seq != lastSeq {
			if first.IsZero() {
				first, firstSeq = time.Now(), seq
			}
			last, lastSeq = time.Now(), seq
		}
		if seq-seqBefore >= maxBatches {
			capped = true
			break
		}
		if !first.IsZero() && time.Since(first) >= delay {
			break
		}
		if first.IsZero() && time.Now().After(deadline) {
			return stop(errors.New("no sweep batch committed within 60 s"))
		}
		select {
		case err := <-done:
			return exited(err)
		case <-time.After(time.Millisecond):
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return stop(fmt.Errorf("kill: %w", err))
	}
	err := <-done
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
		k := crashKill{delay: delay, capped: capped}
		if ms := last.Sub(first).Milliseconds(); lastSeq > firstSeq && ms > 0 {
			k.rate = float64((lastSeq-firstSeq)*crashSweepBatch) / float64(ms)
		}
		return k, nil
	}
	return exited(err)
}

// crashVerify checks the data after the final sweep: nothing due left, every
// not-due record unchanged, the database intact, and the audit log
// accounting for every deletion exactly once, its hash chain unbroken.
func crashVerify(ctx context.Context, t *testing.T, dbPath string, size crashSize, before map[string][32]byte) {
	t.Helper()
	st, err := sqlite.Open(ctx, dbPath, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	if due, err := st.DueRecords(ctx, time.Now(), 1); err != nil || len(due) != 0 {
		t.Errorf("due records after the final sweep: %d (err %v), want 0", len(due), err)
	}
	if left := crashScan(ctx, t, st, crashDueColl); len(left) != 0 {
		t.Errorf("%d records left in %s, want 0", len(left), crashDueColl)
	}

	after := crashScan(ctx, t, st, crashKeepColl)
	var missing, changed int
	for id, sum := range before {
		got, ok := after[id]
		switch {
		case !ok:
			missing++
		case got != sum:
			changed++
		}
	}
	if missing != 0 || changed != 0 || len(after) != len(before) {
		t.Errorf("not-due records: %d missing, %d changed, %d now vs %d before; want all %d unchanged",
			missing, changed, len(after), len(before), size.keep)
	}

	if err := st.IntegrityCheck(ctx); err != nil {
		t.Errorf("integrity check: %v", err)
	}

	deleted, batches := crashAuditDeletes(ctx, t, st)
	if deleted != int64(size.due) {
		t.Errorf("sweep.batch audit entries record %d deletions in %d batches, want exactly %d", deleted, batches, size.due)
	}
	t.Logf("after the final sweep: 0 due, %d not-due records unchanged, integrity ok, %d deletions in %d audited batches",
		len(after), deleted, batches)
}

// crashAuditDeletes walks the tenant's whole security log, checks its hash
// chain, and adds up the deletions its sweep.batch entries record. Every
// entry must speak of the due collection's deletions only.
func crashAuditDeletes(ctx context.Context, t *testing.T, st *sqlite.Store) (deleted int64, batches int) {
	t.Helper()
	var prev *lethe.AuditEntry
	for {
		q := lethe.AuditQuery{Tenant: crashTenant, Log: lethe.LogSecurity, Limit: 1000}
		if prev != nil {
			q.AfterSeq = prev.Seq
		}
		entries, err := st.AuditEntries(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) == 0 {
			return deleted, batches
		}
		for _, e := range entries {
			var prevHash []byte
			wantSeq := int64(1)
			if prev != nil {
				prevHash, wantSeq = prev.Hash, prev.Seq+1
			}
			if e.Seq != wantSeq || !bytes.Equal(e.Prev, prevHash) || !bytes.Equal(e.Hash, lethe.ChainHash(prevHash, e)) {
				t.Fatalf("audit chain broken at seq %d (want seq %d)", e.Seq, wantSeq)
			}
			prev = e
			if e.Event != "sweep.batch" {
				continue
			}
			batches++
			var data struct {
				Counts map[string]map[string]int64 `json:"counts"`
			}
			if err := json.Unmarshal(e.Data, &data); err != nil {
				t.Fatalf("audit seq %d: %v", e.Seq, err)
			}
			for action, colls := range data.Counts {
				for coll, n := range colls {
					if action != string(lethe.ActionDelete) || coll != crashDueColl {
						t.Errorf("audit seq %d: %d %s in %s, want deletions in %s only", e.Seq, n, action, coll, crashDueColl)
					}
					deleted += n
				}
			}
		}
	}
}
