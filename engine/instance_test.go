package engine

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

func TestHolderGone_OnlyForAProcessOfThisHostAndNamespaceThatEnded(t *testing.T) {
	// A process that ran and ended: its pid is free (reuse within the
	// test is too unlikely to matter).
	cmd := exec.Command(os.Args[0], "-test.run", "^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := cmd.Process.Pid
	ns := pidNamespace()
	if ns == "" {
		t.Skip("no /proc/self/ns/pid here: every holder counts as alive")
	}
	host := hostName()
	for _, tc := range []struct {
		owner string
		gone  bool
	}{
		{fmt.Sprintf("%s/%s/%d/x", host, ns, dead), true},
		{fmt.Sprintf("%s/%s/%d/x", host, ns, os.Getpid()), false},    // this process
		{fmt.Sprintf("%s/%s/%d/x", host, ns, os.Getppid()), false},   // alive
		{fmt.Sprintf("%s/%s/%d/x", "elsewhere", ns, dead), false},    // another host
		{fmt.Sprintf("%s/%s/%d/x", host, "4026531999", dead), false}, // another PID namespace
		{fmt.Sprintf("%s/%d/x", host, dead), false},                  // an old or foreign owner format
		{"", false},
	} {
		if got := holderGone(tc.owner); got != tc.gone {
			t.Errorf("holderGone(%q) = %v, want %v", tc.owner, got, tc.gone)
		}
	}
	parts := strings.Split(newInstance(), "/")
	if len(parts) != 4 || parts[0] != host || parts[1] != ns || parts[2] != strconv.Itoa(os.Getpid()) || parts[3] == "" {
		t.Errorf("newInstance() = %q: want host/pidns/pid/random of this process", strings.Join(parts, "/"))
	}
}
