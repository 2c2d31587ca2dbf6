package httpapi

import (
	"fmt"
	"testing"
	"time"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestLimiter_StateStaysBoundedUnderManyAddresses(t *testing.T) {
	c := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	lm := newLimiter(Limits{IPRate: 10, IPBurst: 20, AuthWindow: time.Minute, MaxTracked: 1000}, c.now)
	for i := range 100_000 {
		ip := fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
		if err := lm.allowAddr(ip); err != nil {
			// Past MaxTracked new addresses share one bucket: it runs dry,
			// which is the point.
			continue
		}
		lm.authFailed(ip)
	}
	if n, m := len(lm.ips.m), len(lm.fails); n > 1000 || m > 1001 {
		t.Fatalf("%d buckets and %d failure windows kept, want at most 1,000 (+1 shared)", n, m)
	}
	t.Logf("100,000 addresses: %d buckets, %d failure windows kept", len(lm.ips.m), len(lm.fails))
	// A bucket idle for as long as it takes to fill up (2 s) is dropped;
	// a window that ended is summarized and dropped.
	c.t = c.t.Add(time.Minute)
	sums := lm.sweep(false)
	if len(lm.ips.m) != 0 || len(lm.fails) != 0 {
		t.Fatalf("after a minute idle: %d buckets, %d windows kept, want 0", len(lm.ips.m), len(lm.fails))
	}
	var shared *AuthSummary
	for i := range sums {
		if sums[i].IP == overflowAddr {
			shared = &sums[i]
		}
	}
	if shared == nil || shared.Failures < 2 {
		t.Fatalf("the addresses past the bound were not summarized together: %+v", shared)
	}
}

func TestLimiter_EvictionDoesNotRefillABucketEarly(t *testing.T) {
	c := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	lm := newLimiter(Limits{KeyRate: 1, KeyBurst: 2}, c.now)
	for range 2 {
		if err := lm.allowKey("key:a"); err != nil {
			t.Fatal(err)
		}
	}
	c.t = c.t.Add(500 * time.Millisecond)
	lm.sweep(false) // not idle long enough to be dropped
	if err := lm.allowKey("key:a"); err == nil {
		t.Fatal("a third call within a second passed: the sweep forgot a bucket still in use")
	} else if le := err.(*limitError); le.retryAfter() != "1" {
		t.Fatalf("Retry-After %s, want 1 (0.5 s rounded up)", le.retryAfter())
	}
}

func TestAddrKey_GroupsIPv6ByItsSlash64(t *testing.T) {
	for _, c := range []struct{ ip, want string }{
		{"192.0.2.1", "192.0.2.1"},
		{"2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"},
		{"::ffff:192.0.2.1", "::ffff:192.0.2.1"},
		{"not an address", "not an address"},
	} {
		if got := addrKey(c.ip); got != c.want {
			t.Errorf("addrKey(%q) = %q, want %q", c.ip, got, c.want)
		}
	}
}
