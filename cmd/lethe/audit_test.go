package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
	"github.com/lethe-privacy/lethe/sqlite"
)

// auditFixture makes a data folder whose shop/manager chain has six
// entries, a signed checkpoint at seq 4 and its signed head at seq 6.
func auditFixture(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	df := dataFlags{dir: t.TempDir()}
	o, err := df.open(ctx, true, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if _, err := o.eng.CreateTenant(ctx, "admin", "shop", []string{"chatbot"}); err != nil {
		t.Fatal(err)
	}
	docs, err := o.eng.Put(ctx, "shop", "runtime_log", []engine.NewRecord{{Fields: map[string]any{"event": "x", "email": "a@example.org"}}})
	if err != nil {
		t.Fatal(err)
	}
	ref := lethe.RecordRef{Tenant: "shop", Collection: "runtime_log", ID: docs[0].ID}
	rctx := engine.WithCaller(ctx, engine.Caller{Actor: "admin", IP: "192.0.2.5"})
	for i := 1; i <= 6; i++ {
		if _, err := o.eng.Get(rctx, ref); err != nil {
			t.Fatal(err)
		}
		if i == 4 {
			if _, err := o.eng.CheckpointAudit(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	return df.dir
}

// auditSQL runs statements on the fixture's manager log file behind
// Lethe's back.
func auditSQL(t *testing.T, dir string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", sqlite.ManagerLogPath(filepath.Join(dir, "lethe.db")))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// auditVerify runs "lethe audit verify" and returns its output and error.
func auditVerify(t *testing.T, dir string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"audit", "verify", "--data", dir}, &out, &errOut, func(string) string { return "" })
	return out.String() + errOut.String(), err
}

const mgr = "tenant = 'shop' AND log = 'manager'"

// forgeNext appends a seventh entry with a correctly computed chain hash,
// as someone who knows the format but not the keys would.
func forgeNext(t *testing.T, dir string) {
	t.Helper()
	db, err := sql.Open("sqlite", sqlite.ManagerLogPath(filepath.Join(dir, "lethe.db")))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var prev []byte
	if err := db.QueryRow("SELECT hash FROM audit WHERE " + mgr + " AND seq = 6").Scan(&prev); err != nil {
		t.Fatal(err)
	}
	e := &lethe.AuditEntry{Seq: 7, Tenant: "shop", Log: lethe.LogManager, Time: time.UnixMilli(time.Now().UnixMilli()).UTC(), Actor: "admin", Event: "record.read", Data: []byte(`{}`)}
	h := lethe.ChainHash(prev, e)
	if _, err := db.Exec("INSERT INTO audit (tenant, log, seq, time, actor, event, data, prev, hash) VALUES ('shop','manager',7,?,?,?,?,?,?)",
		e.Time.UnixMilli(), e.Actor, e.Event, string(e.Data), prev, h); err != nil {
		t.Fatal(err)
	}
}

func TestAuditVerify_NamesTheFirstBrokenEntryOfEachTampering(t *testing.T) {
	cases := []struct {
		name    string
		tamper  func(t *testing.T, dir string)
		wantSeq int
	}{
		{"edit data", func(t *testing.T, d string) {
			auditSQL(t, d, "UPDATE audit SET data = '{\"records\":2}' WHERE "+mgr+" AND seq = 3")
		}, 3},
		{"edit actor", func(t *testing.T, d string) {
			auditSQL(t, d, "UPDATE audit SET actor = 'someone' WHERE "+mgr+" AND seq = 5")
		}, 5},
		{"delete a middle row", func(t *testing.T, d string) { auditSQL(t, d, "DELETE FROM audit WHERE "+mgr+" AND seq = 3") }, 3},
		{"delete the first row", func(t *testing.T, d string) { auditSQL(t, d, "DELETE FROM audit WHERE "+mgr+" AND seq = 1") }, 1},
		{"insert a forged row at the end", forgeNext, 7},
		{"insert a forged row after a gap", func(t *testing.T, d string) {
			auditSQL(t, d, "INSERT INTO audit SELECT tenant, log, 9, time, actor, event, data, prev, hash FROM audit WHERE "+mgr+" AND seq = 6")
		}, 7},
		{"swap two rows' seq", func(t *testing.T, d string) {
			auditSQL(t, d, "UPDATE audit SET seq = -1 WHERE "+mgr+" AND seq = 2",
				"UPDATE audit SET seq = 2 WHERE "+mgr+" AND seq = 3",
				"UPDATE audit SET seq = 3 WHERE "+mgr+" AND seq = -1")
		}, 2},
		{"truncate the tail after the checkpoint", func(t *testing.T, d string) { auditSQL(t, d, "DELETE FROM audit WHERE "+mgr+" AND seq >= 5") }, 5},
		{"truncate the tail past the checkpoint", func(t *testing.T, d string) { auditSQL(t, d, "DELETE FROM audit WHERE "+mgr+" AND seq >= 3") }, 3},
		{"truncate the tail and its head", func(t *testing.T, d string) {
			auditSQL(t, d, "DELETE FROM audit WHERE "+mgr+" AND seq >= 5", "DELETE FROM audit_heads WHERE "+mgr)
		}, 5},
		{"expire without an anchor", func(t *testing.T, d string) {
			auditSQL(t, d, "DELETE FROM audit WHERE "+mgr+" AND seq <= 4", "DELETE FROM audit_checkpoints WHERE "+mgr)
		}, 1},
		{"forge a checkpoint", func(t *testing.T, d string) {
			auditSQL(t, d, "UPDATE audit_checkpoints SET seq = 2, hash = (SELECT hash FROM audit WHERE "+mgr+" AND seq = 2) WHERE "+mgr)
		}, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := auditFixture(t)
			if out, err := auditVerify(t, dir); err != nil {
				t.Fatalf("untouched fixture fails: %v\n%s", err, out)
			}
			c.tamper(t, dir)
			out, err := auditVerify(t, dir)
			if !errors.Is(err, errAuditBroken) || exitCode(err) == 0 {
				t.Fatalf("verify after %s: err %v (exit %d), want errAuditBroken\n%s", c.name, err, exitCode(err), out)
			}
			want := fmt.Sprintf("BROKEN tenant=shop log=manager seq=%d:", c.wantSeq)
			if !strings.Contains(out, want) {
				t.Fatalf("output does not name %q:\n%s", want, out)
			}
		})
	}
}

func TestAuditVerify_PassesAfterExpiryByRetention(t *testing.T) {
	dir := auditFixture(t)
	// What retention does: entries up to the checkpoint go, the
	// checkpoint stays as the anchor.
	auditSQL(t, dir, "DELETE FROM audit WHERE "+mgr+" AND seq <= 4")
	out, err := auditVerify(t, dir)
	if err != nil || !strings.HasPrefix(out, "ok: ") {
		t.Fatalf("verify after expiry: %v\n%s", err, out)
	}
}

func TestAuditTail_PrintsLastEntriesDecrypted(t *testing.T) {
	dir := auditFixture(t)
	var out bytes.Buffer
	err := run(context.Background(), []string{"audit", "tail", "--data", dir, "--tenant", "shop", "--log", "manager", "-n", "2"}, &out, &out, func(string) string { return "" })
	if err != nil {
		t.Fatalf("tail: %v\n%s", err, out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[1], "record.read") || !strings.Contains(lines[2], `"ip":"192.0.2.5"`) {
		t.Fatalf("tail output:\n%s", out.String())
	}
	if err := run(context.Background(), []string{"audit", "tail", "--data", dir, "--log", "nope"}, &out, &out, func(string) string { return "" }); exitCode(err) != 2 {
		t.Fatalf("tail --log nope: %v, want a usage error", err)
	}
}
