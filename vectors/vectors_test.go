package vectors

import (
	"errors"
	"math/rand/v2"
	"testing"
)

func TestEncodeDecodeRoundTripsAndChecksDimension(t *testing.T) {
	v := []float32{1.5, -2, 0, 3.25}
	b := Encode(v)
	if len(b) != 16 || b[0] != 0 || b[3] != 0x3f {
		t.Fatalf("not little-endian float32: % x", b)
	}
	got, err := Decode(b, 4)
	if err != nil || len(got) != 4 || got[3] != 3.25 {
		t.Fatalf("Decode = %v, %v", got, err)
	}
	if _, err := Decode(b, 3); !errors.Is(err, ErrDimension) {
		t.Fatalf("wrong dimension accepted: %v", err)
	}
}

func TestExactFindsNearestAndNeverReturnsDeleted(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	x := NewExact(8)
	vec := func() []float32 {
		v := make([]float32, 8)
		for i := range v {
			v[i] = r.Float32()*2 - 1
		}
		return v
	}
	target := vec()
	for i := range 50 {
		if err := x.Add(string(rune('a'+i%26))+string(rune('0'+i/26)), vec()); err != nil {
			t.Fatal(err)
		}
	}
	if err := x.Add("target", target); err != nil {
		t.Fatal(err)
	}
	hits, err := x.Search(target, 3)
	if err != nil || len(hits) != 3 || hits[0].ID != "target" || hits[0].Score < 0.999 {
		t.Fatalf("Search = %v, %v", hits, err)
	}
	x.Delete("target")
	hits, _ = x.Search(target, 51)
	for _, h := range hits {
		if h.ID == "target" {
			t.Fatal("deleted vector returned")
		}
	}
	if len(hits) != 50 || x.Len() != 50 {
		t.Fatalf("len %d/%d after delete", len(hits), x.Len())
	}
	if err := x.Add("zero", make([]float32, 8)); err == nil {
		t.Fatal("zero vector accepted")
	}
	if _, err := x.Search([]float32{1}, 1); !errors.Is(err, ErrDimension) {
		t.Fatalf("wrong query dimension: %v", err)
	}
}
