package lethe

import (
	"reflect"
	"testing"
)

func TestPlain_RoundTripKeepsExactNumbers(t *testing.T) {
	in := map[string]any{
		"id":     int64(9007199254740993), // 2^53+1: a float64 would round it
		"amount": 12.5,
		"n":      3.0, // integral: reads back as int64 3
		"huge":   "1e400",
		"nested": map[string]any{"list": []any{int64(1), 2.5, "x", nil, true}},
	}
	s, err := EncodePlain(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := DecodePlain([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"id": int64(9007199254740993), "amount": 12.5, "n": int64(3), "huge": "1e400",
		"nested": map[string]any{"list": []any{int64(1), 2.5, "x", nil, true}},
	}
	if !reflect.DeepEqual(out, want) {
		t.Fatalf("round trip = %#v\nwant %#v", out, want)
	}
	if s, _ := EncodePlain(nil); s != "{}" {
		t.Fatalf("EncodePlain(nil) = %q, want {}", s)
	}
	if m, err := DecodePlain(nil); err != nil || m == nil || len(m) != 0 {
		t.Fatalf("DecodePlain(nil) = %v, %v; want an empty map", m, err)
	}
	if m, err := DecodePlain([]byte(`{"h":1e400}`)); err != nil || m["h"] != "1e400" {
		t.Fatalf("a number beyond float64 = %#v, %v; want its text", m["h"], err)
	}
	if _, err := DecodePlain([]byte("{")); err == nil {
		t.Fatal("DecodePlain of broken JSON succeeded")
	}
}
