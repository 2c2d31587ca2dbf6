package vectors

import (
	"strconv"
	"testing"
)

// TestIndex_MovesToTheGraphPastItsThresholdAndKeepsAnswering adds vectors
// one by one across the threshold: up to it the index scans, past it the
// graph answers, and a vector added, replaced or deleted on either side
// is found, moved or gone.
func TestIndex_MovesToTheGraphPastItsThresholdAndKeepsAnswering(t *testing.T) {
	vs := randomVectors(11, 400, 16)
	x := NewIndex(16, 200, HNSWConfig{Seed: 1})
	for i, v := range vs {
		if err := x.Add(strconv.Itoa(i), v); err != nil {
			t.Fatal(err)
		}
		if want := i+1 > 200; x.Graph() != want {
			t.Fatalf("after %d vectors Graph() = %v", i+1, x.Graph())
		}
	}
	if x.Len() != len(vs) || x.Dim() != 16 {
		t.Fatalf("Len %d, Dim %d", x.Len(), x.Dim())
	}
	for _, i := range []int{0, 150, 399} {
		hits, err := x.Search(vs[i], 3, 0, nil)
		if err != nil || len(hits) != 3 || hits[0].ID != strconv.Itoa(i) {
			t.Fatalf("search for %d: %v, %v", i, hits, err)
		}
	}
	x.Delete("150")
	if hits, _ := x.Search(vs[150], 400, 0, nil); len(hits) != len(vs)-1 {
		t.Fatalf("after delete: %d hits, want %d", len(hits), len(vs)-1)
	} else {
		for _, h := range hits {
			if h.ID == "150" {
				t.Fatal("deleted vector returned")
			}
		}
	}
	if err := x.Add("0", vs[1]); err != nil {
		t.Fatal(err)
	}
	if hits, _ := x.Search(vs[0], 1, 0, nil); len(hits) == 1 && hits[0].ID == "0" {
		t.Fatal("replaced vector still found at its old place")
	}
	only := func(id string) bool { return id == "7" }
	if hits, _ := x.Search(vs[3], 5, 0, only); len(hits) != 1 || hits[0].ID != "7" {
		t.Fatalf("filtered: %v", hits)
	}
	small := NewIndex(16, 0, HNSWConfig{})
	for i, v := range vs {
		small.Add(strconv.Itoa(i), v)
	}
	if small.Graph() {
		t.Fatal("the default threshold moved 400 vectors to the graph")
	}
	if err := small.Add("bad", []float32{1}); err == nil {
		t.Fatal("wrong dimension accepted")
	}
}
