package redact

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

// checkRules compares the compiled rules with the library on one number:
// IsValidNumber, and IsValidNumberForRegion for every region of its code.
func checkRules(t *testing.T, p *phoneRules, cc int, nsn []byte) {
	t.Helper()
	num := build(cc, nsn)
	if got, want := p.valid(cc, nsn), phonenumbers.IsValidNumber(num); got != want {
		t.Errorf("+%d %s: valid %v, IsValidNumber %v", cc, nsn, got, want)
	}
	for _, r := range p.byCode[cc] {
		if got, want := p.validForRegion(cc, nsn, r), phonenumbers.IsValidNumberForRegion(num, r); got != want {
			t.Errorf("+%d %s in %s: valid %v, IsValidNumberForRegion %v", cc, nsn, r, got, want)
		}
	}
}

// The compiled rules must give the library's answer in every region: on
// the metadata's example numbers (valid ones), the same with one digit
// changed, added or dropped (mostly invalid), and random digits.
func TestPhoneRules_AgreeWithLibrary(t *testing.T) {
	p := loadPhoneRules()
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(17, 1))
	valid := 0
	for _, m := range coll.GetMetadata() {
		cc := int(m.GetCountryCode())
		descs := []*phonenumbers.PhoneNumberDesc{m.GetGeneralDesc(), m.GetFixedLine(), m.GetMobile(), m.GetTollFree(), m.GetPremiumRate(),
			m.GetSharedCost(), m.GetVoip(), m.GetPersonalNumber(), m.GetPager(), m.GetUan(), m.GetVoicemail()}
		for _, d := range descs {
			ex := []byte(d.GetExampleNumber())
			if len(ex) == 0 {
				continue
			}
			if p.valid(cc, ex) {
				valid++
			}
			checkRules(t, p, cc, ex)
			k := rng.IntN(len(ex))
			changed := slices.Clone(ex)
			changed[k] = '0' + (changed[k]-'0'+1)%10
			checkRules(t, p, cc, changed)
			checkRules(t, p, cc, append(slices.Clone(ex), '5'))
			if len(ex) > 1 {
				checkRules(t, p, cc, ex[:len(ex)-1])
			}
		}
		for range 20 {
			nsn := make([]byte, 2+rng.IntN(16))
			for i := range nsn {
				nsn[i] = '0' + byte(rng.IntN(10))
			}
			checkRules(t, p, cc, nsn)
		}
	}
	if valid < 500 {
		t.Fatalf("only %d example numbers valid: the comparison saw too few valid numbers", valid)
	}
	if p.valid(0, []byte("1234567")) || p.valid(999, []byte("1234567")) {
		t.Fatal("unknown calling codes must not be valid")
	}
}

// FuzzPhoneRules compares the compiled rules with the library on any
// calling code and digits.
func FuzzPhoneRules(f *testing.F) {
	for _, s := range []struct {
		cc  int
		nsn string
	}{{49, "1761234567"}, {44, "7700900123"}, {44, "1534123456"}, {1, "6502530000"}, {1, "4165550123"}, {39, "0669881"}, {800, "12345678"}, {32, "470123456"}, {31, "612345678"}, {7, "9123456789"}} {
		f.Add(s.cc, s.nsn)
	}
	p := loadPhoneRules()
	f.Fuzz(func(t *testing.T, cc int, s string) {
		if cc < 0 || cc > 999 {
			return
		}
		var nsn []byte
		for i := 0; i < len(s) && len(nsn) < 17; i++ {
			if isDigit(s[i]) {
				nsn = append(nsn, s[i])
			}
		}
		if len(nsn) == 0 {
			return
		}
		checkRules(t, p, cc, nsn)
	})
}
