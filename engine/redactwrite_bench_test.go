package engine_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/lethe-privacy/lethe/engine"
	"github.com/lethe-privacy/lethe/keyring"
	"github.com/lethe-privacy/lethe/policy"
	"github.com/lethe-privacy/lethe/sqlite"
)

// BenchmarkPutChatMessages100 stores batches of 100 chat messages (each
// with an e-mail and a phone number in its text) into a collection that
// redacts on write and, as the baseline in the same run, into the same
// collection without the option. One op is one batch; compare the
// records/s.
//
//	go test -run '^$' -bench PutChatMessages -count 5 ./engine/
func BenchmarkPutChatMessages100(b *testing.B) {
	ctx := context.Background()
	data, err := os.ReadFile("testdata/redact_on_write_policy.yaml")
	if err != nil {
		b.Fatal(err)
	}
	p, err := policy.Parse("redact_on_write_policy.yaml", data)
	if err != nil {
		b.Fatal(err)
	}
	for _, coll := range []string{"plain_messages", "chat_messages"} {
		b.Run(coll, func(b *testing.B) {
			st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "lethe.db"), sqlite.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			master := make([]byte, 32)
			rand.Read(master)
			kek, err := keyring.NewFileKEK(master)
			if err != nil {
				b.Fatal(err)
			}
			eng, err := engine.New(ctx, engine.Config{Store: st, KEK: kek, Extra: p})
			if err != nil {
				b.Fatal(err)
			}
			defer eng.Close()
			if _, err := eng.CreateTenant(ctx, "admin", "t1", nil); err != nil {
				b.Fatal(err)
			}
			n := 0
			for b.Loop() {
				batch := make([]engine.NewRecord, 100)
				for i := range batch {
					n++
					batch[i] = engine.NewRecord{Fields: map[string]any{
						"session_id": fmt.Sprintf("s-%d", n),
						"text":       fmt.Sprintf("Hallo, ich brauche Hilfe mit meiner Bestellung 4711-%d. Schreiben Sie an kunde%d@example.com oder rufen Sie +49 151 %08d an, danke!", n, n, 10_000_000+n),
					}}
				}
				if _, err := eng.Put(ctx, "t1", coll, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
