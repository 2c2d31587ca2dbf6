package keyring

import (
	"strconv"
	"sync"

	"github.com/nyaruka/phonenumbers"
)

// A phone number that arrives already in E.164 ("+4915112345678", as
// forms with a country picker and most APIs send it) needs none of what
// phonenumbers.Parse does for free text: no extension to strip, no
// international dialling prefix, no punctuation. Yet Parse runs its
// regular expressions for all of that, about 20 µs a number here, which
// was a third of the CPU of storing a prize draw entry and more than the
// sealing of its fields. e164Fast reads such a number directly, and only
// when Parse could not read it differently: the country code is found
// the way Parse finds it (the shortest prefix that is a calling code),
// and the number is refused (left to Parse) when the national part
// starts with 0 or with the region's national prefix, the two cases where
// Parse would strip or keep leading digits by the region's rules. What
// remains is the possible-length check, which is the same call either
// way. TestE164Fast_AgreesWithParse holds the two paths together for every
// calling code.

// nationalPrefixes maps each calling code to the national prefix its
// main region strips when parsing ("" when it strips none), or marks it
// unusable for the fast path (ok false) when that prefix is a pattern
// rather than plain digits or comes with a transform rule.
type nationalPrefix struct {
	digits string
	ok     bool
}

var (
	prefixesOnce sync.Once
	prefixes     map[int]nationalPrefix
)

// callingCodePrefixes builds the table once from the library's metadata
// (the collection its own init parsed; only read here).
func callingCodePrefixes() map[int]nationalPrefix {
	prefixesOnce.Do(func() {
		prefixes = map[int]nationalPrefix{}
		coll, err := phonenumbers.MetadataCollection()
		if err != nil {
			return // every number then takes the slow path
		}
		for _, md := range coll.GetMetadata() {
			cc := int(md.GetCountryCode())
			main := phonenumbers.GetRegionCodeForCountryCode(cc)
			if md.GetId() != main {
				continue // the code's other regions: Parse uses the main one
			}
			p := md.GetNationalPrefixForParsing()
			prefixes[cc] = nationalPrefix{digits: p, ok: allDigits(p) && md.GetNationalPrefixTransformRule() == ""}
		}
	})
	return prefixes
}

// e164Fast returns s as its own E.164 form when s is "+" and digits that
// Parse would read as written and that are a possible number; ok false
// means "ask Parse", never "invalid".
func e164Fast(s string) (string, bool) {
	// "+", a calling code of 1-3 digits, a national number of 4-14.
	if len(s) < 6 || len(s) > 16 || s[0] != '+' || s[1] == '0' || !allDigits(s[1:]) {
		return "", false
	}
	table := callingCodePrefixes()
	for i := 2; i <= 4; i++ {
		cc, _ := strconv.Atoi(s[1:i])
		np, found := table[cc]
		if !found {
			if phonenumbers.GetRegionCodeForCountryCode(cc) != "ZZ" {
				return "", false // a code the table does not describe
			}
			continue
		}
		national := s[i:]
		if len(national) < 4 || national[0] == '0' || !np.ok ||
			(np.digits != "" && len(national) >= len(np.digits) && national[:len(np.digits)] == np.digits) {
			return "", false
		}
		n, err := strconv.ParseUint(national, 10, 64)
		if err != nil {
			return "", false
		}
		cc32 := int32(cc)
		num := &phonenumbers.PhoneNumber{CountryCode: &cc32, NationalNumber: &n}
		if phonenumbers.IsPossibleNumberWithReason(num) != phonenumbers.IS_POSSIBLE {
			return "", false
		}
		return s, true
	}
	return "", false
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
