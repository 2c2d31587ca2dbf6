package lethe

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Duration is a retention period written the way the seeds and the API speak
// of them: "30m", "1h", "7d", "10y". It keeps the unit it was written in so
// that it prints back unchanged.
//
// Seconds, minutes, hours and days are fixed lengths (a day is 24 hours:
// periods are counted in UTC, where no day has 23 or 25 hours). Years are
// calendar years: "10y" from 2026-03-15T10:00Z ends 2036-03-15T10:00Z, the
// way the ten-year retention of an invoice is counted, not 3,650 days
// later. A year is therefore not one length but 365 or 366 days; After
// applies a period to a time, and AtMost, Shorter and Same compare two
// periods as they would apply to any start (docs/adr/0012-calendar-periods.md).
type Duration struct {
	N    int64
	Unit byte // one of 's', 'm', 'h', 'd', 'y'
}

// fixedLen is the length of the fixed units; years have none.
var fixedLen = map[byte]time.Duration{
	's': time.Second,
	'm': time.Minute,
	'h': time.Hour,
	'd': 24 * time.Hour,
}

// MaxYears caps periods at 200 years (and fixed periods at 73,000 days) so
// that time arithmetic on due dates never overflows.
const MaxYears = 200

const (
	day         = 24 * time.Hour
	maxDuration = MaxYears * 365 * day
)

// ParseDuration reads "<n><unit>" with unit s, m, h, d or y and n >= 0.
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	if len(s) < 2 {
		return Duration{}, fmt.Errorf("%w: duration %q: want a number and a unit (s, m, h, d, y), e.g. 30d", ErrInvalid, s)
	}
	u := s[len(s)-1]
	step, fixed := fixedLen[u]
	if !fixed && u != 'y' {
		return Duration{}, fmt.Errorf("%w: duration %q: unknown unit %q (use s, m, h, d or y)", ErrInvalid, s, string(u))
	}
	digits := s[:len(s)-1]
	for _, c := range digits {
		if c < '0' || c > '9' {
			return Duration{}, fmt.Errorf("%w: duration %q: want a whole non-negative number before the unit", ErrInvalid, s)
		}
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	tooLong := u == 'y' && n > MaxYears || fixed && time.Duration(n) > maxDuration/step
	if err != nil || n < 0 || tooLong {
		return Duration{}, fmt.Errorf("%w: duration %q: out of range (at most %dy)", ErrInvalid, s, MaxYears)
	}
	return Duration{N: n, Unit: u}, nil
}

// MustDuration is ParseDuration for constants in code and tests.
func MustDuration(s string) Duration {
	d, err := ParseDuration(s)
	if err != nil {
		panic(err)
	}
	return d
}

// After returns t plus the period, in UTC. It is the one place where a
// period meets a time: every due date, hold end and "until" is computed
// here.
//
// Years move the calendar date: the same day and time of day N years
// later, or February 28 when the start is February 29 and the target year
// has none (as the German Civil Code, BGB § 188(3), and PostgreSQL's
// interval arithmetic count). The fixed units add their length.
func (d Duration) After(t time.Time) time.Time {
	t = t.UTC()
	if d.Unit != 'y' {
		return t.Add(time.Duration(d.N) * fixedLen[d.Unit])
	}
	n := int(d.N)
	out := t.AddDate(n, 0, 0)
	if t.Month() == time.February && t.Day() == 29 && out.Month() != time.February {
		// AddDate normalized February 29 of a common year to March 1;
		// step back to the last day of February.
		out = out.AddDate(0, 0, -out.Day())
	}
	return out
}

// Bounds returns the shortest and the longest time the period can add to
// any start. They are equal for the fixed units. N calendar years are
// N*365 days plus the February 29s they cross: at least N/4 minus one for
// each century year, which is not a leap year unless divisible by 400 (so
// fewer than N/100+1 of them), and at most N/4 rounded up. The test
// TestDuration_BoundsHoldForEveryStart checks them against After over a
// whole 400-year cycle of starts.
func (d Duration) Bounds() (shortest, longest time.Duration) {
	if d.Unit != 'y' {
		l := time.Duration(d.N) * fixedLen[d.Unit]
		return l, l
	}
	lo := d.N/4 - (d.N/100 + 1)
	lo = max(lo, 0)
	hi := (d.N + 3) / 4
	return time.Duration(d.N*365+lo) * day, time.Duration(d.N*365+hi) * day
}

// AtMost reports whether the period never adds more than o, whatever the
// start: t+d <= t+o for every t. Two year periods compare by their number
// of years; a year period and a fixed one by Bounds, so "1y" is at most
// "366d" and at least "365d", but neither at most nor at least "365d12h".
func (d Duration) AtMost(o Duration) bool {
	if d.Unit == 'y' && o.Unit == 'y' {
		return d.N <= o.N
	}
	_, dmax := d.Bounds()
	omin, _ := o.Bounds()
	return dmax <= omin
}

// Shorter reports whether the period always adds less than o: t+d < t+o
// for every t. "1y" is not shorter than "366d" (the two meet in a year with
// a February 29), nor longer than "365d".
func (d Duration) Shorter(o Duration) bool {
	if d.Unit == 'y' && o.Unit == 'y' {
		return d.N < o.N
	}
	_, dmax := d.Bounds()
	omin, _ := o.Bounds()
	return dmax < omin
}

// Same reports whether the two periods add the same to every start: "7d"
// and "168h" are the same choice, "1y" and "365d" are not.
func (d Duration) Same(o Duration) bool {
	if (d.Unit == 'y') != (o.Unit == 'y') {
		return d.IsZero() && o.IsZero()
	}
	return d.AtMost(o) && o.AtMost(d)
}

// Compare orders periods for display (a settings page lists its options
// shortest first): by the middle of their Bounds, then years after fixed
// periods of that length. It is a total order, but only AtMost, Shorter
// and Same say how two periods relate at every start.
func (d Duration) Compare(o Duration) int {
	dlo, dhi := d.Bounds()
	olo, ohi := o.Bounds()
	dm, om := dlo/2+dhi/2, olo/2+ohi/2
	switch {
	case dm < om:
		return -1
	case dm > om:
		return 1
	case d.Unit == 'y' && o.Unit != 'y':
		return 1
	case d.Unit != 'y' && o.Unit == 'y':
		return -1
	}
	return 0
}

// IsZero reports whether the period is unset or zero long.
func (d Duration) IsZero() bool { return d.N == 0 }

func (d Duration) String() string {
	if d.Unit == 0 {
		return "0s"
	}
	return strconv.FormatInt(d.N, 10) + string(d.Unit)
}

// MarshalText writes the duration as it was read.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses "30d" and friends.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}
