//go:build !race

package audit

// raceEnabled: the race detector shuffles the scheduler's choices.
const raceEnabled = false
