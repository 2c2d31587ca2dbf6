package lethe

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Duration is a retention period written the way the seeds and the API speak
// of them: "30m", "1h", "7d", "3y" (a year is 365 days, a day 24 hours). It
// keeps the unit it was written in so that it prints back unchanged.
type Duration struct {
	N    int64
	Unit byte // one of 's', 'm', 'h', 'd', 'y'
}

var unitLen = map[byte]time.Duration{
	's': time.Second,
	'm': time.Minute,
	'h': time.Hour,
	'd': 24 * time.Hour,
	'y': 365 * 24 * time.Hour,
}

// maxDuration caps periods at 200 years so that D() and time arithmetic never overflow.
const maxDuration = 200 * 365 * 24 * time.Hour

// ParseDuration reads "<n><unit>" with unit s, m, h, d or y and n >= 0.
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	if len(s) < 2 {
		return Duration{}, fmt.Errorf("%w: duration %q: want a number and a unit (s, m, h, d, y), e.g. 30d", ErrInvalid, s)
	}
	u := s[len(s)-1]
	step, ok := unitLen[u]
	if !ok {
		return Duration{}, fmt.Errorf("%w: duration %q: unknown unit %q (use s, m, h, d or y)", ErrInvalid, s, string(u))
	}
	digits := s[:len(s)-1]
	for _, c := range digits {
		if c < '0' || c > '9' {
			return Duration{}, fmt.Errorf("%w: duration %q: want a whole non-negative number before the unit", ErrInvalid, s)
		}
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n < 0 || time.Duration(n) > maxDuration/step {
		return Duration{}, fmt.Errorf("%w: duration %q: out of range (at most 200y)", ErrInvalid, s)
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

// D is the length of the period.
func (d Duration) D() time.Duration { return time.Duration(d.N) * unitLen[d.Unit] }

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
