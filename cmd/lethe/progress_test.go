package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
)

func TestJobBar_OnlyOnATerminal(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	for name, out := range map[string]any{"buffer": &bytes.Buffer{}, "pipe": w} {
		if bar := newJobBar(out.(interface{ Write([]byte) (int, error) }), "j1"); bar != nil {
			t.Errorf("%s: a progress bar on a non-terminal", name)
		}
	}
	var nilBar *jobBar
	nilBar.update(&lethe.Request{ID: "j1", Total: 10, Processed: 3}) // no-op, no panic
	nilBar.finish()

	var buf bytes.Buffer
	bar := drawJobBar(&buf, "j1")
	bar.update(&lethe.Request{ID: "j1", State: lethe.RequestRunning, Total: 10, Processed: 3})
	if !strings.Contains(buf.String(), "3/10") || !strings.Contains(buf.String(), "request j1 running") {
		t.Errorf("bar shows %q, want the count and the state", buf.String())
	}
}

// submitPending stores a request job without running it, as a server's
// API would before its runner takes the job.
func submitPending(t *testing.T, dir string, in engine.RequestInput) (*opened, *lethe.Request) {
	t.Helper()
	df := dataFlags{dir: dir}
	o, err := df.open(context.Background(), false, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	job, _, err := o.eng.SubmitRequest(context.Background(), "test", "shop", in)
	if err != nil {
		t.Fatal(err)
	}
	return o, job
}

func TestRequestShowFollow_WaitsForTheJobToEnd(t *testing.T) {
	dir, rec := shopData(t)
	mustCLI(t, rec("put", "-c", "orders", writeFile(t, "o.json", `{"id":"o1","origin":"amazon","fields":{"name":"Erika","kundennummer":"K-1"}}`))...)

	t.Run("pending job is worked on here", func(t *testing.T) {
		_, job := submitPending(t, dir, engine.RequestInput{Type: lethe.RequestExport, Origin: "amazon"})
		out, stderr := mustCLI(t, "request", "show", job.ID, "--tenant", "shop", "--follow", "--data", dir)
		var got struct {
			ID, State string
		}
		mustJSON(t, out, &got) // standard output holds the JSON alone
		if got.ID != job.ID || got.State != "done" {
			t.Errorf("followed job: %s", out)
		}
		if strings.Contains(stderr, "\r") || strings.Contains(stderr, "request "+job.ID) {
			t.Errorf("progress drawn on a non-terminal: %q", stderr)
		}
	})

	t.Run("job held by another instance is waited for", func(t *testing.T) {
		o, job := submitPending(t, dir, engine.RequestInput{Type: lethe.RequestExport, Origin: "amazon", DryRun: true})
		now := time.Now()
		if _, err := o.store.ClaimRequest(context.Background(), "other-instance", now, now.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		out, _ := mustCLI(t, "request", "show", job.ID, "--tenant", "shop", "--data", dir)
		if !strings.Contains(out, `"state": "running"`) {
			t.Fatalf("without --follow: %s", out)
		}
		start := time.Now()
		out, _ = mustCLI(t, "request", "show", job.ID, "--tenant", "shop", "--wait", "--data", dir)
		if !strings.Contains(out, `"state": "done"`) || time.Since(start) < 500*time.Millisecond {
			t.Errorf("--wait returned after %v: %s", time.Since(start), out)
		}
	})

	t.Run("failed job exits non-zero", func(t *testing.T) {
		o, job := submitPending(t, dir, engine.RequestInput{Type: lethe.RequestErase, Origin: "amazon", DryRun: true})
		now := time.Now()
		claimed, err := o.store.ClaimRequest(context.Background(), "other-instance", now, now.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		claimed.State, claimed.Error, claimed.FinishedAt = lethe.RequestFailed, "the export store is gone", now
		if err := o.store.ApplyRequestBatch(context.Background(), &lethe.RequestBatch{Job: claimed}); err != nil {
			t.Fatal(err)
		}
		out, stderr, code := reqCLI("request", "show", job.ID, "--tenant", "shop", "--follow", "--data", dir)
		if code != exitFailure || !strings.Contains(stderr, "failed: the export store is gone") || !strings.Contains(out, `"state": "failed"`) {
			t.Errorf("exit %d, want %d\n%s%s", code, exitFailure, out, stderr)
		}
		if _, _, code := reqCLI("request", "show", job.ID, "--tenant", "shop", "--data", dir); code != 0 {
			t.Errorf("show without --follow: exit %d, want 0", code)
		}
	})

	if _, stderr, code := reqCLI("request", "show", "nope", "--tenant", "shop", "--follow", "--data", dir); code != exitNotFound {
		t.Errorf("follow unknown job: exit %d, want %d\n%s", code, exitNotFound, stderr)
	}
}
