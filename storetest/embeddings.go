package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
)

// embeddingTests: a record's embedding is stored in its row, read back,
// replaced by an update, paged through by Embeddings in insert order, and
// gone the moment its record is deleted by any path (DeleteRecord, a
// batch); other tenants' and collections' embeddings never show.
var embeddingTests = map[string]func(*testing.T, Opener){
	"RoundTripPageAndDelete": func(t *testing.T, open Opener) {
		s := open(t)
		es, ok := s.(lethe.EmbeddingStore)
		if !ok {
			t.Fatalf("%T does not implement lethe.EmbeddingStore", s)
		}
		ctx := t.Context()
		vec := func(b byte) []byte { return bytes.Repeat([]byte{b}, 16) }
		var recs []*lethe.Record
		for i, id := range []string{"c3", "c1", "c2", "c4"} {
			r := record("a", "chunks", id)
			r.Embedding = vec(byte(i + 1))
			recs = append(recs, r)
		}
		other := record("b", "chunks", "c1")
		other.Embedding = vec(9)
		plain := record("a", "chunks", "no-vector")
		mustInsert(t, s, recs[0], recs[1])
		mustInsert(t, s, recs[2], recs[3], other, plain)
		got, err := s.Record(ctx, recs[0].Ref())
		if err != nil {
			t.Fatal(err)
		}
		same(t, "Record", got, recs[0])

		page, err := es.Embeddings(ctx, "a", "chunks", 0, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) != 3 || page[0].ID != "c3" || page[1].ID != "c1" || page[2].ID != "c2" || !bytes.Equal(page[1].Vector, vec(2)) {
			t.Fatalf("first page = %+v, want c3 c1 c2 in insert order", page)
		}
		rest, err := es.Embeddings(ctx, "a", "chunks", page[2].Seq, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(rest) != 1 || rest[0].ID != "c4" || rest[0].Seq <= page[2].Seq {
			t.Fatalf("second page = %+v, want c4 alone", rest)
		}

		u := record("a", "chunks", "c1")
		u.Embedding = vec(7)
		u.UpdatedAt = t0.Add(time.Hour)
		if err := s.UpdateRecord(ctx, u); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteRecord(ctx, recs[0].Ref()); err != nil {
			t.Fatal(err)
		}
		if err := s.ApplyBatch(ctx, &lethe.Batch{Deletes: []lethe.RecordRef{recs[3].Ref()}}); err != nil {
			t.Fatal(err)
		}
		all, err := es.Embeddings(ctx, "a", "chunks", 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 2 || all[0].ID != "c1" || !bytes.Equal(all[0].Vector, vec(7)) || all[1].ID != "c2" {
			t.Fatalf("after update and deletes = %+v, want c1 (replaced) and c2", all)
		}
		if b, _ := es.Embeddings(ctx, "b", "chunks", 0, 100); len(b) != 1 || !bytes.Equal(b[0].Vector, vec(9)) {
			t.Fatalf("tenant b = %+v", b)
		}
		if o, _ := es.Embeddings(ctx, "a", "orders", 0, 100); len(o) != 0 {
			t.Fatalf("another collection = %+v", o)
		}
	},
}
