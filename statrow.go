package lethe

import (
	"cmp"
	"fmt"
	"slices"
)

// SortStatRows puts statistics rows in the one order every store returns:
// by day, then by value, absent values (nil) first, then booleans (false
// before true), numbers by size, strings and everything else by text.
// Stores sort in Go rather than in SQL, since SQLite and PostgreSQL order
// JSON values of mixed types differently.
func SortStatRows(rows []StatRow) {
	slices.SortStableFunc(rows, func(a, b StatRow) int {
		if c := cmp.Compare(a.Day, b.Day); c != 0 {
			return c
		}
		return compareStatValues(a.Value, b.Value)
	})
}

func statRank(v any) int {
	switch v.(type) {
	case nil:
		return 0
	case bool:
		return 1
	case int64, float64, int, int32, float32:
		return 2
	default:
		return 3
	}
}

func compareStatValues(a, b any) int {
	ra, rb := statRank(a), statRank(b)
	if ra != rb {
		return cmp.Compare(ra, rb)
	}
	switch ra {
	case 0:
		return 0
	case 1:
		ab, bb := a.(bool), b.(bool)
		switch {
		case ab == bb:
			return 0
		case !ab:
			return -1
		default:
			return 1
		}
	case 2:
		return cmp.Compare(toFloat(a), toFloat(b))
	}
	return cmp.Compare(fmt.Sprint(a), fmt.Sprint(b))
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case int:
		return float64(x)
	case int32:
		return float64(x)
	case float32:
		return float64(x)
	case float64:
		return x
	}
	return 0
}
