package lethe

import (
	"math"
	"testing"
	"time"
)

func TestDuration_AfterCountsCalendarYearsAndFixedDays(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name, period, base, want string
		days                     int // whole days between base and want, 0 to skip
	}{
		{"invoice retention: ten calendar years, two leap days", "10y", "2026-03-15T10:00:00Z", "2036-03-15T10:00:00Z", 3653},
		{"one year across a February 29", "1y", "2027-06-01T00:00:00Z", "2028-06-01T00:00:00Z", 366},
		{"one year without one", "1y", "2026-06-01T00:00:00Z", "2027-06-01T00:00:00Z", 365},
		{"February 29 into a common year ends on February 28", "1y", "2028-02-29T12:00:00Z", "2029-02-28T12:00:00Z", 365},
		{"February 29 into a leap year stays", "4y", "2028-02-29T12:00:00Z", "2032-02-29T12:00:00Z", 1461},
		{"February 28 stays February 28", "1y", "2028-02-28T08:00:00Z", "2029-02-28T08:00:00Z", 366},
		{"2100 is no leap year", "4y", "2096-02-29T00:00:00Z", "2100-02-28T00:00:00Z", 1460},
		{"a base in another zone is counted in UTC", "1y", "2026-12-31T23:30:00-02:00", "2028-01-01T01:30:00Z", 0},
		{"days are 24 hours, whatever the clocks in Berlin do", "1d", "2026-03-28T12:00:00+01:00", "2026-03-29T11:00:00Z", 1},
		{"days are fixed, not calendar days", "365d", "2028-01-01T00:00:00Z", "2028-12-31T00:00:00Z", 365},
		{"hours", "36h", "2026-01-01T00:00:00Z", "2026-01-02T12:00:00Z", 0},
		{"minutes and seconds", "90m", "2026-01-01T00:00:00Z", "2026-01-01T01:30:00Z", 0},
		{"zero", "0y", "2028-02-29T00:00:00Z", "2028-02-29T00:00:00Z", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base, want := at(tt.base), at(tt.want)
			got := MustDuration(tt.period).After(base)
			if !got.Equal(want) || got.Location() != time.UTC {
				t.Fatalf("%s after %s = %s, want %s (UTC)", tt.period, tt.base, got, want.UTC())
			}
			if tt.days != 0 {
				if d := got.Sub(base); d != time.Duration(tt.days)*day {
					t.Errorf("%s after %s is %v later, want %d days", tt.period, tt.base, d, tt.days)
				}
			}
		})
	}
}

func TestDuration_ComparesAsAtEveryStart(t *testing.T) {
	tests := []struct {
		a, b                   string
		atMost, shorter, same  bool
		reverseAtMost, revShor bool
	}{
		// 1y adds 365 or 366 days: never less than 365d, never more than 366d.
		{"365d", "1y", true, false, false, false, false},
		{"1y", "366d", true, false, false, false, false},
		{"364d", "1y", true, true, false, false, false},
		{"1y", "367d", true, true, false, false, false},
		// Between 365 and 366 days no order holds at every start.
		{"1y", "8772h", false, false, false, false, false},
		{"1y", "2y", true, true, false, false, false},
		{"10y", "10y", true, false, true, true, false},
		{"7d", "168h", true, false, true, true, false},
		{"30d", "1y", true, true, false, false, false},
		// Ten years add 3,651 to 3,653 days (one leap day fewer across 2100).
		{"3651d", "10y", true, false, false, false, false},
		{"10y", "3653d", true, false, false, false, false},
		{"3652d", "10y", false, false, false, false, false},
		{"10y", "3654d", true, true, false, false, false},
		{"0d", "0y", true, false, true, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.a+" vs "+tt.b, func(t *testing.T) {
			a, b := MustDuration(tt.a), MustDuration(tt.b)
			if got := a.AtMost(b); got != tt.atMost {
				t.Errorf("%s.AtMost(%s) = %v, want %v", a, b, got, tt.atMost)
			}
			if got := a.Shorter(b); got != tt.shorter {
				t.Errorf("%s.Shorter(%s) = %v, want %v", a, b, got, tt.shorter)
			}
			if got := a.Same(b); got != tt.same || b.Same(a) != tt.same {
				t.Errorf("%s.Same(%s) = %v, want %v both ways", a, b, got, tt.same)
			}
			if got := b.AtMost(a); got != tt.reverseAtMost {
				t.Errorf("%s.AtMost(%s) = %v, want %v", b, a, got, tt.reverseAtMost)
			}
			if got := b.Shorter(a); got != tt.revShor {
				t.Errorf("%s.Shorter(%s) = %v, want %v", b, a, got, tt.revShor)
			}
			if c := a.Compare(b); tt.shorter && c >= 0 || tt.same && c != 0 && a.Unit == b.Unit {
				t.Errorf("%s.Compare(%s) = %d, inconsistent with Shorter %v / Same %v", a, b, c, tt.shorter, tt.same)
			}
		})
	}
}

// TestDuration_BoundsHoldForEveryStart applies year periods to every day
// of a 400-year Gregorian cycle (2000-2399, which holds the non-leap
// century years 2100, 2200 and 2300) and checks that what they add lies
// within Bounds, so that AtMost and Shorter never claim an order that some
// start breaks.
func TestDuration_BoundsHoldForEveryStart(t *testing.T) {
	years := []int64{1, 2, 3, 4, 8, 10, 99, 100, 101, 200}
	if testing.Short() {
		years = []int64{1, 4, 10}
	}
	start := time.Date(2000, 1, 1, 10, 0, 0, 0, time.UTC)
	end := start.AddDate(400, 0, 0)
	for _, n := range years {
		d := Duration{N: n, Unit: 'y'}
		lo, hi := d.Bounds()
		seenLo, seenHi := time.Duration(math.MaxInt64), time.Duration(0)
		for t0 := start; t0.Before(end); t0 = t0.Add(day) {
			got := d.After(t0).Sub(t0)
			seenLo, seenHi = min(seenLo, got), max(seenHi, got)
		}
		if seenLo < lo || seenHi > hi {
			t.Errorf("%s adds between %d and %d days, outside its bounds [%d, %d]", d, seenLo/day, seenHi/day, lo/day, hi/day)
		}
		// The bounds are close: at most two days looser than what occurs.
		if seenLo-lo > 2*day || hi-seenHi > 2*day {
			t.Errorf("%s: bounds [%d, %d] days are loose around the [%d, %d] that occur", d, lo/day, hi/day, seenLo/day, seenHi/day)
		}
	}
}

func TestParseDuration_YearsCappedAt200(t *testing.T) {
	for _, s := range []string{"200y", "73000d"} {
		if _, err := ParseDuration(s); err != nil {
			t.Errorf("ParseDuration(%q) = %v, want it accepted", s, err)
		}
	}
	for _, s := range []string{"201y", "73001d"} {
		if _, err := ParseDuration(s); err == nil {
			t.Errorf("ParseDuration(%q) accepted, want out of range", s)
		}
	}
}
