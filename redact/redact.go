// Package redact finds personal data in free text (chat messages, notes)
// and replaces it, so that a message can be kept for statistics and review
// with the person taken out of it.
//
// It is pure Go with no model to download: structured identifiers are
// found in one pass over the bytes and confirmed by their check digits or
// parsers (Luhn, ISO 13616 mod-97, ISO 7064, libphonenumber's metadata),
// and names, addresses and dates of birth by context words and word lists
// shipped in the package (lists/, with their licence). A finding carries
// its type, byte span, score and the recognizer that made it, never a copy
// of the value, so that findings can be logged and returned.
package redact

import (
	"fmt"
	"slices"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// Entity is the kind of personal data a finding is. Its text is the tag the
// Tag operator writes (<EMAIL>).
type Entity string

// The entities the analyzer recognizes.
const (
	Email            Entity = "EMAIL"
	Phone            Entity = "PHONE"
	IBAN             Entity = "IBAN"
	CreditCard       Entity = "CREDIT_CARD"
	IPAddress        Entity = "IP_ADDRESS"
	URL              Entity = "URL"
	DETaxID          Entity = "DE_TAX_ID"
	DESocialSecurity Entity = "DE_SOCIAL_SECURITY"
	BENationalNumber Entity = "BE_NATIONAL_NUMBER"
	DateOfBirth      Entity = "DATE_OF_BIRTH"
	Address          Entity = "ADDRESS"
	Person           Entity = "PERSON"
)

// Entities lists every entity, structured ones first.
var Entities = []Entity{Email, Phone, IBAN, CreditCard, IPAddress, URL, DETaxID, DESocialSecurity, BENationalNumber, DateOfBirth, Address, Person}

// Structured reports whether the entity is found by its shape and check
// digits rather than by context words and lists.
func (e Entity) Structured() bool {
	switch e {
	case DateOfBirth, Address, Person:
		return false
	}
	return slices.Contains(Entities, e)
}

// Finding is one piece of personal data in a text: Text[Start:End] in
// bytes. It holds no copy of the value.
type Finding struct {
	Type       Entity  `json:"type"`
	Start      int     `json:"start"`
	End        int     `json:"end"`
	Score      float64 `json:"score"`
	Recognizer string  `json:"recognizer"`
}

// Options configure an Analyzer.
type Options struct {
	// Region is the ISO 3166 region phone numbers without a country code
	// are read in (the tenant's phone region); default DE.
	Region string
	// Entities restricts the analysis; nil means all.
	Entities []Entity
	// MinScore drops weaker findings; 0 means DefaultMinScore.
	MinScore float64
}

// DefaultMinScore keeps findings with some support beyond their shape: a
// first name from the list alone scores 0.5 and is kept, a date without a
// birth context is never reported at all.
const DefaultMinScore = 0.5

// Analyzer finds personal data. It holds no mutable state and is safe for
// concurrent use; build one per tenant region and reuse it.
type Analyzer struct {
	region string
	cc     int    // the region's country calling code
	ndd    string // national dialling prefix of the region ("0"), may be ""
	rules  *phoneRules
	// libraryPhone asks phonenumbers.IsValidNumber instead of the
	// compiled rules: the slow path the tests hold the fast one to.
	libraryPhone bool
	want         entitySet
	words        bool // some word-based entity is wanted
	minScore     float64
}

// New returns an analyzer. An unsupported region is refused, because
// phone numbers would then be read in the wrong country.
func New(o Options) (*Analyzer, error) {
	region := strings.ToUpper(o.Region)
	if region == "" {
		region = "DE"
	}
	if !phonenumbers.GetSupportedRegions()[region] {
		return nil, fmt.Errorf("redact: unsupported phone region %q", o.Region)
	}
	a := &Analyzer{region: region, cc: phonenumbers.GetCountryCodeForRegion(region), ndd: phonenumbers.GetNddPrefixForRegion(region, true), rules: loadPhoneRules(), minScore: o.MinScore}
	if a.minScore == 0 {
		a.minScore = DefaultMinScore
	}
	ents := o.Entities
	if ents == nil {
		ents = Entities
	}
	for _, e := range ents {
		if !slices.Contains(Entities, e) {
			return nil, fmt.Errorf("redact: unknown entity %q", e)
		}
		a.want |= entityBit(e)
		if !e.Structured() {
			a.words = true
		}
	}
	return a, nil
}

// Region returns the phone region the analyzer reads numbers in.
func (a *Analyzer) Region() string { return a.region }

// Analyze returns the findings in text, ordered by position and never
// overlapping: of two overlapping candidates the longer wins (an e-mail
// over the phone number that is its local part, an address over its
// postcode), and of two equally long the higher score.
func (a *Analyzer) Analyze(text string) []Finding {
	var fs []Finding
	fs = a.scan(text, fs)
	if a.words {
		fs = a.scanWords(text, fs)
	}
	return a.resolve(fs)
}

func (a *Analyzer) resolve(fs []Finding) []Finding {
	kept := fs[:0]
	for _, f := range fs {
		if a.want.has(f.Type) && f.Score >= a.minScore && f.End > f.Start {
			kept = append(kept, f)
		}
	}
	fs = kept
	if len(fs) < 2 {
		return fs
	}
	// Overlaps are rare and local: cut the findings into clusters of
	// mutually overlapping spans and pick within each, longest first, then
	// highest score, then leftmost, keeping every finding that overlaps
	// none already kept.
	slices.SortFunc(fs, func(x, y Finding) int { return x.Start - y.Start })
	out := make([]Finding, 0, len(fs))
	for i := 0; i < len(fs); {
		j, end := i+1, fs[i].End
		for j < len(fs) && fs[j].Start < end {
			end = max(end, fs[j].End)
			j++
		}
		out = pick(out, fs[i:j])
		i = j
	}
	return out
}

// pick appends the chosen findings of one cluster to out, in text order.
func pick(out, cluster []Finding) []Finding {
	if len(cluster) == 1 {
		return append(out, cluster[0])
	}
	slices.SortFunc(cluster, func(x, y Finding) int {
		if lx, ly := x.End-x.Start, y.End-y.Start; lx != ly {
			return ly - lx
		}
		if x.Score != y.Score {
			if x.Score > y.Score {
				return -1
			}
			return 1
		}
		return x.Start - y.Start
	})
	from := len(out)
	for _, f := range cluster {
		overlaps := false
		for _, k := range out[from:] {
			if f.Start < k.End && k.Start < f.End {
				overlaps = true
				break
			}
		}
		if !overlaps {
			out = append(out, f)
		}
	}
	slices.SortFunc(out[from:], func(x, y Finding) int { return x.Start - y.Start })
	return out
}

// entitySet is a set of entities, one bit each: the scanner asks for every
// word whether IBANs and URLs are wanted, and a map lookup there was a
// tenth of the structured recognizers' time.
type entitySet uint16

func (s entitySet) has(e Entity) bool { return s&entityBit(e) != 0 }

// entityBit is the entity's bit, its position in Entities (0: unknown).
func entityBit(e Entity) entitySet {
	switch e {
	case Email:
		return 1 << 0
	case Phone:
		return 1 << 1
	case IBAN:
		return 1 << 2
	case CreditCard:
		return 1 << 3
	case IPAddress:
		return 1 << 4
	case URL:
		return 1 << 5
	case DETaxID:
		return 1 << 6
	case DESocialSecurity:
		return 1 << 7
	case BENationalNumber:
		return 1 << 8
	case DateOfBirth:
		return 1 << 9
	case Address:
		return 1 << 10
	case Person:
		return 1 << 11
	}
	return 0
}
