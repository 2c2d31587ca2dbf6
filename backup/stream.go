package backup

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/lethe-privacy/lethe"
)

// The encrypted file format (one per file of a backup):
//
//	magic "LETHEBK1"
//	chunk*: flag (1 byte: 1 on the last chunk, else 0)
//	        length (4 bytes, big endian, of the sealed chunk)
//	        AES-256-GCM seal of up to chunkSize plaintext bytes
//
// Each file has its own key, derived with HKDF-SHA256 from the backup key
// and the backup id and file name, so a chunk counter alone makes every
// nonce unique, and a file cannot be moved into another backup or under
// another name without failing to open. The nonce is the chunk counter
// (8 bytes) and the last-chunk flag: a file cut after any chunk, chunks
// reordered or a flag flipped fail authentication.
const (
	magic     = "LETHEBK1"
	chunkSize = 1 << 20
	gcmTag    = 16
)

// ErrCorrupt means a backup file does not match its manifest or does not
// open under its key: it was changed, cut short or belongs elsewhere.
var ErrCorrupt = errors.New("backup corrupt")

func fileAEAD(backupKey []byte, id, name string) (cipher.AEAD, error) {
	k, err := hkdf.Key(sha256.New, backupKey, nil, "lethe backup v1 "+id+" "+name, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func nonce(counter uint64, last bool) []byte {
	n := make([]byte, 12)
	binary.BigEndian.PutUint64(n, counter)
	if last {
		n[11] = 1
	}
	return n
}

// encrypt copies src to dst sealed, and returns the plaintext's size.
func encrypt(dst io.Writer, src io.Reader, aead cipher.AEAD, progress func(int64)) (int64, error) {
	if _, err := io.WriteString(dst, magic); err != nil {
		return 0, err
	}
	// Two buffers: the chunk being sealed and the one read ahead, which
	// tells whether the current chunk is the last.
	cur := make([]byte, chunkSize)
	next := make([]byte, chunkSize)
	n, err := io.ReadFull(src, cur)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return 0, err
	}
	var total int64
	sealed := make([]byte, 0, chunkSize+gcmTag)
	for counter := uint64(0); ; counter++ {
		m := 0
		last := n < chunkSize
		if !last {
			m, err = io.ReadFull(src, next)
			if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
				return total, err
			}
			last = m == 0
		}
		sealed = aead.Seal(sealed[:0], nonce(counter, last), cur[:n], nil)
		var hdr [5]byte
		if last {
			hdr[0] = 1
		}
		binary.BigEndian.PutUint32(hdr[1:], uint32(len(sealed)))
		if _, err := dst.Write(hdr[:]); err != nil {
			return total, err
		}
		if _, err := dst.Write(sealed); err != nil {
			return total, err
		}
		total += int64(n)
		if progress != nil {
			progress(int64(n))
		}
		if last {
			return total, nil
		}
		cur, next, n = next, cur, m
	}
}

// decrypt copies the plaintext of src to dst, failing with ErrCorrupt on
// any change to src, and returns the plaintext's size.
func decrypt(dst io.Writer, src io.Reader, aead cipher.AEAD, progress func(int64)) (int64, error) {
	head := make([]byte, len(magic))
	if _, err := io.ReadFull(src, head); err != nil || string(head) != magic {
		return 0, fmt.Errorf("%w: not a Lethe backup file", ErrCorrupt)
	}
	var total int64
	buf := make([]byte, chunkSize+gcmTag)
	plain := make([]byte, 0, chunkSize)
	for counter := uint64(0); ; counter++ {
		var hdr [5]byte
		if _, err := io.ReadFull(src, hdr[:]); err != nil {
			return total, fmt.Errorf("%w: cut short after %d bytes", ErrCorrupt, total)
		}
		size := binary.BigEndian.Uint32(hdr[1:])
		if hdr[0] > 1 || size < gcmTag || size > chunkSize+gcmTag {
			return total, fmt.Errorf("%w: bad chunk header", ErrCorrupt)
		}
		if _, err := io.ReadFull(src, buf[:size]); err != nil {
			return total, fmt.Errorf("%w: cut short after %d bytes", ErrCorrupt, total)
		}
		last := hdr[0] == 1
		var err error
		plain, err = aead.Open(plain[:0], nonce(counter, last), buf[:size], nil)
		if err != nil {
			return total, fmt.Errorf("%w: chunk %d does not open: %w", ErrCorrupt, counter, lethe.ErrCrypto)
		}
		if _, err := dst.Write(plain); err != nil {
			return total, err
		}
		total += int64(len(plain))
		if progress != nil {
			progress(int64(len(plain)))
		}
		if last {
			if n, _ := src.Read(buf[:1]); n > 0 {
				return total, fmt.Errorf("%w: bytes after the last chunk", ErrCorrupt)
			}
			return total, nil
		}
	}
}
