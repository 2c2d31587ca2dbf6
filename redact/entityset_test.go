package redact

import "testing"

// Every entity needs a bit of its own, or an analyzer would drop it (or
// report another in its place) without a word.
func TestEntityBit_DistinctForEveryEntity(t *testing.T) {
	var seen entitySet
	for _, e := range Entities {
		b := entityBit(e)
		if b == 0 || b&(b-1) != 0 || seen&b != 0 {
			t.Fatalf("%s: bit %b (seen %b)", e, b, seen)
		}
		seen |= b
	}
	if entityBit("NOPE") != 0 {
		t.Fatal("unknown entity has a bit")
	}
}
