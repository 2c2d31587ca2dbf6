package engine_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
	"github.com/lethe-privacy/lethe/keyring"
	"github.com/lethe-privacy/lethe/sqlite"
)

// BenchmarkSettingsPreview counts what a period change would re-plan in a
// collection of 10,000 records (the console's dry run), beside its
// baseline: Replan of the same collection with settings unchanged, which
// reads the same records and computes the same plans but writes nothing,
// since no plan moves.
//
//	go test -run '^$' -bench SettingsPreview -count 5 ./engine/
func BenchmarkSettingsPreview(b *testing.B) {
	const n = 10000
	ctx := context.Background()
	dir := b.TempDir()
	kek, _, err := keyring.LoadOrCreateKeyFile(filepath.Join(dir, "master.key"))
	if err != nil {
		b.Fatal(err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "lethe.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	eng, err := engine.New(ctx, engine.Config{Store: st, KEK: kek})
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close()
	if _, err := eng.CreateTenant(ctx, "bench", "bot", []string{"chatbot"}); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < n; i += 1000 {
		in := make([]engine.NewRecord, 1000)
		for j := range in {
			in[j] = engine.NewRecord{CreatedAt: time.Now().Add(-time.Duration(i+j) * time.Minute),
				Fields: map[string]any{"session_id": fmt.Sprintf("s-%d", i+j), "sender": "customer", "message": "hello"}}
		}
		if _, err := eng.Put(ctx, "bot", "live_chat_messages", in); err != nil {
			b.Fatal(err)
		}
	}
	d, _ := lethe.ParseDuration("30d")
	patch := &lethe.SettingsPatch{Periods: map[string]*lethe.Duration{"delete": &d}}
	b.Run("preview", func(b *testing.B) {
		for b.Loop() {
			p, err := eng.PreviewSettings(ctx, "bot", "live_chat_messages", patch)
			if err != nil || p.Changed != n {
				b.Fatalf("preview: %+v, %v", p, err)
			}
		}
		b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "records/s")
	})
	b.Run("replan_unchanged_baseline", func(b *testing.B) {
		for b.Loop() {
			var changed int64
			if err := eng.Replan(ctx, "bot", "live_chat_messages", func(_, c int64) { changed = c }); err != nil || changed != 0 {
				b.Fatalf("replan: %d, %v", changed, err)
			}
		}
		b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "records/s")
	})
}
