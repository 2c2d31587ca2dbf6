package engine

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// newInstance names this engine for leases as host/pidns/pid/random: the
// random part keeps two engines of one process apart; host, PID namespace
// and pid let a later process tell that a holder is gone (see holderGone).
func newInstance() string {
	return fmt.Sprintf("%s/%s/%d/%s", hostName(), pidNamespace(), os.Getpid(), newID())
}

// hostName is the host's name without slashes; "unknown" when unreadable.
func hostName() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		return "unknown"
	}
	return strings.ReplaceAll(host, "/", "_")
}

// pidNamespace identifies the PID namespace ("4026531836"): containers
// that share a host name (host networking) have PIDs of their own, and a
// pid means nothing outside its namespace. "" when unknown.
func pidNamespace() string {
	link, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		return ""
	}
	return strings.Trim(strings.TrimPrefix(link, "pid:"), "[]")
}

// holderGone reports whether a lease holder was a process of this host and
// PID namespace that no longer runs, so that its lease can be taken over
// at once instead of after it runs out: a sweep killed by a crash is then
// resumed by the next start, not a lease period later. Holders elsewhere,
// and any doubt, count as alive; their lease simply runs out.
func holderGone(owner string) bool {
	parts := strings.Split(owner, "/")
	if len(parts) != 4 {
		return false
	}
	ns := pidNamespace()
	if parts[0] != hostName() || ns == "" || parts[1] != ns {
		return false
	}
	pid, err := strconv.Atoi(parts[2])
	if err != nil || pid <= 0 || pid == os.Getpid() {
		return false
	}
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}
