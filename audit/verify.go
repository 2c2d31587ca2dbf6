package audit

import (
	"bytes"
	"fmt"

	"github.com/lethe-privacy/lethe"
)

// Break names the first entry of a chain that does not verify and why.
// Seq is the entry that is wrong or, when entries are missing, the first
// missing one.
type Break struct {
	Tenant string
	Log    lethe.Log
	Seq    int64
	Reason string
}

func (b *Break) Error() string {
	return fmt.Sprintf("audit chain %s/%s broken at seq %d: %s", b.Tenant, b.Log, b.Seq, b.Reason)
}

// Chain is what the verifier is given of one chain: its signed head, its
// periodic checkpoints (any order), and the key that signed them (nil when
// the tenant has no key: every checkpoint then fails).
type Chain struct {
	Tenant      string
	Log         lethe.Log
	Head        *lethe.Checkpoint // nil when the store has none
	Checkpoints []*lethe.Checkpoint
	Signer      Signer
}

// Verifier checks one chain's entries as they stream by in seq order, so
// a long chain is never held in memory at once. Feed every stored entry to
// Add, then call Finish.
type Verifier struct {
	c      Chain
	byseq  map[int64]*lethe.Checkpoint
	n      int64
	first  int64
	last   *lethe.AuditEntry
	broken *Break
}

// NewVerifier starts verifying c. Checkpoints whose MAC is invalid break
// the chain at their seq at once.
func NewVerifier(c Chain) *Verifier {
	v := &Verifier{c: c, byseq: make(map[int64]*lethe.Checkpoint, len(c.Checkpoints))}
	for _, cp := range c.Checkpoints {
		if cp == nil {
			continue
		}
		if cp.Tenant != c.Tenant || cp.Log != c.Log || !ValidMAC(c.Signer, cp) {
			v.fail(cp.Seq, "checkpoint signature invalid (forged or altered checkpoint)")
			continue
		}
		v.byseq[cp.Seq] = cp
	}
	if h := c.Head; h != nil && (h.Tenant != c.Tenant || h.Log != c.Log || !ValidMAC(c.Signer, h)) {
		v.fail(h.Seq, "signed head invalid (forged or altered head)")
	}
	return v
}

// fail records a break unless an earlier one (by seq) is known.
func (v *Verifier) fail(seq int64, reason string) {
	if v.broken == nil || seq < v.broken.Seq {
		v.broken = &Break{Tenant: v.c.Tenant, Log: v.c.Log, Seq: seq, Reason: reason}
	}
}

// Add checks the next entry. It returns the first break found so far (nil
// while the chain holds), so a caller may stop early.
func (v *Verifier) Add(e *lethe.AuditEntry) *Break {
	if e == nil {
		return v.broken
	}
	v.n++
	if e.Tenant != v.c.Tenant || e.Log != v.c.Log {
		v.fail(e.Seq, fmt.Sprintf("entry of chain %s/%s stored in this chain", e.Tenant, e.Log))
	}
	if v.last == nil {
		v.first = e.Seq
		v.checkStart(e)
	} else {
		switch {
		case e.Seq != v.last.Seq+1:
			v.fail(v.last.Seq+1, fmt.Sprintf("entry missing (next stored entry is seq %d)", e.Seq))
		case !bytes.Equal(e.Prev, v.last.Hash):
			v.fail(e.Seq, "previous-hash link broken (entry inserted, removed or reordered)")
		}
	}
	if !bytes.Equal(e.Hash, lethe.ChainHash(e.Prev, e)) {
		v.fail(e.Seq, "hash does not match the entry (entry edited)")
	}
	if cp := v.byseq[e.Seq]; cp != nil && !bytes.Equal(cp.Hash, e.Hash) {
		v.fail(e.Seq, "entry differs from its signed checkpoint")
	}
	if h := v.c.Head; h != nil && h.Seq == e.Seq && !bytes.Equal(h.Hash, e.Hash) {
		v.fail(e.Seq, "entry differs from the signed head")
	}
	v.last = e
	return v.broken
}

// checkStart checks that the chain's oldest stored entry is seq 1 or
// follows a signed checkpoint (the anchor retention left).
func (v *Verifier) checkStart(e *lethe.AuditEntry) {
	if e.Seq == 1 {
		if len(e.Prev) != 0 {
			v.fail(1, "first entry has a previous hash")
		}
		return
	}
	if e.Seq < 1 {
		v.fail(e.Seq, "invalid seq")
		return
	}
	anchor := v.byseq[e.Seq-1]
	if anchor == nil || !bytes.Equal(anchor.Hash, e.Prev) {
		missing := int64(1)
		for s := range v.byseq {
			if s < e.Seq && s+1 > missing {
				missing = s + 1
			}
		}
		v.fail(missing, fmt.Sprintf("entry missing: the chain starts at seq %d without a signed anchor before it", e.Seq))
	}
}

// Finish checks the end of the chain against its checkpoints and signed
// head and returns the first break, or nil when the chain verifies.
func (v *Verifier) Finish() *Break {
	var lastSeq int64
	if v.last != nil {
		lastSeq = v.last.Seq
	}
	for s := range v.byseq {
		if s > lastSeq {
			v.fail(lastSeq+1, fmt.Sprintf("entries missing up to signed checkpoint %d (chain truncated)", s))
		}
	}
	h := v.c.Head
	switch {
	case h == nil && v.last != nil:
		// Nothing vouches for the entries after the newest checkpoint.
		from := v.first
		for s := range v.byseq {
			if s+1 > from {
				from = s + 1
			}
		}
		v.fail(from, "chain has no signed head; entries from here on may be forged or missing")
	case h == nil:
	case h.Seq > lastSeq:
		v.fail(lastSeq+1, fmt.Sprintf("entries missing up to the signed head %d (chain truncated)", h.Seq))
	case h.Seq < lastSeq:
		v.fail(h.Seq+1, fmt.Sprintf("entry not covered by the signed head %d (appended outside Lethe)", h.Seq))
	}
	return v.broken
}

// Entries is how many entries were added.
func (v *Verifier) Entries() int64 { return v.n }

// VerifyChain checks a whole chain held in memory (entries in stored seq
// order); see Verifier.
func VerifyChain(c Chain, entries []*lethe.AuditEntry) *Break {
	v := NewVerifier(c)
	for _, e := range entries {
		v.Add(e)
	}
	return v.Finish()
}
