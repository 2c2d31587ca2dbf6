package redact

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

// TestChecksums runs the check-digit vectors of testdata/checksums.txt:
// published valid numbers and one-digit alterations of them.
func TestChecksums(t *testing.T) {
	f, err := os.Open("testdata/checksums.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || l[0] == '#' {
			continue
		}
		var kind, value, want string
		parts := strings.Fields(l)
		if len(parts) != 3 {
			t.Fatalf("bad line %q", l)
		}
		kind, value, want = parts[0], parts[1], parts[2]
		v := []byte(value)
		var got bool
		switch kind {
		case "taxid":
			got = deTaxID(v)
		case "iban":
			got = ibanValid(v)
		case "card":
			got = luhn(v) && cardPrefix(v)
		case "be":
			got = beNationalNumber(v)
		case "ssn":
			got = len(v) == 12 && isAlpha(v[8]) && deSocialSecurity(v[:8], v[8], v[9:])
		default:
			t.Fatalf("unknown kind %q", kind)
		}
		if got != (want == "true") {
			t.Errorf("%s %s: valid = %v, want %s", kind, value, got, want)
		}
		n++
	}
	if n < 30 {
		t.Fatalf("only %d vectors read", n)
	}
}

// TestAnalyze_FindsEachEntityWithItsRecognizer checks one sentence per
// entity: the type, the exact span and the recognizer.
func TestAnalyze_FindsEachEntityWithItsRecognizer(t *testing.T) {
	a, err := New(Options{Region: "DE"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		text, value string
		typ         Entity
		recognizer  string
	}{
		{"Mail: erika@example.com.", "erika@example.com", Email, "email"},
		{"Handy 0151 23456789 bitte", "0151 23456789", Phone, "phone_de"},
		{"IBAN DE89 3704 0044 0532 0130 00 BIC COBADEFFXXX", "DE89 3704 0044 0532 0130 00", IBAN, "iban_mod97"},
		{"Karte 4111 1111 1111 1111, Ablauf 12/27", "4111 1111 1111 1111", CreditCard, "credit_card_luhn"},
		{"von 203.0.113.9:443 aus", "203.0.113.9", IPAddress, "ipv4"},
		{"host 2001:db8::1.", "2001:db8::1", IPAddress, "ipv6"},
		{"siehe https://example.com/a?b=c).", "https://example.com/a?b=c", URL, "url"},
		{"Steuer-ID 86095742719.", "86095742719", DETaxID, "de_tax_id"},
		{"SVNR 65 170839 J 003!", "65 170839 J 003", DESocialSecurity, "de_social_security"},
		{"RRN 85.07.30-276.76", "85.07.30-276.76", BENationalNumber, "be_national_number"},
		{"geboren am 12.03.1985 in Bonn", "12.03.1985", DateOfBirth, "date_of_birth_context"},
		{"Ich wohne Hauptstraße 5, 10115 Berlin.", "Hauptstraße 5, 10115 Berlin", Address, "address_street"},
		{"Ich heiße Erika Mustermann.", "Erika Mustermann", Person, "person_context"},
		{"Sehr geehrter Herr Dr. Weber,", "Weber", Person, "person_salutation"},
	}
	for _, tt := range tests {
		fs := a.Analyze(tt.text)
		if len(fs) != 1 {
			t.Errorf("%q: %d findings %v, want one %s", tt.text, len(fs), fs, tt.typ)
			continue
		}
		f := fs[0]
		if got := tt.text[f.Start:f.End]; got != tt.value || f.Type != tt.typ || f.Recognizer != tt.recognizer {
			t.Errorf("%q: %s %q by %s, want %s %q by %s", tt.text, f.Type, got, f.Recognizer, tt.typ, tt.value, tt.recognizer)
		}
		if f.Score < DefaultMinScore || f.Score > 1 {
			t.Errorf("%q: score %v", tt.text, f.Score)
		}
	}
}

// TestAnalyze_RegionDecidesNationalNumbers: the same digits are a
// Belgian mobile number for a Belgian tenant and no number in the
// Netherlands.
func TestAnalyze_RegionDecidesNationalNumbers(t *testing.T) {
	text := "contact: 0470 12 34 56"
	be, _ := New(Options{Region: "BE"})
	nl, _ := New(Options{Region: "nl"})
	if fs := be.Analyze(text); len(fs) != 1 || fs[0].Type != Phone {
		t.Errorf("BE: %v, want a phone", fs)
	}
	if fs := nl.Analyze(text); len(fs) != 0 {
		t.Errorf("NL: %v, want nothing", fs)
	}
	if _, err := New(Options{Region: "XX"}); err == nil {
		t.Error("region XX accepted")
	}
	if _, err := New(Options{Entities: []Entity{"SHOE_SIZE"}}); err == nil {
		t.Error("unknown entity accepted")
	}
}

// TestAnalyze_EntitiesRestrict: an analyzer for e-mail alone reports
// nothing else.
func TestAnalyze_EntitiesRestrict(t *testing.T) {
	a, _ := New(Options{Entities: []Entity{Email}})
	fs := a.Analyze("Ich heiße Erika, erika@example.com, 0151 23456789")
	if len(fs) != 1 || fs[0].Type != Email {
		t.Fatalf("got %v", fs)
	}
}
