package engine_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
)

// BenchmarkConsoleSessionCheck measures what the stored deny list adds to
// every console request: a lookup of the session id among 10,000 live
// sign-outs (SQLite). Its baseline, in the same run, is the look-up of the
// signed-in user that every console request already made.
func BenchmarkConsoleSessionCheck(b *testing.B) {
	e := audNewEnv(b, engine.Config{})
	if err := e.eng.AddConsoleUser(e.ctx, "bench", engine.ConsoleUser{Name: "mia", Role: engine.ConsoleManager, Tenant: "shop", Hash: "$argon2id$bench"}); err != nil {
		b.Fatal(err)
	}
	exp := audStart.Add(8 * time.Hour)
	for i := range 10_000 {
		if err := e.store.RevokeSession(e.ctx, fmt.Sprintf("jti-%05d", i), exp); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("deny-list", func(b *testing.B) {
		for b.Loop() {
			if denied, err := e.eng.ConsoleSessionRevoked(e.ctx, "jti-live"); err != nil || denied {
				b.Fatal(denied, err)
			}
		}
	})
	b.Run("baseline-user-lookup", func(b *testing.B) {
		for b.Loop() {
			if _, err := e.eng.ConsoleUser(e.ctx, "mia"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRecordHistory measures the record page's history: a scan of
// 5,000 manager-log read entries for the ones naming one record. Its
// baseline, in the same run, is paging through the same entries with
// AuditLog, as the log page does, without looking for the record.
func BenchmarkRecordHistory(b *testing.B) {
	e := audNewEnv(b, engine.Config{})
	d := e.audPut("h@example.org")
	ref := lethe.RecordRef{Tenant: "shop", Collection: "runtime_log", ID: d.ID}
	for i := range 5_000 {
		ctx := engine.WithCaller(e.ctx, engine.Caller{Actor: fmt.Sprintf("key:%d", i%7), IP: "192.0.2.1"})
		if _, err := e.eng.Get(ctx, ref); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("history", func(b *testing.B) {
		for b.Loop() {
			h, err := e.eng.RecordHistory(e.ctx, ref, d.CreatedAt, 20)
			if err != nil || len(h.Events) != 20 || h.Scanned < 5_000 {
				b.Fatal(h, err)
			}
		}
	})
	b.Run("baseline-auditlog-pages", func(b *testing.B) {
		for b.Loop() {
			q := lethe.AuditQuery{Tenant: "shop", Log: lethe.LogManager, Limit: 1000}
			n := 0
			for {
				es, next, err := e.eng.AuditLog(e.ctx, q)
				if err != nil {
					b.Fatal(err)
				}
				n += len(es)
				if next == 0 {
					break
				}
				q.AfterSeq = next
			}
			if n < 5_000 {
				b.Fatal(n)
			}
		}
	})
}
