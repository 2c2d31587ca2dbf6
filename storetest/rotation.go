package storetest

import (
	"bytes"
	"testing"

	"github.com/lethe-privacy/lethe"
)

func rotationStore(t *testing.T, s lethe.Store) lethe.KeyRotationStore {
	t.Helper()
	rs, ok := s.(lethe.KeyRotationStore)
	if !ok {
		t.Fatalf("%T does not implement lethe.KeyRotationStore", s)
	}
	return rs
}

var rotationTests = map[string]func(*testing.T, Opener){
	// RewrapKey swaps only a key still wrapped by the version it was read
	// with: a second rewrap from the same old state changes nothing.
	"RewrapKeyIsGuardedByTheOldKEK": func(t *testing.T, open Opener) {
		s := open(t)
		rs := rotationStore(t, s)
		ctx := t.Context()
		for _, tn := range []string{"b", "a"} {
			if err := s.PutKey(ctx, &lethe.WrappedKey{Tenant: tn, Purpose: lethe.KeyData, Version: 1, KEKID: "old", Wrapped: []byte("w-" + tn), Created: t0}); err != nil {
				t.Fatal(err)
			}
		}
		all, err := rs.AllKeys(ctx)
		if err != nil || len(all) != 2 || all[0].Tenant != "a" || all[1].Tenant != "b" {
			t.Fatalf("AllKeys = %v, %v; want a's then b's", all, err)
		}
		k := &lethe.WrappedKey{Tenant: "a", Purpose: lethe.KeyData, Version: 1, KEKID: "new", Wrapped: []byte("w2")}
		moved, err := rs.RewrapKey(ctx, k, "old")
		if err != nil || !moved {
			t.Fatalf("first rewrap: %v, %v", moved, err)
		}
		k.Wrapped = []byte("w3")
		if moved, err := rs.RewrapKey(ctx, k, "old"); err != nil || moved {
			t.Fatalf("rewrap from a stale state: moved %v, %v; want nothing changed", moved, err)
		}
		keys, _ := s.Keys(ctx, "a")
		if len(keys) != 1 || keys[0].KEKID != "new" || !bytes.Equal(keys[0].Wrapped, []byte("w2")) {
			t.Fatalf("a's key after rewraps: %+v", keys[0])
		}
	},
	"RetireThenDeleteOnlyRetired": func(t *testing.T, open Opener) {
		s := open(t)
		rs := rotationStore(t, s)
		ctx := t.Context()
		for v := uint32(1); v <= 2; v++ {
			if err := s.PutKey(ctx, &lethe.WrappedKey{Tenant: "a", Purpose: lethe.KeyData, Version: v, KEKID: "k", Wrapped: []byte{byte(v)}, Created: t0}); err != nil {
				t.Fatal(err)
			}
		}
		wantErr(t, "delete of an active version", rs.DeleteKey(ctx, "a", lethe.KeyData, 1), lethe.ErrConflict)
		wantErr(t, "retire of no key", rs.RetireKey(ctx, "a", lethe.KeyData, 9), lethe.ErrNotFound)
		if err := rs.RetireKey(ctx, "a", lethe.KeyData, 1); err != nil {
			t.Fatal(err)
		}
		keys, _ := s.Keys(ctx, "a")
		if !keys[0].Retired || keys[1].Retired {
			t.Fatalf("after retire: %+v %+v", keys[0], keys[1])
		}
		if err := rs.DeleteKey(ctx, "a", lethe.KeyData, 1); err != nil {
			t.Fatal(err)
		}
		wantErr(t, "second delete", rs.DeleteKey(ctx, "a", lethe.KeyData, 1), lethe.ErrNotFound)
		if keys, _ := s.Keys(ctx, "a"); len(keys) != 1 || keys[0].Version != 2 {
			t.Fatalf("after delete: %+v", keys)
		}
	},
	// SealedRecords pages in (collection, id) order over one tenant's
	// records with sealed fields; ResealRecords writes only where the
	// sealed bytes are still those read, and leaves the rest of the row.
	"SealedRecordsPageAndResealIsGuarded": func(t *testing.T, open Opener) {
		s := open(t)
		rs := rotationStore(t, s)
		ctx := t.Context()
		plainOnly := record("t", "a", "plain")
		plainOnly.Sealed = nil
		mustInsert(t, s, record("t", "b", "r1"), record("t", "a", "r2"), record("t", "a", "r1"), plainOnly, record("other", "a", "r0"))
		var got []string
		after := lethe.RecordRef{}
		for {
			page, err := rs.SealedRecords(ctx, "t", after, 2)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			for _, r := range page {
				got = append(got, r.Collection+"/"+r.ID)
			}
			after = page[len(page)-1].Ref()
		}
		if want := "[a/r1 a/r2 b/r1]"; bytesString(got) != want {
			t.Fatalf("SealedRecords = %v, want %s", got, want)
		}
		r, _ := s.Record(ctx, lethe.RecordRef{Tenant: "t", Collection: "a", ID: "r1"})
		nu := map[string][]byte{"email": []byte("resealed-email"), "name": r.Sealed["name"]}
		stale := map[string][]byte{"email": []byte("not what is stored"), "name": r.Sealed["name"]}
		n, err := rs.ResealRecords(ctx, []lethe.Reseal{
			{Ref: r.Ref(), Old: r.Sealed, New: nu},
			{Ref: lethe.RecordRef{Tenant: "t", Collection: "a", ID: "r2"}, Old: stale, New: nu},
		})
		if err != nil || n != 1 {
			t.Fatalf("ResealRecords = %d, %v; want 1 (the stale one refused)", n, err)
		}
		after1, _ := s.Record(ctx, r.Ref())
		if !bytes.Equal(after1.Sealed["email"], []byte("resealed-email")) || !after1.UpdatedAt.Equal(r.UpdatedAt) || after1.Plain["status"] != "open" || len(after1.Subjects) != 1 {
			t.Fatalf("resealed record: %+v", after1)
		}
		r2, _ := s.Record(ctx, lethe.RecordRef{Tenant: "t", Collection: "a", ID: "r2"})
		if !bytes.Equal(r2.Sealed["email"], []byte("sealed-email-r2")) {
			t.Fatalf("guarded record changed: %q", r2.Sealed["email"])
		}
	},
}

func bytesString(s []string) string {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, x := range s {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(x)
	}
	b.WriteByte(']')
	return b.String()
}
