//go:build unix

package vectors

import (
	"syscall"
	"time"
)

// processCPU is the CPU time this process has used, user and system: a
// query's cost that does not grow with the machine's load, reported
// beside the wall-clock latencies, which do.
func processCPU() time.Duration {
	var u syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &u) != nil {
		return 0
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}
