package backup

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"
)

// Round trips at the chunk boundaries, and a file cut exactly after a
// whole chunk (which a length check alone would not notice) fails.
func TestStreamRoundTripAndTruncation(t *testing.T) {
	key := make([]byte, 32)
	rand.Read(key)
	for _, size := range []int{0, 1, chunkSize - 1, chunkSize, chunkSize + 1, 2*chunkSize + 7} {
		plain := make([]byte, size)
		rand.Read(plain)
		aead, _ := fileAEAD(key, "b1", "lethe.db")
		var enc bytes.Buffer
		if n, err := encrypt(&enc, bytes.NewReader(plain), aead, nil); err != nil || n != int64(size) {
			t.Fatalf("size %d: encrypt %d %v", size, n, err)
		}
		var out bytes.Buffer
		if _, err := decrypt(&out, bytes.NewReader(enc.Bytes()), aead, nil); err != nil || !bytes.Equal(out.Bytes(), plain) {
			t.Fatalf("size %d: decrypt: %v (equal %v)", size, err, bytes.Equal(out.Bytes(), plain))
		}
		other, _ := fileAEAD(key, "b1", "lethe-manager-log.db")
		if _, err := decrypt(&bytes.Buffer{}, bytes.NewReader(enc.Bytes()), other, nil); !errors.Is(err, ErrCorrupt) {
			t.Errorf("size %d: opened under another file's key: %v", size, err)
		}
		if size > chunkSize {
			cut := len(magic) + 5 + chunkSize + gcmTag // after the first chunk
			if _, err := decrypt(&bytes.Buffer{}, bytes.NewReader(enc.Bytes()[:cut]), aead, nil); !errors.Is(err, ErrCorrupt) {
				t.Errorf("size %d: cut after a chunk: %v", size, err)
			}
		}
	}
}
