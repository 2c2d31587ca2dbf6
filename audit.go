package lethe

import (
	"crypto/sha256"
	"encoding/binary"
	"time"
)

// Log names an audit log (seed 000, C4).
type Log string

const (
	LogRuntime  Log = "runtime"
	LogManager  Log = "manager"
	LogSecurity Log = "security"
)

// AuditEntry is one entry of a tenant's log. Entries hold no PII values in
// the clear (ids, counts, keyed hashes), so the chain still verifies after
// the data it speaks of is erased. Each entry carries the hash of the one
// before it in the same tenant log: removing or editing an entry breaks the
// chain.
type AuditEntry struct {
	Seq    int64 // position in its chain, assigned by the store
	Tenant string
	Log    Log
	Time   time.Time
	Actor  string
	Event  string
	Data   []byte // JSON object
	Prev   []byte // hash of the previous entry; nil for the first
	Hash   []byte
}

// ChainHash is SHA-256 over the previous hash and the entry's fields, each
// length-prefixed so that no two distinct entries encode alike.
func ChainHash(prev []byte, e *AuditEntry) []byte {
	h := sha256.New()
	var n [8]byte
	put := func(b []byte) {
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	put(prev)
	binary.BigEndian.PutUint64(n[:], uint64(e.Seq))
	h.Write(n[:])
	put([]byte(e.Tenant))
	put([]byte(e.Log))
	binary.BigEndian.PutUint64(n[:], uint64(e.Time.UnixNano()))
	h.Write(n[:])
	put([]byte(e.Actor))
	put([]byte(e.Event))
	put(e.Data)
	return h.Sum(nil)
}

// AuditQuery selects entries of one tenant log.
type AuditQuery struct {
	Tenant   string
	Log      Log
	From, To time.Time // zero: unbounded
	Actor    string
	Event    string
	AfterSeq int64
	Limit    int
}

// ChainHeads returns, for each chain that entries extend, its newest
// entry (highest Seq), in the order each chain first appears. After an
// append these are the chains' new heads, to be signed.
func ChainHeads(entries []*AuditEntry) []*AuditEntry {
	type chain struct {
		tenant string
		log    Log
	}
	at := make(map[chain]int)
	var heads []*AuditEntry
	for _, e := range entries {
		if e == nil {
			continue
		}
		k := chain{e.Tenant, e.Log}
		i, ok := at[k]
		switch {
		case !ok:
			at[k] = len(heads)
			heads = append(heads, e)
		case e.Seq > heads[i].Seq:
			heads[i] = e
		}
	}
	return heads
}

// Head is the (unsigned) checkpoint that names e as its chain's head.
func (e *AuditEntry) Head() *Checkpoint {
	return &Checkpoint{Tenant: e.Tenant, Log: e.Log, Seq: e.Seq, Hash: e.Hash, Time: e.Time}
}
