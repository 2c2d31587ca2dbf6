package redact

import (
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

// phoneNumber must agree with phonenumbers.Parse on every candidate the
// scanner hands it: same validity, same E.164 form. The candidates are
// those of the evaluation sets and the shapes around them.
func TestPhoneNumber_AgreesWithParse(t *testing.T) {
	cands := map[string][]string{
		"DE": {"01761234567", "0171/987 65 43", "+49 (0) 160 98765432", "0049 152 12345678", "+49-30-901820", "0157 87654321",
			"0151 - 234 567 89", "(030) 12 34 56 78", "0800 330 4444", "0221 1234567", "089/1234567", "+49 (0)40 3012345",
			"0049 1234 5678", "0049 1234", "+1 650 253 0000", "+39 06 698 81", "+39 347 123 4567", "0612345678", "0123", "00491511234567",
			"+44 20 7946 0123", "+32 470 12 34 56", "+999 1234567", "+0 1234567", "+49 0 30 12345678", "0030 12345"},
		"GB": {"01534 123456", "07700 900 123", "07700900123", "+44 (0)20 7946 0018", "0161 496 0000", "0161 496", "07911 123456", "0207 946 0123", "0800 123 4567", "020 7946 0958"},
		"NL": {"0612345678", "+31 (0)20 123 4567", "06 12345678", "+31 6 12345678", "020 123 4567", "06-87654321"},
		"BE": {"+32 2 555 12 34", "0470 98 76 54", "0485 12 34 56", "+32 478 65 43 21", "09 234 56 78"},
		"IT": {"06 698 81", "347 123 4567", "+39 06 698 81"},
		"US": {"650 253 0000", "+1 650 253 0000", "416 555 0123"},
	}
	for region, list := range cands {
		a, err := New(Options{Region: region})
		if err != nil {
			t.Fatal(err)
		}
		for _, raw := range list {
			intl := strings.HasPrefix(raw, "+") || strings.HasPrefix(raw, "00")
			if !intl && a.ndd != "" && !strings.HasPrefix(strings.TrimPrefix(raw, "("), a.ndd) {
				continue // the scanner never asks
			}
			want, err := phonenumbers.Parse(raw, region)
			wantValid := err == nil && phonenumbers.IsValidNumber(want)
			var buf [64]byte
			cc, nsn, ok := a.phoneNumber(raw, intl, buf[:])
			gotValid := ok && a.validPhone(cc, nsn, intl)
			if gotValid != wantValid {
				t.Errorf("%s %q: valid %v, Parse says %v", region, raw, gotValid, wantValid)
				continue
			}
			if wantValid {
				if g, w := phonenumbers.Format(build(cc, nsn), phonenumbers.E164), phonenumbers.Format(want, phonenumbers.E164); g != w {
					t.Errorf("%s %q: %s, Parse gives %s", region, raw, g, w)
				}
			}
		}
	}
}
