package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/lethe-privacy/lethe"
)

// parseInterval reads a duration written the project's way ("1d", "30m",
// "3y", as in the API and the policies) or Go's way ("90s", "1h30m",
// "0"). The two agree where they overlap ("30m" is thirty minutes in both).
func parseInterval(s string) (time.Duration, error) {
	if d, err := lethe.ParseDuration(s); err == nil {
		// An interval is a fixed length: a year here is its shortest
		// (365 days), not a calendar year from some date.
		shortest, _ := d.Bounds()
		return shortest, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("want a duration such as 30s, 1m, 1h30m or 1d, got %q", s)
	}
	return d, nil
}

// intervalValue is a flag holding a duration read by parseInterval.
type intervalValue struct{ d *time.Duration }

// intervalVar makes a flag value that stores into d, which starts at def.
func intervalVar(d *time.Duration, def time.Duration) *intervalValue {
	*d = def
	return &intervalValue{d: d}
}

func (v *intervalValue) Set(s string) error {
	d, err := parseInterval(s)
	if err != nil {
		return err
	}
	*v.d = d
	return nil
}

func (v *intervalValue) Type() string { return "duration" }

func (v *intervalValue) String() string {
	if v.d == nil {
		return "0s"
	}
	d := *v.d
	if day := 24 * time.Hour; d >= day && d%day == 0 {
		return fmt.Sprintf("%dd", d/day)
	}
	s := d.String() // "1m0s", "1h0m0s": trimmed to "1m", "1h"
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// parseUntil reads a horizon the way the API's ?until= does: an RFC 3339
// time, or a duration from now such as 60d.
func parseUntil(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return now, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	d, err := lethe.ParseDuration(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: --until %q: want an RFC 3339 time such as 2027-01-01T00:00:00Z or a duration from now such as 60d", errUsage, s)
	}
	return d.After(now).UTC(), nil
}
