package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe/keyring"
	"github.com/lethe-privacy/lethe/pgtest"
)

// The three-instance test is the evidence for several stateless Lethe
// servers on one PostgreSQL database: three "lethe serve" processes share
// a database and a master key file, take writes at once, are told to sweep
// at once, round after round, and take erasure requests through different
// instances. Every due record must be deleted exactly once (the sweep
// answers and the sweep audit entries both add up to the number of due
// records), nothing that was not due may change, and every request job
// must run once: one job per request however many instances it was sent
// to, one receipt, one "request.done" entry, no record listed twice.

func TestMain(m *testing.M) { pgtest.Main(m) }

const (
	instTenant   = "multi"
	instDueColl  = "automated_chat_messages" // deleted 1 day after creation
	instKeepColl = "live_chat_messages"      // deleted 7 days after creation
	instSubjColl = "runtime_log"             // has an email subject; 7 days
	instAdmin    = "admin-token-for-three-instances"
	// instPassword is put into the database URL (the test server trusts
	// local connections and never asks for it): it must not appear in
	// any output of the instances.
	instPassword = "pw-never-printed-7f3a"
)

// instSize is how much data each of the three instances writes; the due
// records come in instWaves waves of perWave each.
var instSize = struct {
	perWave, keep, persons, perPerson, origins, perOrigin int
}{perWave: 150, keep: 60, persons: 6, perPerson: 5, origins: 3, perOrigin: 12}

const instWaves = 6

// TestInstances_ThreeServersShareOneDatabase runs the scenario above.
func TestInstances_ThreeServersShareOneDatabase(t *testing.T) {
	began := time.Now()
	dsn := withPassword(t, pgtest.DSN(t), instPassword)
	bin := crashBuildBinary(t)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "shared", "master.key")

	// All three start at once on a new database: migrations, the key file
	// and the recorded key id must come out as one.
	insts := make([]*instance, 3)
	var wg sync.WaitGroup
	for i := range insts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			insts[i] = startInstance(t, bin, dsn, keyFile, filepath.Join(dir, fmt.Sprint("inst", i)))
		}()
	}
	wg.Wait()
	for i, in := range insts {
		if in == nil {
			t.Fatalf("instance %d did not start", i)
		}
	}
	t.Cleanup(func() {
		for i, in := range insts {
			if err := in.stop(); err != nil {
				t.Errorf("instance %d: %v\n%s", i, err, in.stderr)
			}
			if strings.Contains(in.stderr.String(), instPassword) {
				t.Errorf("instance %d printed the database password:\n%s", i, in.stderr)
			}
		}
	})
	t.Logf("three instances up at %s, %s, %s (%s)", insts[0].addr, insts[1].addr, insts[2].addr, time.Since(began).Round(time.Millisecond))

	admin := insts[0].client(instAdmin)
	admin.must(t, "POST", "/v1/tenants", map[string]any{"id": instTenant, "packs": []string{"chatbot"}}, http.StatusCreated, nil)
	var key struct{ Key string }
	// The key also reads the security log, where the sweeps are audited.
	admin.must(t, "POST", "/v1/tenants/"+instTenant+"/keys", map[string]any{"roles": []string{"reader", "writer", "requests", "auditor"}}, http.StatusCreated, &key)

	// Writes through all three in waves, each wave's writes racing with
	// a sweep round on all three: the sweeps race with the writes and
	// with each other, and whoever wins a round's lease does its work.
	sweeps := &sweepLog{}
	written := make([]*instWrites, len(insts))
	for wave := range instWaves {
		for i, in := range insts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := in.client(key.Key)
				if wave == 0 {
					written[i] = writeShare(t, c, i)
				}
				written[i].due = append(written[i].due, writeDueWave(t, c, i, wave)...)
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(wave%3) * 20 * time.Millisecond)
			sweeps.round(t, insts)
		}()
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
	}
	w := mergeWrites(written)
	nDue := int64(len(w.due))
	t.Logf("written through three instances: %d due (in %d waves, each racing a sweep round), %d not due, %d of %d persons, %d of %d origins",
		nDue, instWaves, len(w.keep), countRecords(w.subject), len(w.subject), countRecords(w.origin), len(w.origin))

	// Erasure requests, each sent to two instances at once: both answers
	// must name one job. Persons 0..3 and origins 0..1 are erased; the
	// others must stay.
	var jobs []*instJob
	for p := range 4 {
		jobs = append(jobs, &instJob{body: map[string]any{"type": "erase", "subject": map[string]string{"email": personEmail(p)}},
			want: w.subject[personEmail(p)]})
	}
	for o := range 2 {
		jobs = append(jobs, &instJob{body: map[string]any{"type": "erase", "origin": originName(o)}, want: w.origin[originName(o)]})
	}
	for n, j := range jobs {
		ids := make([]string, 2)
		for k := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var out struct{ ID string }
				c := insts[(n+k)%3].client(key.Key)
				status := c.do(t, "POST", "/v1/tenants/"+instTenant+"/requests", j.body, &out)
				if status != http.StatusCreated && status != http.StatusOK {
					t.Errorf("submit %v through instance %d: status %d", j.body, (n+k)%3, status)
				}
				ids[k] = out.ID
			}()
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		if ids[0] == "" || ids[1] == "" {
			t.Fatalf("request %v sent to two instances at once: jobs %q and %q", j.body, ids[0], ids[1])
		}
		if ids[0] != ids[1] {
			// One job per request in flight: a second job is right only
			// when the first had already finished before it was made (a
			// runner can take a small job up between the two submissions
			// on a loaded machine).
			first, second := ids[0], ids[1]
			if first > second { // ids are UUIDv7: the older one sorts first
				first, second = second, first
			}
			a, b := jobTimes(t, insts[0].client(key.Key), first), jobTimes(t, insts[0].client(key.Key), second)
			if a.State != "done" || a.FinishedAt.IsZero() || !a.FinishedAt.Before(b.CreatedAt.Add(time.Millisecond)) {
				t.Fatalf("request %v sent to two instances at once: jobs %s (%s, finished %s) and %s (created %s) overlap, want one",
					j.body, first, a.State, a.FinishedAt, second, b.CreatedAt)
			}
			t.Logf("request %v: job %s finished before the second submission made %s", j.body, first, second)
			ids[0] = first
		}
		j.id = ids[0]
	}

	// Sweep rounds until one finds nothing left, while the request runners
	// of all three work on the jobs.
	for extra := 0; ; extra++ {
		deleted, swept := sweeps.round(t, insts)
		if swept && deleted == 0 && extra >= 2 {
			break
		}
		if extra > 50 {
			t.Fatalf("sweeps still busy or deleting after %d rounds", extra)
		}
	}
	waitJobs(t, insts, key.Key, jobs)

	// 1. Every due record was deleted exactly once.
	answered := sweeps.deleted()
	audited, batches := auditedSweepDeletes(t, insts[2].client(key.Key))
	t.Logf("sweeps: %d rounds, %d answers (%d busy: another instance held the lease), deleted by instance %v; sum of answers %d, sum of %d sweep.batch audit entries %d, due records %d",
		sweeps.rounds(), sweeps.answers(), sweeps.busy(), sweeps.byInstance(), answered, batches, audited, nDue)
	if answered != nDue || audited != nDue {
		t.Errorf("deleted %d by the sweep answers and %d by the audit entries, want %d due records each", answered, audited, nDue)
	}
	if n := statCount(t, insts[1].client(key.Key), instDueColl); n != 0 {
		t.Errorf("%d due records left after the sweeps", n)
	}

	// 2. Nothing that was not due changed.
	changed := 0
	for n, r := range w.keep {
		got := insts[n%3].client(key.Key).record(t, instKeepColl, r.ID)
		if got == nil || !sameRecord(r, got) {
			changed++
			t.Errorf("record %s was not due and changed: wrote %+v, read %+v", r.ID, r, got)
		}
	}
	for _, rs := range []map[string][]instRecord{w.subject, w.origin} {
		for scope, recs := range rs {
			erased := erasedScope(jobs, scope)
			for n, r := range recs {
				got := insts[n%3].client(key.Key).record(t, r.Collection, r.ID)
				switch {
				case erased && got != nil:
					t.Errorf("record %s of erased %s still there", r.ID, scope)
				case !erased && (got == nil || !sameRecord(&r, got)):
					changed++
					t.Errorf("record %s of %s, not erased, changed: wrote %+v, read %+v", r.ID, scope, r, got)
				}
			}
		}
	}

	// 3. Every request job ran once.
	done := auditEvents(t, insts[0].client(key.Key), "request.done")
	items := 0
	for _, j := range jobs {
		c := insts[1].client(key.Key)
		c.must(t, "GET", "/v1/tenants/"+instTenant+"/requests/"+j.id+"/receipt", nil, http.StatusOK, nil)
		got := jobItems(t, c, j.id)
		items += len(got)
		seen := map[string]int{}
		for _, id := range got {
			seen[id]++
		}
		for _, r := range j.want {
			if seen[r.ID] != 1 {
				t.Errorf("job %s lists record %s %d times, want once", j.id, r.ID, seen[r.ID])
			}
		}
		if len(got) != len(j.want) {
			t.Errorf("job %s lists %d items, want %d (one per record in scope)", j.id, len(got), len(j.want))
		}
		if n := done[j.id]; n != 1 {
			t.Errorf("job %s has %d request.done audit entries, want 1", j.id, n)
		}
	}
	t.Logf("requests: %d jobs (each sent to two instances at once), %d items, request.done entries %d; not-due records unchanged: %d checked, %d changed",
		len(jobs), items, len(done), len(w.keep)+countRecords(w.subject)+countRecords(w.origin), changed)
	t.Logf("total wall time %s", time.Since(began).Round(time.Millisecond))
}

// instance is one running "lethe serve" process.
type instance struct {
	cmd    *exec.Cmd
	addr   string
	stderr *syncBuffer
	done   chan error
}

// startInstance starts "lethe serve" on the database with the shared key
// file and waits until it listens. Its own sweep schedule is off: the
// test triggers every sweep, so that their answers add up.
func startInstance(t *testing.T, bin, dsn, keyFile, dataDir string) *instance {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--database-url", dsn, "--master-key-file", keyFile, "--data", dataDir,
		"--addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0", "--sweep-interval", "0")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "LETHE_ADMIN_TOKEN=" + instAdmin}
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Error(err)
		return nil
	}
	in := &instance{cmd: cmd, stderr: &syncBuffer{}, done: make(chan error, 1)}
	if err := cmd.Start(); err != nil {
		t.Error(err)
		return nil
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(in.stderr, line)
			if m := addrLine.FindStringSubmatch(line); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
		in.done <- cmd.Wait()
	}()
	select {
	case in.addr = <-found:
		return in
	case err := <-in.done:
		t.Errorf("serve stopped: %v\n%s", err, in.stderr)
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Errorf("serve did not start within 30s:\n%s", in.stderr)
	}
	return nil
}

// stop ends the process as an operator would (SIGTERM) and reports a
// non-zero exit.
func (in *instance) stop() error {
	if in == nil {
		return nil
	}
	in.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-in.done:
		return err
	case <-time.After(30 * time.Second):
		in.cmd.Process.Kill()
		return fmt.Errorf("did not stop within 30s of SIGTERM")
	}
}

// instClient calls one instance with one bearer token.
type instClient struct {
	base, token string
}

func (in *instance) client(token string) *instClient {
	return &instClient{base: "http://" + in.addr, token: token}
}

var instHTTP = &http.Client{Timeout: 2 * time.Minute}

// do sends a JSON request and decodes a JSON answer into out (when not
// nil); it returns the status, or 0 after reporting a failed call. It may
// run on any goroutine: it never stops the test.
func (c *instClient) do(t *testing.T, method, path string, body, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Errorf("%s %s: %v", method, path, err)
			return 0
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		t.Errorf("%s %s: %v", method, path, err)
		return 0
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := instHTTP.Do(req)
	if err != nil {
		t.Errorf("%s %s: %v", method, path, err)
		return 0
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Errorf("%s %s: %v", method, path, err)
		return 0
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Errorf("%s %s: %v\n%s", method, path, err, b)
			return 0
		}
	}
	if resp.StatusCode >= 300 && resp.StatusCode != http.StatusNotFound {
		t.Logf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return resp.StatusCode
}

// must is do that stops the test on any other status than want; only for
// the test's own goroutine.
func (c *instClient) must(t *testing.T, method, path string, body any, want int, out any) {
	t.Helper()
	if got := c.do(t, method, path, body, out); got != want {
		t.Fatalf("%s %s: status %d, want %d", method, path, got, want)
	}
}

// record reads a record; nil when it is gone.
func (c *instClient) record(t *testing.T, coll, id string) *instRecord {
	t.Helper()
	var r instRecord
	switch st := c.do(t, "GET", "/v1/tenants/"+instTenant+"/collections/"+coll+"/records/"+id, nil, &r); st {
	case http.StatusOK:
		return &r
	case http.StatusNotFound:
		return nil
	default:
		t.Fatalf("read %s/%s: status %d", coll, id, st)
		return nil
	}
}

// instRecord is a record as the API shows it.
type instRecord struct {
	ID         string         `json:"id"`
	Collection string         `json:"collection"`
	Origin     string         `json:"origin"`
	CreatedAt  time.Time      `json:"created_at"`
	UpdatedAt  time.Time      `json:"updated_at"`
	State      string         `json:"state"`
	Fields     map[string]any `json:"fields"`
}

// sameRecord compares what the API showed at the write with a later read.
func sameRecord(a, b *instRecord) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// instWrites are the records one or all instances wrote, by kind.
type instWrites struct {
	due, keep []*instRecord
	subject   map[string][]instRecord // by email
	origin    map[string][]instRecord // by origin
}

func personEmail(p int) string { return fmt.Sprintf("person%d@example.org", p) }
func originName(o int) string  { return fmt.Sprintf("partner-%d", o) }

// instPost writes a batch of records and returns them as the API
// answered (?echo=true: the records, not only their ids and plans). It runs on any goroutine and reports failures with t.Errorf.
func instPost(t *testing.T, c *instClient, coll string, recs []map[string]any) []*instRecord {
	var out struct{ Records []*instRecord }
	if st := c.do(t, "POST", "/v1/tenants/"+instTenant+"/collections/"+coll+"/records?echo=true", map[string]any{"records": recs}, &out); st != http.StatusCreated {
		t.Errorf("write %d records to %s: status %d", len(recs), coll, st)
	}
	return out.Records
}

// writeDueWave writes instance n's due chat messages of one wave, created
// three days ago, a second apart.
func writeDueWave(t *testing.T, c *instClient, n, wave int) []*instRecord {
	old := time.Now().UTC().AddDate(0, 0, -3).Truncate(time.Second)
	var recs []map[string]any
	for j := range instSize.perWave {
		k := (wave*3+n)*instSize.perWave + j
		recs = append(recs, map[string]any{
			"created_at": old.Add(time.Duration(k) * time.Second).Format(time.RFC3339),
			"fields":     map[string]any{"session_id": fmt.Sprintf("s%d-%d", n, k/10), "sender": "customer", "message": fmt.Sprintf("due %d/%d", n, k)},
		})
	}
	return instPost(t, c, instDueColl, recs)
}

// writeShare writes instance n's records that are not due: chat messages,
// runtime log entries of every person and chat messages of every origin.
// It runs on its own goroutine and reports failures with t.Errorf.
func writeShare(t *testing.T, c *instClient, n int) *instWrites {
	w := &instWrites{subject: map[string][]instRecord{}, origin: map[string][]instRecord{}}
	post := func(coll string, recs []map[string]any) []*instRecord { return instPost(t, c, coll, recs) }
	var keep []map[string]any
	for j := range instSize.keep {
		keep = append(keep, map[string]any{"fields": map[string]any{"session_id": fmt.Sprintf("k%d-%d", n, j), "sender": "customer",
			"message": fmt.Sprintf("not due %d/%d", n, j), "ip_address": "198.51.100.7"}})
	}
	w.keep = post(instKeepColl, keep)
	for p := range instSize.persons {
		var recs []map[string]any
		for j := range instSize.perPerson {
			recs = append(recs, map[string]any{"fields": map[string]any{"event": "auth_pass", "email": personEmail(p),
				"ip_address": "203.0.113.9", "message": fmt.Sprintf("login %d/%d", n, j)}})
		}
		for _, r := range post(instSubjColl, recs) {
			w.subject[personEmail(p)] = append(w.subject[personEmail(p)], *r)
		}
	}
	for o := range instSize.origins {
		var recs []map[string]any
		for j := range instSize.perOrigin {
			recs = append(recs, map[string]any{"origin": originName(o), "fields": map[string]any{"session_id": fmt.Sprintf("o%d-%d", n, j),
				"sender": "customer", "message": fmt.Sprintf("via %s %d/%d", originName(o), n, j)}})
		}
		for _, r := range post(instKeepColl, recs) {
			w.origin[originName(o)] = append(w.origin[originName(o)], *r)
		}
	}
	return w
}

// mergeWrites joins the instances' shares.
func mergeWrites(ws []*instWrites) *instWrites {
	out := &instWrites{subject: map[string][]instRecord{}, origin: map[string][]instRecord{}}
	for _, w := range ws {
		out.due = append(out.due, w.due...)
		out.keep = append(out.keep, w.keep...)
		for k, v := range w.subject {
			out.subject[k] = append(out.subject[k], v...)
		}
		for k, v := range w.origin {
			out.origin[k] = append(out.origin[k], v...)
		}
	}
	return out
}

func countRecords(m map[string][]instRecord) int {
	n := 0
	for _, v := range m {
		n += len(v)
	}
	return n
}

// sweepLog collects every sweep answer of the test.
type sweepLog struct {
	mu  sync.Mutex
	all []sweepAnswer
	n   int
}

type sweepAnswer struct {
	inst    int
	deleted int64
	busy    bool
}

// round asks all three instances to sweep at the same moment and returns
// what they deleted together and whether any of them swept (was not
// busy).
func (s *sweepLog) round(t *testing.T, insts []*instance) (deleted int64, swept bool) {
	answers := make([]sweepAnswer, len(insts))
	var wg sync.WaitGroup
	for i, in := range insts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A little jitter, so that no instance always asks first
			// and every instance gets to win a round.
			time.Sleep(time.Duration(rand.IntN(30)) * time.Millisecond)
			var res struct {
				Deleted int64 `json:"deleted"`
				Busy    bool  `json:"busy"`
			}
			if st := in.client(instAdmin).do(t, "POST", "/v1/sweeps", nil, &res); st != http.StatusOK {
				t.Errorf("sweep on instance %d: status %d", i, st)
			}
			answers[i] = sweepAnswer{inst: i, deleted: res.Deleted, busy: res.Busy}
		}()
	}
	wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	s.all = append(s.all, answers...)
	for _, a := range answers {
		deleted += a.deleted
		swept = swept || !a.busy
	}
	return deleted, swept
}

func (s *sweepLog) rounds() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

func (s *sweepLog) answers() int { return len(s.all) }

func (s *sweepLog) deleted() (n int64) {
	for _, a := range s.all {
		n += a.deleted
	}
	return n
}

func (s *sweepLog) busy() (n int) {
	for _, a := range s.all {
		if a.busy {
			n++
		}
	}
	return n
}

func (s *sweepLog) byInstance() []int64 {
	out := make([]int64, 3)
	for _, a := range s.all {
		out[a.inst] += a.deleted
	}
	return out
}

// instJob is one erasure request and the records it must cover.
type instJob struct {
	body map[string]any
	want []instRecord
	id   string
}

// jobTimes reads a job's state and times.
func jobTimes(t *testing.T, c *instClient, id string) (out struct {
	State      string    `json:"state"`
	CreatedAt  time.Time `json:"created_at"`
	FinishedAt time.Time `json:"finished_at"`
}) {
	t.Helper()
	if status := c.do(t, "GET", "/v1/tenants/"+instTenant+"/requests/"+id, nil, &out); status != http.StatusOK {
		t.Fatalf("GET job %s: status %d", id, status)
	}
	return out
}

// erasedScope reports whether a job erases the person or origin scope.
func erasedScope(jobs []*instJob, scope string) bool {
	for _, j := range jobs {
		if j.body["origin"] == scope {
			return true
		}
		if s, ok := j.body["subject"].(map[string]string); ok && s["email"] == scope {
			return true
		}
	}
	return false
}

// waitJobs polls the jobs, each through an instance other than the ones
// it was sent to, until all are done.
func waitJobs(t *testing.T, insts []*instance, key string, jobs []*instJob) {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for n, j := range jobs {
		c := insts[(n+2)%3].client(key)
		for {
			var out struct {
				State string `json:"state"`
				Error string `json:"error"`
			}
			c.must(t, "GET", "/v1/tenants/"+instTenant+"/requests/"+j.id, nil, http.StatusOK, &out)
			if out.State == "done" {
				break
			}
			if out.State == "failed" {
				t.Fatalf("job %s failed: %s", j.id, out.Error)
			}
			if time.Now().After(deadline) {
				t.Fatalf("job %s still %s after 45s", j.id, out.State)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// jobItems lists the record ids of a job's items, page by page.
func jobItems(t *testing.T, c *instClient, id string) []string {
	t.Helper()
	var ids []string
	after := int64(0)
	for {
		var out struct {
			Items []struct {
				Seq int64  `json:"seq"`
				ID  string `json:"id"`
			} `json:"items"`
		}
		c.must(t, "GET", fmt.Sprintf("/v1/tenants/%s/requests/%s/items?after=%d", instTenant, id, after), nil, http.StatusOK, &out)
		if len(out.Items) == 0 {
			return ids
		}
		for _, it := range out.Items {
			ids = append(ids, it.ID)
			after = it.Seq
		}
	}
}

// logEntry is an audit entry as the API shows it.
type logEntry struct {
	Seq   int64          `json:"seq"`
	Event string         `json:"event"`
	Data  map[string]any `json:"data"`
}

// securityEntries reads every entry of one event of the tenant's
// security log.
func securityEntries(t *testing.T, c *instClient, event string) []logEntry {
	t.Helper()
	var all []logEntry
	after := int64(0)
	for {
		var out struct {
			Entries []logEntry `json:"entries"`
			Next    *int64     `json:"next_after_seq"`
		}
		q := url.Values{"event": {event}, "limit": {"1000"}, "after_seq": {fmt.Sprint(after)}}
		c.must(t, "GET", "/v1/tenants/"+instTenant+"/logs/security?"+q.Encode(), nil, http.StatusOK, &out)
		all = append(all, out.Entries...)
		if out.Next == nil || len(out.Entries) == 0 {
			return all
		}
		after = *out.Next
	}
}

// auditedSweepDeletes adds up the deletions the sweep.batch entries count
// and fails t when a batch counts anything but deletions of due chat
// messages.
func auditedSweepDeletes(t *testing.T, c *instClient) (deleted int64, batches int) {
	t.Helper()
	for _, e := range securityEntries(t, c, "sweep.batch") {
		batches++
		counts, _ := e.Data["counts"].(map[string]any)
		for action, byColl := range counts {
			m, _ := byColl.(map[string]any)
			for coll, n := range m {
				f, _ := n.(float64)
				if action != "delete" || coll != instDueColl {
					t.Errorf("sweep batch %d: %s %v records of %s, want only deletions of %s", e.Seq, action, n, coll, instDueColl)
					continue
				}
				deleted += int64(f)
			}
		}
	}
	return deleted, batches
}

// auditEvents counts entries of an event per request id.
func auditEvents(t *testing.T, c *instClient, event string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, e := range securityEntries(t, c, event) {
		id, _ := e.Data["request"].(string)
		out[id]++
	}
	return out
}

// statCount counts a collection's records through the statistics route.
func statCount(t *testing.T, c *instClient, coll string) int64 {
	t.Helper()
	var out struct {
		Rows []struct {
			Count int64 `json:"count"`
		} `json:"rows"`
	}
	c.must(t, "GET", "/v1/tenants/"+instTenant+"/stats/"+coll+"?group_by=sender", nil, http.StatusOK, &out)
	var n int64
	for _, r := range out.Rows {
		n += r.Count
	}
	return n
}

// withPassword puts a password into a postgres:// URL.
func withPassword(t *testing.T, dsn, pw string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), pw)
	return u.String()
}

// TestOpen_DatabaseURLNeedsTheKeyItWasCreatedWith checks the master key
// rules on PostgreSQL: only a new database gets a new key file, a missing
// or different key stops every command before anything is written, and
// no message carries the database password.
func TestOpen_DatabaseURLNeedsTheKeyItWasCreatedWith(t *testing.T) {
	dsn := withPassword(t, pgtest.DSN(t), instPassword)
	dir := t.TempDir()
	k1, k2 := filepath.Join(dir, "k1", "master.key"), filepath.Join(dir, "k2.key")
	sweep := func(keyFile string) error {
		var out, errOut bytes.Buffer
		err := run(context.Background(), []string{"sweep", "--database-url", dsn, "--master-key-file", keyFile}, &out, &errOut, func(string) string { return "" })
		for _, s := range []string{out.String(), errOut.String(), fmt.Sprint(err)} {
			if strings.Contains(s, instPassword) {
				t.Errorf("output carries the database password: %s", s)
			}
		}
		return err
	}

	var help bytes.Buffer
	if err := run(context.Background(), []string{"serve", "--help"}, &help, &help, func(k string) string {
		return map[string]string{"LETHE_DATABASE_URL": dsn}[k]
	}); err != nil || strings.Contains(help.String(), instPassword) || !strings.Contains(help.String(), "--database-url") {
		t.Errorf("serve --help with LETHE_DATABASE_URL set: err %v; want the flag listed and no password:\n%s", err, help.String())
	}

	if err := sweep(k1); exitCode(err) != exitNotFound || !strings.Contains(fmt.Sprint(err), "no Lethe data in database") {
		t.Errorf("sweep on a new database: err = %v (exit %d), want a not-found error naming the empty database", err, exitCode(err))
	}
	if _, err := os.Stat(k1); !os.IsNotExist(err) {
		t.Errorf("sweep on a new database created a key file (stat: %v)", err)
	}

	_, stderr, stop := startServe(t, map[string]string{"LETHE_DATABASE_URL": dsn, "LETHE_ADMIN_TOKEN": instAdmin},
		"--master-key-file", k1, "--addr", "127.0.0.1:0", "--data", filepath.Join(dir, "data"))
	if err := stop(); err != nil {
		t.Fatalf("serve: %v\n%s", err, stderr)
	}
	if !strings.Contains(stderr.String(), "created master key file") || strings.Contains(stderr.String(), instPassword) {
		t.Errorf("serve on a new database: want the key file created and no password in the log:\n%s", stderr)
	}

	if err := sweep(k2); exitCode(err) != exitMasterKey || !strings.Contains(fmt.Sprint(err), "not found") {
		t.Errorf("sweep without the key file: err = %v (exit %d), want a key error", err, exitCode(err))
	}
	if _, err := os.Stat(k2); !os.IsNotExist(err) {
		t.Errorf("a database with data got a new key file (stat: %v)", err)
	}
	if _, err := keyring.CreateKeyFile(k2); err != nil {
		t.Fatal(err)
	}
	if err := sweep(k2); !errors.Is(err, keyring.ErrWrongMasterKey) {
		t.Errorf("sweep with another key: err = %v, want keyring.ErrWrongMasterKey", err)
	}
	if err := sweep(k1); err != nil {
		t.Errorf("sweep with the key the data was created with: %v", err)
	}
}

// TestRedactDSN_HidesThePasswordInEveryForm checks what logs and errors
// show of a connection string.
func TestRedactDSN_HidesThePasswordInEveryForm(t *testing.T) {
	for _, tt := range []struct{ in, want, password string }{
		{"postgres://lethe:s3cret@db:5432/lethe?sslmode=require", "postgres://lethe:xxxxx@db:5432/lethe?sslmode=require", "s3cret"},
		{"postgresql://lethe@db/lethe?password=s3cret", "postgresql://lethe@db/lethe?password=xxxxx", "s3cret"},
		{"postgres://db/lethe", "postgres://db/lethe", ""},
		{"host=db user=lethe password=s3cret dbname=lethe", "host=db user=lethe password=xxxxx dbname=lethe", "s3cret"},
		{"host=db password = 'with space' dbname=lethe", "host=db password = xxxxx dbname=lethe", "with space"},
	} {
		if got := redactDSN(tt.in); got != tt.want {
			t.Errorf("redactDSN(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := dsnPassword(tt.in); got != tt.password {
			t.Errorf("dsnPassword(%q) = %q, want %q", tt.in, got, tt.password)
		}
	}
	err := scrub(fmt.Errorf("connect: %w: password s3cret refused", errKey), "s3cret")
	if strings.Contains(err.Error(), "s3cret") || !errors.Is(err, errKey) {
		t.Errorf("scrub: %q (errors.Is errKey: %v), want the password hidden and the chain kept", err, errors.Is(err, errKey))
	}
}
