package engine

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/journal"
	"github.com/lethe-privacy/lethe/keyring"
	"github.com/lethe-privacy/lethe/sqlite"
)

// TestStoreAs_SeesThroughTheJournal: serve wraps the store in the erasure
// journal; key rotation, vector search and the group-commit hint must
// still find the SQLite store's optional methods behind it.
func TestStoreAs_SeesThroughTheJournal(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "lethe.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	kek, err := keyring.NewFileKEK(bytes.Repeat([]byte{3}, keyring.KEKSize))
	if err != nil {
		t.Fatal(err)
	}
	j, err := journal.Open(ctx, filepath.Join(dir, journal.FileName), kek)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	wrapped := journal.Wrap(st, j, nil)
	if _, ok := wrapped.(lethe.KeyRotationStore); ok {
		t.Fatal("the journal now implements key rotation itself; this test no longer proves the lookup")
	}
	if _, ok := lethe.StoreAs[lethe.KeyRotationStore](wrapped); !ok {
		t.Error("key rotation hidden by the journal")
	}
	if _, ok := lethe.StoreAs[lethe.EmbeddingStore](wrapped); !ok {
		t.Error("embeddings hidden by the journal")
	}
	if _, ok := lethe.StoreAs[insertAnnouncer](wrapped); !ok {
		t.Error("group-commit hint hidden by the journal")
	}
	if _, ok := lethe.StoreAs[lethe.KeyRotationStore](lethe.Store(nil)); ok {
		t.Error("found an interface on a nil store")
	}
}
