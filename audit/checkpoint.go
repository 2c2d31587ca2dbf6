package audit

import (
	"encoding/binary"

	"github.com/lethe-privacy/lethe"
)

// Signer makes and checks checkpoint MACs; keyring.TenantKeys implements
// it with HMAC-SHA256 under the tenant's receipt key.
type Signer interface {
	Sign(msg []byte) []byte
	Verify(msg, mac []byte) bool
}

// checkpointDomain separates checkpoint MACs from every other message the
// same key signs (request receipts are JSON objects and never start with
// this text), so one can never be replayed as the other.
const checkpointDomain = "lethe audit checkpoint v1\x00"

// CheckpointMessage is the byte string a checkpoint's MAC covers: the
// domain, then tenant, log, seq, hash and time in milliseconds, each
// variable part length-prefixed so that no two checkpoints encode alike.
func CheckpointMessage(cp *lethe.Checkpoint) []byte {
	b := make([]byte, 0, len(checkpointDomain)+len(cp.Tenant)+len(cp.Log)+len(cp.Hash)+40)
	b = append(b, checkpointDomain...)
	put := func(p []byte) {
		b = binary.BigEndian.AppendUint64(b, uint64(len(p)))
		b = append(b, p...)
	}
	put([]byte(cp.Tenant))
	put([]byte(cp.Log))
	b = binary.BigEndian.AppendUint64(b, uint64(cp.Seq))
	put(cp.Hash)
	b = binary.BigEndian.AppendUint64(b, uint64(cp.Time.UnixMilli()))
	return b
}

// Sign sets cp.MAC.
func Sign(s Signer, cp *lethe.Checkpoint) {
	cp.MAC = s.Sign(CheckpointMessage(cp))
}

// ValidMAC reports whether cp carries a MAC s made.
func ValidMAC(s Signer, cp *lethe.Checkpoint) bool {
	return s != nil && len(cp.MAC) > 0 && s.Verify(CheckpointMessage(cp), cp.MAC)
}
