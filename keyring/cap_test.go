package keyring

import (
	"context"
	"sync"
	"testing"
)

// With a tiny cap, 100k seals from several goroutines rotate again and
// again: no key seals more than the cap, no nonce repeats, and every
// envelope still opens (RELIABILITY.md, test 9).
func TestSeal_RotatesAtTheCapUnderConcurrency(t *testing.T) {
	const (
		capPerKey  = 1000
		goroutines = 8
		perG       = 12_500
	)
	kr, store := newTestKeyring(t, "acme")
	kr.MaxSealsPerKey = capPerKey
	tk := tenantKeys(t, kr, "acme")

	envs := make([][][]byte, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range perG {
				ad := adA
				ad.Record = string(rune('a' + g))
				env, err := tk.Seal([]byte{byte(i)}, ad)
				if err != nil {
					t.Error(err)
					return
				}
				envs[g] = append(envs[g], env)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	nonces := make(map[[nonceSize]byte]bool, goroutines*perG)
	perVersion := make(map[uint32]int)
	for g, list := range envs {
		ad := adA
		ad.Record = string(rune('a' + g))
		for i, env := range list {
			var n [nonceSize]byte
			copy(n[:], env[headerSize:])
			if nonces[n] {
				t.Fatalf("nonce %x repeated", n)
			}
			nonces[n] = true
			v, _ := KeyVersion(env)
			perVersion[v]++
			pt, err := tk.Open(env, ad)
			if err != nil || len(pt) != 1 || pt[0] != byte(i) {
				t.Fatalf("envelope %d of goroutine %d: %v", i, g, err)
			}
		}
	}
	total := goroutines * perG
	if len(nonces) != total {
		t.Fatalf("%d nonces, want %d", len(nonces), total)
	}
	for v, n := range perVersion {
		if n > capPerKey {
			t.Errorf("key v%d sealed %d times, cap is %d", v, n, capPerKey)
		}
	}
	if want := total / capPerKey; len(perVersion) != want {
		t.Errorf("%d key versions used, want %d", len(perVersion), want)
	}
	keys, _ := store.Keys(context.Background(), "acme")
	if got := len(keys) - 2; got != total/capPerKey {
		t.Errorf("store holds %d data keys, want %d", got, total/capPerKey)
	}
	// Every envelope also opens in a new process that starts from the store.
	restarted := tenantKeys(t, New(store, testKEK(t, 1)), "acme")
	if _, err := restarted.Open(envs[0][0], AD{"acme", "orders", "a", "email"}); err != nil {
		t.Fatal(err)
	}
}
