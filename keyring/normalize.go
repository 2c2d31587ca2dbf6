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

// PhoneRegion is the region a phone number without a country code is read
// in: the seeds are German shops and bots, so "0171 1234567" means +49.
const PhoneRegion = "DE"

// Normalize brings an identifier into the one spelling its blind index is
// computed from, so that the same subject is found however it was typed:
//
//   - email: spaces around it trimmed and lower-cased; it must hold exactly
//     one "@" with text on both sides and no white space inside.
//   - phone: E.164 (+491711234567), read in region DE when it has no
//     country code; it must be a possible number (by length, with its
//     area code).
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
	var (
		out string
		err error
	)
	switch kind {
	case KindEmail:
		out, err = normalizeEmail(value)
	case KindPhone:
		out, err = normalizePhone(value)
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

func normalizePhone(value string) (string, error) {
	s := strings.TrimSpace(value)
	if s == "" {
		return "", fmt.Errorf("phone: empty value: %w", lethe.ErrInvalid)
	}
	num, err := phonenumbers.Parse(s, PhoneRegion)
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
	again, err := phonenumbers.Parse(e164, PhoneRegion)
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
