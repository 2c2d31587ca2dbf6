package keyring

import (
	"bytes"
	"errors"
	"testing"

	"github.com/lethe-privacy/lethe"
)

func TestNormalizeIn_ReadsNationalNumbersInTheRegion(t *testing.T) {
	tests := []struct {
		region, value, want string
	}{
		{"NL", "06 12345678", "+31612345678"},
		{"DE", "06 12345678", "+49612345678"},
		{"BE", "0470 12 34 56", "+32470123456"},
		{"NL", "+49 171 1234567", "+491711234567"}, // a country code wins over the region
		{"DE", "+31 6 12345678", "+31612345678"},
		{"NL", "+31612345678", "+31612345678"},
	}
	for _, tt := range tests {
		t.Run(tt.region+" "+tt.value, func(t *testing.T) {
			got, err := NormalizeIn(KindPhone, tt.value, tt.region)
			if err != nil || got != tt.want {
				t.Fatalf("NormalizeIn(%q, %s) = %q, %v; want %q", tt.value, tt.region, got, err, tt.want)
			}
		})
	}
	if got, _ := Normalize(KindPhone, "06 12345678"); got != "+49612345678" {
		t.Errorf("Normalize reads in %s: got %q", DefaultPhoneRegion, got)
	}
}

func TestCheckPhoneRegion(t *testing.T) {
	for _, r := range []string{"DE", "NL", "BE", "AT", "CH", "US"} {
		if err := CheckPhoneRegion(r); err != nil {
			t.Errorf("CheckPhoneRegion(%q) = %v", r, err)
		}
	}
	for _, r := range []string{"", "de", "XX", "DEU", "ZZ", "001"} {
		if err := CheckPhoneRegion(r); !errors.Is(err, lethe.ErrInvalid) {
			t.Errorf("CheckPhoneRegion(%q) = %v, want ErrInvalid", r, err)
		}
		if _, err := NormalizeIn(KindPhone, "+31612345678", r); !errors.Is(err, lethe.ErrInvalid) {
			t.Errorf("NormalizeIn in region %q = %v, want ErrInvalid", r, err)
		}
	}
}

// TestBlindIndex_FollowsTheTenantsPhoneRegion: the same digits index a
// different line in NL and in DE, and a number stored under one region is
// still found by its E.164 form after the region changed (stored hashes
// are never recomputed).
func TestBlindIndex_FollowsTheTenantsPhoneRegion(t *testing.T) {
	kr, _ := newTestKeyring(t, "acme")
	tk := tenantKeys(t, kr, "acme")
	if tk.PhoneRegion() != DefaultPhoneRegion {
		t.Fatalf("region of fresh keys = %s, want %s", tk.PhoneRegion(), DefaultPhoneRegion)
	}
	hash := func(v string) []byte {
		t.Helper()
		h, err := tk.BlindIndex(KindPhone, v)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	de := hash("06 12345678")
	if err := tk.SetPhoneRegion("NL"); err != nil {
		t.Fatal(err)
	}
	nl := hash("06 12345678")
	if bytes.Equal(de, nl) {
		t.Fatal("06 12345678 hashes the same in DE and NL")
	}
	if !bytes.Equal(nl, hash("+31612345678")) {
		t.Error("in NL, 06 12345678 is not +31612345678")
	}
	if !bytes.Equal(de, hash("+49612345678")) {
		t.Error("after the move to NL, the number stored under DE is not found by its E.164 form")
	}
	if err := tk.SetPhoneRegion("XX"); !errors.Is(err, lethe.ErrInvalid) || tk.PhoneRegion() != "NL" {
		t.Errorf("SetPhoneRegion(XX) = %v, region now %s; want ErrInvalid and NL kept", err, tk.PhoneRegion())
	}
}
