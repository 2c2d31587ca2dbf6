package keyring

import (
	"bytes"
	"errors"
	"testing"

	"github.com/lethe-privacy/lethe"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		name, kind, value string
		want              string // "" means: must fail with ErrInvalid
	}{
		{"email as typed", KindEmail, "max.mustermann@example.de", "max.mustermann@example.de"},
		{"email upper case", KindEmail, "Max.Mustermann@Example.DE", "max.mustermann@example.de"},
		{"email with spaces around", KindEmail, "  MAX.MUSTERMANN@EXAMPLE.DE \t\n", "max.mustermann@example.de"},
		{"email umlaut domain lower-cased", KindEmail, "Jörg@Müller.DE", "jörg@müller.de"},
		{"email without @", KindEmail, "max.example.de", ""},
		{"email with two @", KindEmail, "max@mustermann@example.de", ""},
		{"email without local part", KindEmail, "@example.de", ""},
		{"email without domain", KindEmail, "max@", ""},
		{"email with inner space", KindEmail, "max mustermann@example.de", ""},
		{"email empty", KindEmail, "", ""},
		{"email spaces only", KindEmail, "   ", ""},

		{"phone national", KindPhone, "0171 1234567", "+491711234567"},
		{"phone international", KindPhone, "+49 171 1234567", "+491711234567"},
		{"phone with (0)", KindPhone, "+49 (0)171 1234567", "+491711234567"},
		{"phone with 0049", KindPhone, "0049 171 1234567", "+491711234567"},
		{"phone with slash", KindPhone, "0171/1234567", "+491711234567"},
		{"phone with dashes", KindPhone, "+49-171-1234567", "+491711234567"},
		{"phone grouped in pairs", KindPhone, "(0171) 123 45 67", "+491711234567"},
		{"phone landline Berlin", KindPhone, "030 12345678", "+493012345678"},
		{"phone other country", KindPhone, "+1 202 555 0100", "+12025550100"},
		{"phone letters", KindPhone, "call me", ""},
		{"phone too long", KindPhone, "+49 171 12345678901234", ""},
		{"phone local only", KindPhone, "12", ""},
		{"phone country code only", KindPhone, "+49", ""},
		{"phone empty", KindPhone, " ", ""},

		{"ipv4", KindIP, " 192.0.2.10 ", "192.0.2.10"},
		{"ipv6 upper case and long", KindIP, "2001:DB8:0:0:0:0:0:1", "2001:db8::1"},
		{"ipv4-mapped ipv6", KindIP, "::ffff:192.0.2.10", "192.0.2.10"},
		{"ipv6 with zone", KindIP, "fe80::1%eth0", "fe80::1"},
		{"ip not an address", KindIP, "192.0.2", ""},
		{"ip host name", KindIP, "example.com", ""},

		{"other kind trimmed", "customer_id", "  K-1001  ", "K-1001"},
		{"other kind inner space collapsed", "postal_address", "Hauptstr.  1\n 10115   Berlin", "Hauptstr. 1 10115 Berlin"},
		{"other kind keeps case", "voucher_code", "AbC-123", "AbC-123"},
		{"other kind empty", "device_id", " \t ", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Normalize(tt.kind, tt.value)
			if tt.want == "" {
				if !errors.Is(err, lethe.ErrInvalid) {
					t.Fatalf("Normalize(%q, %q) = %q, %v; want ErrInvalid", tt.kind, tt.value, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Normalize(%q, %q) = %q, %v; want %q", tt.kind, tt.value, got, err, tt.want)
			}
		})
	}
}

func TestBlindIndex_SameSubjectInAnySpellingMatches(t *testing.T) {
	kr, _ := newTestKeyring(t, "acme")
	tk := tenantKeys(t, kr, "acme")
	tests := []struct {
		kind      string
		spellings []string
	}{
		{KindEmail, []string{"max@example.de", "MAX@EXAMPLE.DE", " Max@Example.de "}},
		{KindPhone, []string{"0171 1234567", "+49 171 1234567", "0049-171-1234567", "(0171) 123 45 67"}},
		{"customer_id", []string{"K-1001", " K-1001\t"}},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			first, err := tk.BlindIndex(tt.kind, tt.spellings[0])
			if err != nil {
				t.Fatal(err)
			}
			if len(first) != BlindIndexSize {
				t.Fatalf("hash is %d bytes, want %d", len(first), BlindIndexSize)
			}
			for _, s := range tt.spellings[1:] {
				got, err := tk.BlindIndex(tt.kind, s)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, first) {
					t.Errorf("%q hashes to %x, %q to %x", s, got, tt.spellings[0], first)
				}
			}
		})
	}
}

func TestBlindIndex_DiffersAcrossTenantsKindsAndValues(t *testing.T) {
	kr, _ := newTestKeyring(t, "acme", "globex")
	acme, globex := tenantKeys(t, kr, "acme"), tenantKeys(t, kr, "globex")
	hash := func(tk *TenantKeys, kind, value string) []byte {
		t.Helper()
		h, err := tk.BlindIndex(kind, value)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	base := hash(acme, KindEmail, "max@example.de")
	tests := []struct {
		name  string
		other []byte
	}{
		{"other tenant", hash(globex, KindEmail, "max@example.de")},
		{"other kind", hash(acme, "customer_id", "max@example.de")},
		{"other value", hash(acme, KindEmail, "moritz@example.de")},
		// kind||0x00||value: shifting bytes between kind and value differs.
		{"kind/value boundary", hash(acme, "emai", "lmax@example.de")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if bytes.Equal(tt.other, base) {
				t.Fatalf("hash equals the base hash %x", base)
			}
		})
	}
}

func TestBlindIndex_RefusesBadInput(t *testing.T) {
	kr, _ := newTestKeyring(t, "acme")
	tk := tenantKeys(t, kr, "acme")
	tests := []struct{ name, kind, value string }{
		{"empty kind", "", "x"},
		{"NUL in kind", "e\x00mail", "x"},
		{"empty value", KindEmail, " "},
		{"bad phone", KindPhone, "not a number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tk.BlindIndex(tt.kind, tt.value); !errors.Is(err, lethe.ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
	}
}
