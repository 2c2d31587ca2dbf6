package keyring

import (
	"fmt"
	"net/netip"
	"strings"
	"unicode"

	"github.com/nyaruka/phonenumbers"

	"github.com/lethe-privacy/lethe"
)

// Identifier kinds with their own normalization. Any other kind (customer
// id, device id, voucher code, ...) is compared as written, up to spaces.
const (
	KindEmail = "email"
	KindPhone = "phone"
	KindIP    = "ip_address"
)

// DefaultPhoneRegion is the region a phone number without a country code
// is read in when neither the tenant nor its packs name one: the seeds are
// German shops and bots, so "0171 1234567" means +49. Each tenant has a
// region of its own (lethe.Tenant.PhoneRegion).
const DefaultPhoneRegion = lethe.DefaultPhoneRegion

// CheckPhoneRegion reports whether region is one phone numbers can be read
// in: an ISO 3166-1 alpha-2 code (upper case) of a region with a numbering
// plan, such as DE, NL or BE.
func CheckPhoneRegion(region string) error {
	if !phonenumbers.GetSupportedRegions()[region] {
		return fmt.Errorf("%w: phone region %q: want a two-letter country code with a numbering plan, such as DE, NL or BE", lethe.ErrInvalid, region)
	}
	return nil
}

// Normalize brings an identifier into the one spelling its blind index is
// computed from, so that the same subject is found however it was typed:
//
//   - email: spaces around it trimmed and lower-cased; it must hold exactly
//     one "@" with text on both sides and no white space inside.
//   - phone: E.164 (+491711234567), read in DefaultPhoneRegion when it
//     has no country code (NormalizeIn takes the tenant's region); it must
//     be a possible number (by length, with its area code).
//   - ip_address: the address in its canonical text form (IPv6 compressed
//     and lower-cased, an IPv4-mapped IPv6 address as IPv4, no zone), so
//     that 2001:DB8::1 and 2001:db8:0:0:0:0:0:1 are one address.
//   - any other kind: spaces around it trimmed and runs of white space
//     inside collapsed to one space; case is kept, since ids may differ by
//     case.
//
// A value that is empty after normalization, or breaks the rules of its
// kind, gives an error wrapping lethe.ErrInvalid.
func Normalize(kind, value string) (string, error) {
	return NormalizeIn(kind, value, DefaultPhoneRegion)
}

// NormalizeIn is Normalize with the region a phone number without a
// country code is read in: "06 12345678" is +31612345678 in NL and
// +49612345678 in DE. The region changes only how such numbers are read;
// a number in E.164 form normalizes to itself in every region, so hashes
// of numbers stored under one region are still found by their E.164 form
// after the tenant moved to another. An unsupported region is an error
// wrapping lethe.ErrInvalid (see CheckPhoneRegion).
func NormalizeIn(kind, value, region string) (string, error) {
	var (
		out string
		err error
	)
	switch kind {
	case KindEmail:
		out, err = normalizeEmail(value)
	case KindPhone:
		out, err = normalizePhone(value, region)
	case KindIP:
		out, err = normalizeIP(value)
	default:
		out = strings.Join(strings.Fields(value), " ")
	}
	if err != nil {
		return "", err
	}
	if out == "" {
		return "", fmt.Errorf("%s: empty value: %w", kind, lethe.ErrInvalid)
	}
	return out, nil
}

func normalizeEmail(value string) (string, error) {
	// Lower-casing the local part too is a deliberate choice: RFC 5321
	// allows case-sensitive mailboxes, but no provider in practice has
	// them, and users type their address in every case.
	s := strings.ToLower(strings.TrimSpace(value))
	if s == "" {
		return "", fmt.Errorf("email: empty value: %w", lethe.ErrInvalid)
	}
	at := strings.IndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || strings.Count(s, "@") != 1 {
		return "", fmt.Errorf("email: want one @ with text on both sides: %w", lethe.ErrInvalid)
	}
	if strings.IndexFunc(s, unicode.IsSpace) >= 0 {
		return "", fmt.Errorf("email: white space inside the address: %w", lethe.ErrInvalid)
	}
	return s, nil
}

func normalizePhone(value, region string) (string, error) {
	if err := CheckPhoneRegion(region); err != nil {
		return "", err
	}
	s := strings.TrimSpace(value)
	if s == "" {
		return "", fmt.Errorf("phone: empty value: %w", lethe.ErrInvalid)
	}
	if e164, ok := e164Fast(s); ok {
		return e164, nil
	}
	return parsePhone(s, region)
}

// parsePhone is normalizePhone's general path: any way of writing a
// number that phonenumbers reads.
func parsePhone(s, region string) (string, error) {
	num, err := phonenumbers.Parse(s, region)
	if err != nil {
		return "", fmt.Errorf("phone: %v: %w", err, lethe.ErrInvalid)
	}
	// IS_POSSIBLE only: a number that is possible only locally (dialled
	// without its area code) has no E.164 form, and guessing one would
	// index a different line.
	if phonenumbers.IsPossibleNumberWithReason(num) != phonenumbers.IS_POSSIBLE {
		return "", fmt.Errorf("phone: not a possible phone number with area code: %w", lethe.ErrInvalid)
	}
	e164 := phonenumbers.Format(num, phonenumbers.E164)
	// The stored form must normalize to itself, or a search with the value
	// as stored would miss it. Malformed input such as "000000000" gives an
	// E.164 string that parses differently; such a number is not real.
	// Input already in that form was just parsed: no second parse.
	if e164 == s {
		return e164, nil
	}
	again, err := phonenumbers.Parse(e164, region)
	if err != nil || phonenumbers.Format(again, phonenumbers.E164) != e164 {
		return "", fmt.Errorf("phone: no stable E.164 form: %w", lethe.ErrInvalid)
	}
	return e164, nil
}

func normalizeIP(value string) (string, error) {
	a, err := netip.ParseAddr(strings.TrimSpace(value))
	if err != nil {
		return "", fmt.Errorf("ip_address: want an IPv4 or IPv6 address: %w", lethe.ErrInvalid)
	}
	return a.Unmap().WithZone("").String(), nil
}
