package audit_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/audit"
)

// hmacSigner is a Signer with a fixed key, as the tenant keys are.
type hmacSigner []byte

func (k hmacSigner) Sign(msg []byte) []byte {
	m := hmac.New(sha256.New, k)
	m.Write(msg)
	return m.Sum(nil)
}

func (k hmacSigner) Verify(msg, mac []byte) bool { return hmac.Equal(mac, k.Sign(msg)) }

var key = hmacSigner("0123456789abcdef0123456789abcdef")

// chain builds n linked entries, a checkpoint at ckpt (0: none) and the
// signed head.
func chain(n int, ckpt int64) (audit.Chain, []*lethe.AuditEntry) {
	c := audit.Chain{Tenant: "t", Log: lethe.LogManager, Signer: key}
	var es []*lethe.AuditEntry
	var prev []byte
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 1; i <= n; i++ {
		e := &lethe.AuditEntry{Seq: int64(i), Tenant: "t", Log: lethe.LogManager, Time: t0.Add(time.Duration(i) * time.Second), Actor: "a", Event: "e", Data: []byte(`{}`), Prev: prev}
		e.Hash = lethe.ChainHash(prev, e)
		prev = e.Hash
		es = append(es, e)
	}
	cp := func(e *lethe.AuditEntry) *lethe.Checkpoint {
		x := &lethe.Checkpoint{Tenant: "t", Log: lethe.LogManager, Seq: e.Seq, Hash: e.Hash, Time: e.Time}
		audit.Sign(key, x)
		return x
	}
	if ckpt > 0 {
		c.Checkpoints = []*lethe.Checkpoint{cp(es[ckpt-1])}
	}
	if n > 0 {
		c.Head = cp(es[n-1])
	}
	return c, es
}

func TestVerifyChain_TableOfTamperings(t *testing.T) {
	cases := []struct {
		name    string
		mutate  func(c *audit.Chain, es []*lethe.AuditEntry) []*lethe.AuditEntry
		wantSeq int64 // 0: verifies
	}{
		{"untouched", func(c *audit.Chain, es []*lethe.AuditEntry) []*lethe.AuditEntry { return es }, 0},
		{"expired up to the anchor", func(c *audit.Chain, es []*lethe.AuditEntry) []*lethe.AuditEntry { return es[3:] }, 0},
		{"expired past the anchor", func(c *audit.Chain, es []*lethe.AuditEntry) []*lethe.AuditEntry { return es[4:] }, 4},
		{"edited event", func(c *audit.Chain, es []*lethe.AuditEntry) []*lethe.AuditEntry { es[1].Event = "x"; return es }, 2},
		{"wrong key", func(c *audit.Chain, es []*lethe.AuditEntry) []*lethe.AuditEntry {
			c.Signer = hmacSigner("another key")
			return es
		}, 3},
		{"no key", func(c *audit.Chain, es []*lethe.AuditEntry) []*lethe.AuditEntry { c.Signer = nil; return es }, 3},
		{"head of another chain", func(c *audit.Chain, es []*lethe.AuditEntry) []*lethe.AuditEntry { c.Head.Tenant = "u"; return es }, 6},
		{"entry of another tenant", func(c *audit.Chain, es []*lethe.AuditEntry) []*lethe.AuditEntry { es[4].Tenant = "u"; return es }, 5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, es := chain(6, 3)
			es = tc.mutate(&c, es)
			b := audit.VerifyChain(c, es)
			switch {
			case tc.wantSeq == 0 && b != nil:
				t.Fatalf("want a whole chain, got %v", b)
			case tc.wantSeq != 0 && (b == nil || b.Seq != tc.wantSeq):
				t.Fatalf("got %v, want a break at seq %d", b, tc.wantSeq)
			}
		})
	}
}

func TestParseQuery_RejectsOutOfRangeInput(t *testing.T) {
	for _, raw := range []string{"limit=0", "limit=1001", "after_seq=-1", "from=yesterday", "from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z"} {
		v, _ := parseValues(raw)
		if _, err := audit.ParseQuery("t", lethe.LogManager, v); err == nil {
			t.Errorf("%s: accepted", raw)
		}
	}
	v, _ := parseValues("limit=1000&after_seq=5&actor=admin&event=record.read&from=2026-01-01T00:00:00Z")
	q, err := audit.ParseQuery("t", lethe.LogManager, v)
	if err != nil || q.Limit != 1000 || q.AfterSeq != 5 || q.Actor != "admin" || q.Event != "record.read" || q.From.IsZero() {
		t.Fatalf("ParseQuery = %+v, %v", q, err)
	}
}

// FuzzVerifyChain feeds the verifier chains cut, reordered and rewritten
// from fuzz bytes: it must answer (a break or nil) and never panic.
func FuzzVerifyChain(f *testing.F) {
	f.Add([]byte{}, uint8(5), uint8(2))
	f.Add([]byte{1, 2, 3, 0xff, 0x10}, uint8(9), uint8(0))
	f.Add([]byte("\x00\x00\x00\x00\x00\x00\x00\x07"), uint8(3), uint8(3))
	f.Fuzz(func(t *testing.T, ops []byte, n, ckpt uint8) {
		size := int(n % 24)
		c, es := chain(size, int64(ckpt)%int64(size+1))
		for len(ops) >= 2 && len(es) > 0 {
			op, arg := ops[0], int(ops[1])%len(es)
			ops = ops[2:]
			switch op % 8 {
			case 0:
				es = append(es[:arg:arg], es[arg+1:]...)
			case 1:
				es[arg].Seq = int64(int8(op))
			case 2:
				es[0], es[arg] = es[arg], es[0]
			case 3:
				es[arg].Data = append([]byte(nil), ops...)
			case 4:
				es[arg].Prev = nil
			case 5:
				es = append(es, es[arg])
			case 6:
				c.Head = nil
			case 7:
				if len(ops) >= 8 {
					c.Checkpoints = append(c.Checkpoints, &lethe.Checkpoint{Tenant: "t", Log: lethe.LogManager, Seq: int64(binary.BigEndian.Uint64(ops)), MAC: ops[:8]})
				}
			}
		}
		es = append(es, nil)
		b := audit.VerifyChain(c, es)
		if b != nil {
			_ = b.Error()
		}
	})
}
