package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
)

// TestKeysRotate_SurvivesSIGKILLMidRewrapAndResumes: "lethe keys rotate
// --tenant" is killed with SIGKILL after its rewrap saved progress and
// before it finished; "lethe keys rewrap" then resumes from the saved
// cursor and ends with every value readable, as written, and on the new
// version, each value counted once.
func TestKeysRotate_SurvivesSIGKILLMidRewrapAndResumes(t *testing.T) {
	n := 20000
	if testing.Short() {
		n = 6000
	}
	bin := crashBuildBinary(t)
	dir := filepath.Join(t.TempDir(), "data")
	ctx := context.Background()
	func() {
		o, err := (&dataFlags{dir: dir}).open(ctx, true, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		defer o.Close()
		if _, err := o.eng.CreateTenant(ctx, "admin", "shop", []string{"erp-marketplace"}); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i += 1000 {
			recs := make([]engine.NewRecord, 0, 1000)
			for j := i; j < i+1000; j++ {
				recs = append(recs, engine.NewRecord{ID: fmt.Sprintf("o-%06d", j), Fields: map[string]any{
					"name": fmt.Sprintf("Erika %d", j), "email": fmt.Sprintf("e%d@example.com", j)}})
			}
			if _, err := o.eng.Put(ctx, "shop", "orders", recs); err != nil {
				t.Fatal(err)
			}
		}
	}()

	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	child := exec.Command(bin, "keys", "rotate", "--tenant", "shop", "--data", dir)
	child.Env = env
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	db := crashReadOnly(t, filepath.Join(dir, "lethe.db"))
	defer db.Close()
	var atKill engine.RewrapJob
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var raw []byte
		err := db.QueryRow(`SELECT value FROM meta WHERE key = 'rewrap:tenant:shop'`).Scan(&raw)
		if err == nil && json.Unmarshal(raw, &atKill) == nil && atKill.Done > 0 {
			if atKill.State == engine.RewrapDone {
				t.Fatalf("the rewrap finished before it could be killed (%+v): raise n", atKill)
			}
			break
		}
		if time.Now().After(deadline) {
			child.Process.Kill()
			t.Fatal("no rewrap progress within 2 minutes")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	child.Wait()
	t.Logf("killed at %d of %d values (cursor %s)", atKill.Done, atKill.Total, atKill.After.ID)

	resume := exec.Command(bin, "keys", "rewrap", "--tenant", "shop", "--data", dir)
	resume.Env = env
	out, err := resume.Output()
	if err != nil {
		t.Fatalf("keys rewrap after the kill: %v\n%s", err, out)
	}
	var job engine.RewrapJob
	if err := json.Unmarshal(out, &job); err != nil {
		t.Fatalf("rewrap output %q: %v", out, err)
	}
	if job.State != engine.RewrapDone || job.Total != int64(2*n) || job.Done != job.Total {
		t.Fatalf("resumed job: %+v; want every one of %d values moved once", job, 2*n)
	}

	o, err := (&dataFlags{dir: dir}).open(ctx, false, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	st, err := o.eng.TenantKeyStatus(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range st.Versions {
		if !v.Current && v.Values != 0 {
			t.Errorf("v%d still seals %d values", v.Version, v.Values)
		}
		if v.Current && v.Values != int64(2*n) {
			t.Errorf("current v%d seals %d values, want %d", v.Version, v.Values, 2*n)
		}
	}
	for _, j := range []int{0, n / 3, n / 2, n - 1} {
		d, err := o.eng.Get(ctx, lethe.RecordRef{Tenant: "shop", Collection: "orders", ID: fmt.Sprintf("o-%06d", j)})
		if err != nil || d.Fields["name"] != fmt.Sprintf("Erika %d", j) || d.Fields["email"] != fmt.Sprintf("e%d@example.com", j) {
			t.Fatalf("o-%06d after the resumed rewrap: %v %v", j, d, err)
		}
	}
	// Every record, not a sample: each opens.
	var after lethe.RecordRef
	rs := o.store.(lethe.KeyRotationStore)
	seen := 0
	for {
		recs, err := rs.SealedRecords(ctx, "shop", after, 2000)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			break
		}
		for _, r := range recs {
			if _, err := o.eng.Get(ctx, r.Ref()); err != nil {
				t.Fatalf("%s: %v", r.ID, err)
			}
			seen++
		}
		after = recs[len(recs)-1].Ref()
	}
	if seen != n {
		t.Fatalf("%d records read, want %d", seen, n)
	}
}
