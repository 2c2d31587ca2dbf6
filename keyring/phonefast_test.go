package keyring

import (
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

// TestE164Fast_AgreesWithParse: whenever the fast path answers, the
// general path (phonenumbers.Parse in every region the tenants may use)
// gives the same E.164 form. Numbers are drawn for every calling code,
// at every national length, starting with every digit, and the fast path
// must answer for a good share of them (most lengths are impossible in
// a given country, so not for most).
func TestE164Fast_AgreesWithParse(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 2026))
	fast, total := 0, 0
	for cc := range phonenumbers.GetSupportedCallingCodes() {
		for length := 3; length <= 15; length++ {
			for first := '0'; first <= '9'; first++ {
				for range 3 {
					b := []byte("+" + strconv.Itoa(cc) + string(first))
					for range length - 1 {
						b = append(b, byte('0'+rng.IntN(10)))
					}
					s := string(b)
					total++
					got, ok := e164Fast(s)
					if !ok {
						continue
					}
					fast++
					for _, region := range []string{"DE", "US", "BE", "IT"} {
						want, err := parsePhone(s, region)
						if err != nil || want != got {
							t.Fatalf("%s in %s: fast path %q, Parse %q (%v)", s, region, got, want, err)
						}
					}
				}
			}
		}
	}
	if fast < total/10 {
		t.Errorf("fast path answered %d of %d numbers", fast, total)
	}
}

// TestE164Fast_LeavesTheRestToParse: input the fast path must not
// answer (ok false), so that Parse decides.
func TestE164Fast_LeavesTheRestToParse(t *testing.T) {
	for _, s := range []string{
		"+49 151 12345678", // spaces
		"004915112345678",  // international prefix
		"015112345678",     // national
		"+49015112345678",  // national prefix after the country code
		"+390612345678",    // Italian leading zero
		"+4915112345678x1", // extension
		"+0123456789",      // no calling code starts with 0
		"+491",             // too short
		"+12345678901234567",
	} {
		if got, ok := e164Fast(s); ok {
			t.Errorf("e164Fast(%q) = %q, want the general path", s, got)
		}
	}
	for _, s := range []string{"+4915112345678", "+12025550100", "+3225551234"} {
		if _, ok := e164Fast(s); !ok {
			t.Errorf("e164Fast(%q) left it to Parse; want the fast path", s)
		}
	}
}

// BenchmarkNormalizePhone compares the fast path with the general one on
// the same E.164 number, in one run.
func BenchmarkNormalizePhone(b *testing.B) {
	const s = "+4915112345678"
	b.Run("general", func(b *testing.B) {
		for b.Loop() {
			if _, err := parsePhone(s, "DE"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("e164", func(b *testing.B) {
		for b.Loop() {
			if _, err := normalizePhone(s, "DE"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
