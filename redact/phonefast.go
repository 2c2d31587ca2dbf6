package redact

import (
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// phoneNumber reads the number a candidate stands for from its digits,
// without phonenumbers.Parse. Parse runs a dozen regular expressions per
// call (extensions, viability, punctuation) that the scanner has made
// moot: a candidate is digits with separators, starting with +, 00 or the
// region's trunk prefix. It returns the country calling code and the
// national significant number, written into buf; false: no country code
// fits. Validity is still libphonenumber's metadata (phonerules.go).
func (a *Analyzer) phoneNumber(raw string, intl bool, buf []byte) (int, []byte, bool) {
	d := buf[:0]
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; isDigit(c) {
			d = append(d, c)
		}
	}
	var cc int
	if intl {
		if strings.HasPrefix(raw, "00") {
			d = d[2:]
		}
		// Country calling codes are prefix-free: at most one of the
		// first one, two or three digits is one.
		found := false
		for l := 1; l <= 3 && l < len(d); l++ {
			c := atoi(d[:l])
			if a.rules.knownCode(c) {
				cc, d, found = c, d[l:], true
				break
			}
		}
		if !found {
			return 0, nil, false
		}
		// "+49 (0) 160 ...": the trunk prefix written after the country
		// code is not part of the number, where the country has one.
		if len(d) > 1 && d[0] == '0' {
			if p := phonenumbers.GetNddPrefixForRegion(a.rules.mainRegion(cc), true); p == "0" && a.rules.valid(cc, d[1:]) {
				return cc, d[1:], true
			}
		}
	} else {
		cc = a.cc
		if a.ndd != "" && len(d) > len(a.ndd) && string(d[:len(a.ndd)]) == a.ndd {
			d = d[len(a.ndd):]
		}
	}
	if len(d) == 0 || len(d) > 17 {
		return 0, nil, false
	}
	return cc, d, true
}

// build makes a PhoneNumber of a country code and national digits; leading
// zeros that remain (Italy's) are kept as libphonenumber keeps them.
func build(cc int, d []byte) *phonenumbers.PhoneNumber {
	c := int32(cc)
	n := uint64(0)
	for _, x := range d {
		n = n*10 + uint64(x-'0')
	}
	num := &phonenumbers.PhoneNumber{CountryCode: &c, NationalNumber: &n}
	if len(d) > 1 && d[0] == '0' {
		t := true
		z := int32(0)
		for z < int32(len(d))-1 && d[z] == '0' {
			z++
		}
		num.ItalianLeadingZero = &t
		num.NumberOfLeadingZeros = &z
	}
	return num
}

func atoi(d []byte) int {
	n := 0
	for _, x := range d {
		n = n*10 + int(x-'0')
	}
	return n
}

// validPhone is phonenumbers.IsValidNumber, which first looks up the
// region of the number's country code among all regions: a number written
// without a country code belongs to the tenant's region, so that region is
// asked first, and the lookup runs only when it says no and its code is
// shared (GB with Jersey and Guernsey, US with Canada).
func (a *Analyzer) validPhone(cc int, nsn []byte, intl bool) bool {
	if a.libraryPhone {
		num := build(cc, nsn)
		if intl {
			return phonenumbers.IsValidNumber(num)
		}
		return phonenumbers.IsValidNumberForRegion(num, a.region) ||
			len(phonenumbers.GetRegionCodesForCountryCode(cc)) > 1 && phonenumbers.IsValidNumber(num)
	}
	if intl {
		return a.rules.valid(cc, nsn)
	}
	if a.rules.validForRegion(cc, nsn, a.region) {
		return true
	}
	return len(a.rules.byCode[cc]) > 1 && a.rules.valid(cc, nsn)
}
