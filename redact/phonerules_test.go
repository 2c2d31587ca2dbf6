package redact

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
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

// analyzeBoth runs the analyzer with the compiled phone rules and with the
// library's IsValidNumber and fails when their findings differ.
func analyzeBoth(t *testing.T, fast, slow *Analyzer, s string) {
	t.Helper()
	if f, l := fast.Analyze(s), slow.Analyze(s); !slices.Equal(f, l) {
		t.Errorf("%q:\n compiled rules %+v\n library        %+v", s, f, l)
	}
}

func bothAnalyzers(tb testing.TB, region string) (*Analyzer, *Analyzer) {
	fast, err := New(Options{Region: region})
	if err != nil {
		tb.Fatal(err)
	}
	slow, _ := New(Options{Region: region})
	slow.libraryPhone = true
	return fast, slow
}

// Every evaluation message, read in each region the tests use, gives the
// same findings with the compiled rules as with the library.
func TestPhoneRules_SameFindingsOnTestdata(t *testing.T) {
	msgs := evalLines(t)
	for _, region := range []string{"DE", "NL", "BE", "GB", "US", "IT"} {
		fast, slow := bothAnalyzers(t, region)
		n := 0
		for _, m := range msgs {
			analyzeBoth(t, fast, slow, m)
			for _, f := range fast.Analyze(m) {
				if f.Type == Phone {
					n++
				}
			}
		}
		if n == 0 {
			t.Errorf("%s: no phone found in the evaluation sets; the comparison is empty", region)
		}
	}
}

// FuzzPhoneFindings: any text gives the same findings with the compiled
// rules as with the library.
func FuzzPhoneFindings(f *testing.F) {
	for _, m := range evalLines(f) {
		f.Add(m)
	}
	fast, slow := bothAnalyzers(f, "DE")
	f.Fuzz(func(t *testing.T, s string) { analyzeBoth(t, fast, slow, s) })
}

func evalLines(tb testing.TB) []string {
	files, _ := filepath.Glob("testdata/eval/*.txt")
	if len(files) == 0 {
		tb.Fatal("no evaluation sets")
	}
	var out []string
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, strings.Split(string(b), "\n")...)
	}
	return out
}

// Analyzers of one process share the rules and compile a region on first
// use; concurrent first uses must be safe (go test -race).
func TestPhoneRules_ConcurrentFirstUse(t *testing.T) {
	msgs := evalLines(t)
	done := make(chan []Finding)
	for _, region := range []string{"FR", "FR", "ES", "ES"} {
		go func() {
			a, err := New(Options{Region: region})
			if err != nil {
				t.Error(err)
			}
			var all []Finding
			for _, m := range msgs {
				all = append(all, a.Analyze(m+" +33 1 42 68 53 00 +34 912 345 678")...)
			}
			done <- all
		}()
	}
	var got [][]Finding
	for range 4 {
		got = append(got, <-done)
	}
	phones := 0
	for _, f := range got[0] {
		if f.Type == Phone {
			phones++
		}
	}
	if phones < len(msgs) {
		t.Errorf("%d phones in %d messages that each end in two valid numbers", phones, len(msgs))
	}
}
