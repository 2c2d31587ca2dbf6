package engine_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
	"github.com/lethe-privacy/lethe/keyring"
	"github.com/lethe-privacy/lethe/sqlite"
)

// BenchmarkFindSubject looks up prize draw entries (e-mail and phone tied
// by same_person, so a lookup widens once) and conversation sessions with
// ten linked messages each, by e-mail and by conversation id, among 2,000
// records of each. Compare with the same benchmark on an older commit to
// see what following ties and links costs.
func BenchmarkFindSubject(b *testing.B) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, b.TempDir()+"/lethe.db", sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	master := make([]byte, 32)
	rand.Read(master)
	kek, _ := keyring.NewFileKEK(master)
	eng, err := engine.New(ctx, engine.Config{Store: st, KEK: kek, NoReadAudit: true})
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close()
	if _, err := eng.CreateTenant(ctx, "admin", "t", []string{"chatbot", "conversations"}); err != nil {
		b.Fatal(err)
	}
	on := true
	if _, err := eng.PutSettings(ctx, "admin", "t", "prize_draw_entries", &lethe.Settings{Enabled: &on}); err != nil {
		b.Fatal(err)
	}
	const n = 2000
	var entries, sessions, messages []engine.NewRecord
	for i := range n {
		entries = append(entries, engine.NewRecord{ID: fmt.Sprintf("p%d", i), Fields: map[string]any{
			"email": fmt.Sprintf("person%d@example.com", i), "phone": fmt.Sprintf("+49 30 %07d", 1000000+i), "first_name": "Erika"}})
		if i%10 == 0 {
			sessions = append(sessions, engine.NewRecord{ID: fmt.Sprintf("s%d", i/10), Fields: map[string]any{
				"conversation_id": fmt.Sprintf("conv-%d", i/10), "last_activity_at": "2026-11-01T10:00:00Z"}})
		}
		messages = append(messages, engine.NewRecord{ID: fmt.Sprintf("m%d", i), Fields: map[string]any{"session_id": fmt.Sprintf("s%d", i/10), "text": "hallo"}})
	}
	for coll, recs := range map[string][]engine.NewRecord{"prize_draw_entries": entries, "sessions": sessions, "messages": messages} {
		if _, err := eng.Put(ctx, "t", coll, recs); err != nil {
			b.Fatal(err)
		}
	}
	for _, bc := range []struct{ name, kind, format string }{
		{"email", "email", "person%d@example.com"},
		{"conversation", "conversation_id", "conv-%d"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				if _, err := eng.FindSubject(ctx, "t", map[string]string{bc.kind: fmt.Sprintf(bc.format, i%(n/10))}); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
