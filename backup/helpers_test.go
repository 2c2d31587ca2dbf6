package backup_test

import (
	"crypto/sha256"
	"encoding/hex"
)

func sha(b []byte) (int64, string) {
	s := sha256.Sum256(b)
	return int64(len(b)), hex.EncodeToString(s[:])
}
