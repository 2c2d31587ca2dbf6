package redact

import (
	"regexp"
	"slices"
	"sync"

	"github.com/nyaruka/phonenumbers"
)

// phonenumbers.IsValidNumber decides validity from the metadata's number
// descriptions (general, fixed line, mobile, toll free, ...): a number is
// valid when its national significant number has a possible length and
// matches the pattern of the general description and of one of the
// types. The library answers that right, but slowly for a scanner: for
// every description it builds the pattern string anew, looks it up in a
// map behind a lock and runs the same expression twice. That was three
// quarters of a phone candidate's cost and half the structured
// recognizers' time. The rules below are the same descriptions, read
// from the library's own metadata (never a table kept by hand), compiled
// once, checked length first and the expression once. Tests hold the
// answer to IsValidNumber and IsValidNumberForRegion on the evaluation
// candidates and on fuzzed digits in every region.

// phoneDesc is one number description: the possible lengths of the
// national significant number (none: any) and its anchored pattern.
type phoneDesc struct {
	lengths []int32
	re      *regexp.Regexp
}

func (d phoneDesc) match(nsn []byte) bool {
	if len(d.lengths) > 0 && !slices.Contains(d.lengths, int32(len(nsn))) {
		return false
	}
	return d.re.Match(nsn)
}

// regionRules are one region's (or one non-geographic calling code's)
// descriptions: the general one, the types in the order the library tries
// them (the answer is the same in any order; a number is valid when one
// matches), and the leading digits that pick the region among those that
// share a calling code.
type regionRules struct {
	countryCode int
	general     phoneDesc
	types       []phoneDesc
	leading     *regexp.Regexp // nil: none in the metadata
}

func compileDesc(d *phonenumbers.PhoneNumberDesc) phoneDesc {
	return phoneDesc{
		lengths: d.GetPossibleLength(),
		re:      regexp.MustCompile("^(?:" + d.GetNationalNumberPattern() + ")$"),
	}
}

func compileRules(m *phonenumbers.PhoneMetadata) *regionRules {
	r := &regionRules{countryCode: int(m.GetCountryCode()), general: compileDesc(m.GetGeneralDesc())}
	// Fixed line and mobile first: they are what people write.
	descs := []*phonenumbers.PhoneNumberDesc{m.GetFixedLine()}
	if !m.GetSameMobileAndFixedLinePattern() {
		descs = append(descs, m.GetMobile())
	}
	descs = append(descs, m.GetTollFree(), m.GetPremiumRate(), m.GetSharedCost(), m.GetVoip(),
		m.GetPersonalNumber(), m.GetPager(), m.GetUan(), m.GetVoicemail())
	for _, d := range descs {
		r.types = append(r.types, compileDesc(d))
	}
	if ld := m.GetLeadingDigits(); ld != "" {
		r.leading = regexp.MustCompile("^(?:" + ld + ")")
	}
	return r
}

// valid is the library's getNumberTypeHelper(nsn) != UNKNOWN.
func (r *regionRules) valid(nsn []byte) bool {
	if r == nil || !r.general.match(nsn) {
		return false
	}
	for _, d := range r.types {
		if d.match(nsn) {
			return true
		}
	}
	return false
}

// phoneRules holds the rules of every region and calling code. Each
// region is compiled on first use, because most text only ever meets a
// handful of them; once compiled a region's rules never change, so the
// table is shared by every analyzer of the process like the library's own
// metadata.
type phoneRules struct {
	regions map[string]func() *regionRules // by region code
	nonGeo  map[int]func() *regionRules    // by calling code ("001" regions)
	byCode  map[int][]string               // calling code -> regions, main first
}

var loadPhoneRules = sync.OnceValue(func() *phoneRules {
	p := &phoneRules{regions: map[string]func() *regionRules{}, nonGeo: map[int]func() *regionRules{}, byCode: map[int][]string{}}
	// The library loads its metadata collection at init; this call reads
	// the same parsed collection back.
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		panic(err) // the embedded metadata is part of the build
	}
	for _, m := range coll.GetMetadata() {
		compile := sync.OnceValue(func() *regionRules { return compileRules(m) })
		if m.GetId() == "001" {
			p.nonGeo[int(m.GetCountryCode())] = compile
		} else {
			p.regions[m.GetId()] = compile
		}
	}
	for cc := range phonenumbers.GetSupportedCallingCodes() {
		p.byCode[cc] = phonenumbers.GetRegionCodesForCountryCode(cc)
	}
	return p
})

func (p *phoneRules) region(code string) *regionRules {
	if f := p.regions[code]; f != nil {
		return f()
	}
	return nil
}

// knownCode reports whether cc is a country calling code
// (GetRegionCodeForCountryCode(cc) != "ZZ").
func (p *phoneRules) knownCode(cc int) bool { return len(p.byCode[cc]) > 0 }

// mainRegion is GetRegionCodeForCountryCode: the main region of a calling
// code, "ZZ" for none.
func (p *phoneRules) mainRegion(cc int) string {
	if rs := p.byCode[cc]; len(rs) > 0 {
		return rs[0]
	}
	return "ZZ"
}

// validForRegion is phonenumbers.IsValidNumberForRegion for the number of
// calling code cc and national significant number nsn.
func (p *phoneRules) validForRegion(cc int, nsn []byte, region string) bool {
	if region == "001" {
		f := p.nonGeo[cc]
		return f != nil && f().valid(nsn)
	}
	r := p.region(region)
	return r != nil && r.countryCode == cc && r.valid(nsn)
}

// valid is phonenumbers.IsValidNumber: the number's region is the only
// one of its calling code, or the first of them whose leading digits (or,
// without any, whose rules) fit the number.
func (p *phoneRules) valid(cc int, nsn []byte) bool {
	regions := p.byCode[cc]
	switch len(regions) {
	case 0:
		return false
	case 1:
		return p.validForRegion(cc, nsn, regions[0])
	}
	for _, code := range regions {
		r := p.region(code)
		if r == nil {
			continue
		}
		if r.leading != nil {
			if r.leading.Match(nsn) {
				return p.validForRegion(cc, nsn, code)
			}
		} else if r.valid(nsn) {
			return p.validForRegion(cc, nsn, code)
		}
	}
	return false
}
