package engine

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// newInstance names this engine for leases as host/pid/random: the random
// part keeps two engines of one process apart, host and pid let a later
// process on the same host tell that a holder is gone (see holderGone).
func newInstance() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	host = strings.ReplaceAll(host, "/", "_")
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), newID())
}

// holderGone reports whether a lease holder was a process of this host
// that no longer runs, so that its lease can be taken over at once instead
// of after it runs out: a sweep killed by a crash is then resumed by the
// next start, not a lease period later. Holders on other hosts, and any
// doubt, count as alive; their lease simply runs out.
func holderGone(owner string) bool {
	parts := strings.Split(owner, "/")
	if len(parts) != 3 {
		return false
	}
	host, err := os.Hostname()
	if err != nil || strings.ReplaceAll(host, "/", "_") != parts[0] {
		return false
	}
	pid, err := strconv.Atoi(parts[1])
	if err != nil || pid <= 0 || pid == os.Getpid() {
		return false
	}
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}
