package policy

import (
	"strings"

	"github.com/lethe-privacy/lethe"
)

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func mustDur(s string) lethe.Duration { return lethe.MustDuration(s) }

func durs(ss ...string) []lethe.Duration {
	out := make([]lethe.Duration, len(ss))
	for i, s := range ss {
		out[i] = lethe.MustDuration(s)
	}
	return out
}
