package lethe

import (
	"fmt"
	"testing"
)

func TestChainHeads_NewestOfEachChainInFirstSeenOrder(t *testing.T) {
	e := func(tenant string, log Log, seq int64) *AuditEntry {
		return &AuditEntry{Tenant: tenant, Log: log, Seq: seq}
	}
	name := func(es []*AuditEntry) string {
		s := ""
		for _, x := range es {
			s += fmt.Sprintf("%s/%s#%d ", x.Tenant, x.Log, x.Seq)
		}
		return s
	}
	for _, tc := range []struct {
		name    string
		entries []*AuditEntry
		want    string
	}{
		{"none", nil, ""},
		{"one chain", []*AuditEntry{e("a", LogManager, 1), e("a", LogManager, 2)}, "a/manager#2 "},
		{"interleaved chains", []*AuditEntry{e("a", LogManager, 4), e("b", LogManager, 1), e("a", LogSecurity, 9), e("a", LogManager, 5)},
			"a/manager#5 b/manager#1 a/security#9 "},
		{"out of order: the highest seq wins", []*AuditEntry{e("a", LogRuntime, 7), e("a", LogRuntime, 3)}, "a/runtime#7 "},
		{"nil entries skipped", []*AuditEntry{nil, e("a", LogRuntime, 1), nil}, "a/runtime#1 "},
	} {
		if got := name(ChainHeads(tc.entries)); got != tc.want {
			t.Errorf("%s: heads %q, want %q", tc.name, got, tc.want)
		}
	}
	h := e("a", LogManager, 3).Head()
	if h.Tenant != "a" || h.Log != LogManager || h.Seq != 3 || h.MAC != nil {
		t.Errorf("Head() = %+v", h)
	}
}
