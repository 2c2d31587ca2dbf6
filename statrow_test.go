package lethe

import (
	"reflect"
	"testing"
)

func TestSortStatRows_OneOrderForMixedValues(t *testing.T) {
	rows := []StatRow{
		{Day: "2026-01-02", Value: "a", Count: 1},
		{Day: "2026-01-01", Value: "b", Count: 2},
		{Day: "2026-01-01", Value: int64(10), Count: 3},
		{Day: "2026-01-01", Value: 2.5, Count: 4},
		{Day: "2026-01-01", Value: true, Count: 5},
		{Day: "2026-01-01", Value: false, Count: 6},
		{Day: "2026-01-01", Value: nil, Count: 7},
		{Day: "2026-01-01", Value: "a", Count: 8},
	}
	SortStatRows(rows)
	var got []int64
	for _, r := range rows {
		got = append(got, r.Count)
	}
	if want := []int64{7, 6, 5, 4, 3, 8, 2, 1}; !reflect.DeepEqual(got, want) {
		t.Fatalf("order by count = %v, want %v", got, want)
	}
}
