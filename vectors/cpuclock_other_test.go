//go:build !unix

package vectors

import "time"

// processCPU is not measured here; the benchmarks then report 0.
func processCPU() time.Duration { return 0 }
