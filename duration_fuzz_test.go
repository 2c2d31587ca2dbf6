package lethe

import (
	"errors"
	"testing"
	"time"
)

// FuzzParseDuration checks the period parser that reads every retention
// period of a policy file and of a tenant's settings: it never panics,
// fails only with ErrInvalid, never yields a negative or over-long period
// (time arithmetic on due dates must not overflow), and what it accepts
// prints back to a string that parses to the same value.
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{
		"30m", "1h", "7d", "3y", "0s", "200y", "73000d", " 10d ", "0d",
		"", "d", "10", "10x", "-1d", "+1d", "1.5d", "201y", "9223372036854775807s",
		"99999999999999999999d", "1d\x00", "１d", "1D", "0x10d", "1_000d", "d1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("ParseDuration(%q): err = %v, want ErrInvalid", s, err)
			}
			var u Duration
			if u.UnmarshalText([]byte(s)) == nil {
				t.Fatalf("UnmarshalText accepted %q, which ParseDuration refused", s)
			}
			return
		}
		lo, hi := d.Bounds()
		if d.N < 0 || lo < 0 || lo > hi || hi > maxDuration+50*day {
			t.Fatalf("ParseDuration(%q) = %+v, bounds [%v, %v] outside [0, 200y]", s, d, lo, hi)
		}
		if _, fixed := fixedLen[d.Unit]; !fixed && d.Unit != 'y' {
			t.Fatalf("ParseDuration(%q) kept unit %q", s, d.Unit)
		}
		if d.IsZero() != (hi == 0) {
			t.Fatalf("ParseDuration(%q): IsZero %v but at most %v long", s, d.IsZero(), hi)
		}
		if !d.Same(d) || !d.AtMost(d) || d.Shorter(d) || d.Compare(d) != 0 {
			t.Fatalf("ParseDuration(%q) = %+v does not compare equal to itself", s, d)
		}
		// Due dates are computed as basis + period: far-off bases must not
		// wrap around, and what a period adds lies within its bounds.
		for _, base := range []time.Time{
			time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
			time.Date(2028, 2, 29, 23, 59, 59, 0, time.UTC),
		} {
			due := d.After(base)
			if due.Before(base) {
				t.Fatalf("ParseDuration(%q): %v + %v wrapped to %v", s, base, d, due)
			}
			if got := due.Sub(base); got < lo || got > hi {
				t.Fatalf("ParseDuration(%q): %v + %v = %v, %v later, outside [%v, %v]", s, base, d, due, got, lo, hi)
			}
		}
		text, err := d.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseDuration(string(text))
		if err != nil || again != d {
			t.Fatalf("ParseDuration(%q) = %+v prints as %q, which parses to %+v, %v", s, d, text, again, err)
		}
	})
}
