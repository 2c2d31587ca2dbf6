package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// maxExactInt is the largest integer magnitude every JSON reader keeps
// exactly: JavaScript and many JSON libraries read numbers as IEEE doubles,
// which hold integers exactly up to 2^53. A larger integer would come back
// rounded (another customer number, another document), so it is refused
// rather than stored.
const maxExactInt = 1 << 53

// Reasons for numbers that cannot be kept. A free-form or identifier field
// can take the value as a string instead; an integer field cannot.
const (
	reasonBeyondExact       = "integer beyond ±2^53 (9007199254740992) would be rounded by JSON readers; send it as a string"
	reasonBeyondExactNumber = "integer beyond ±2^53 (9007199254740992) would be rounded by JSON readers"
	reasonOutOfRange        = "number out of range"
)

// jsonNum is a decoded JSON number as the client wrote it: an integer
// literal (no fraction, no exponent) stays an integer, anything else is a
// float.
type jsonNum struct {
	i     int64
	f     float64
	isInt bool
}

// numberOf reads a decoded JSON number. ok is false when v is no number;
// reason is set when it is one that cannot be kept: an integer beyond
// ±2^53, or a value outside the range of a float64 (1e400).
func numberOf(v any) (n jsonNum, ok bool, reason string) {
	switch x := v.(type) {
	case json.Number:
		s := string(x)
		if isIntLiteral(s) {
			i, err := strconv.ParseInt(s, 10, 64)
			if err != nil || i > maxExactInt || i < -maxExactInt {
				return n, true, reasonBeyondExact
			}
			return jsonNum{i: i, isInt: true}, true, ""
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return n, true, reasonOutOfRange
		}
		return jsonNum{f: f}, true, ""
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return n, true, reasonOutOfRange
		}
		return jsonNum{f: x}, true, ""
	case int64:
		return intNum(x)
	case int:
		return intNum(int64(x))
	}
	return n, false, ""
}

func intNum(i int64) (jsonNum, bool, string) {
	n := jsonNum{i: i, isInt: true}
	if i > maxExactInt || i < -maxExactInt {
		return n, true, reasonBeyondExact
	}
	return n, true, ""
}

// isIntLiteral reports whether s is written as a JSON integer: an optional
// minus and digits only.
func isIntLiteral(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// asInt gives the number as an integer when it is one: an integer literal,
// or a float without fraction (2.0, 1e3) inside ±2^53. beyond is true for
// a float without fraction outside that range.
func (n jsonNum) asInt() (i int64, ok, beyond bool) {
	if n.isInt {
		return n.i, true, false
	}
	if n.f != math.Trunc(n.f) {
		return 0, false, false
	}
	if math.Abs(n.f) > maxExactInt {
		return 0, false, true
	}
	return int64(n.f), true, false
}

// value is the number as it is stored: int64 for an integer literal,
// float64 otherwise.
func (n jsonNum) value() any {
	if n.isInt {
		return n.i
	}
	return n.f
}

// identifierText gives the text an identifier is blind-indexed and looked
// up by: a string as it is, an integer in decimal. Lookups arrive as query
// text, so the number 1001 and the string "1001" must find the same
// subject. Other values (a fraction, an object) are no identifier.
func identifierText(v any) (string, bool) {
	if s, ok := v.(string); ok {
		return s, true
	}
	n, ok, reason := numberOf(v)
	if !ok || reason != "" {
		return "", false
	}
	i, ok, _ := n.asInt()
	if !ok {
		return "", false
	}
	return strconv.FormatInt(i, 10), true
}

// Unix seconds a timestamp may have: the years 0001 to 9999, which RFC
// 3339 can write.
var (
	minUnix = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	maxUnix = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).Unix()
)

// parseTimestamp reads a timestamp in any form RFC 3339 allows (section
// 5.6: "T" and "Z" in either case, and a space for the "T", as its note
// permits and as SQL databases print it), or Unix seconds as a JSON number,
// fraction allowed. A time without offset is refused: it names no instant,
// and guessing the zone would move a retention deadline by hours.
func parseTimestamp(v any) (time.Time, string) {
	if s, ok := v.(string); ok {
		norm := s
		if len(norm) > 10 && (norm[10] == ' ' || norm[10] == 't') {
			norm = norm[:10] + "T" + norm[11:]
		}
		if strings.HasSuffix(norm, "z") {
			norm = norm[:len(norm)-1] + "Z"
		}
		t, err := time.Parse(time.RFC3339Nano, norm)
		if err != nil {
			return time.Time{}, fmt.Sprintf("want an RFC 3339 timestamp like 2026-01-02T15:04:05Z (with its offset) or Unix seconds, got %s", quote(s))
		}
		// Stored in UTC, a time must still have a four-digit year, or
		// the planner could not read it back and the rule would never
		// fall due ("9999-12-31T23:59:59-01:00" is in the year 10000).
		if y := t.UTC().Year(); y < 1 || y > 9999 {
			return time.Time{}, "in UTC the time falls outside the years 0001 to 9999"
		}
		return t, ""
	}
	n, ok, reason := numberOf(v)
	if !ok {
		return time.Time{}, fmt.Sprintf("want an RFC 3339 timestamp string or Unix seconds, got %s", jsonKind(v))
	}
	if reason == reasonOutOfRange {
		return time.Time{}, reason
	}
	if js, ok := v.(json.Number); ok && !plainSeconds(string(js)) {
		return time.Time{}, "want Unix seconds as a decimal number of at most 40 characters and an exponent of at most 20"
	}
	r := unixRat(v, n)
	if r == nil || r.Cmp(new(big.Rat).SetInt64(maxUnix+1)) >= 0 {
		return time.Time{}, "Unix time beyond the year 9999; send seconds, not milliseconds"
	}
	if r.Cmp(new(big.Rat).SetInt64(minUnix)) < 0 {
		return time.Time{}, "Unix time before the year 0001"
	}
	// Euclidean division: the remainder is never negative, so the
	// quotient is the floor and -1.5 is 1.5 seconds before the epoch.
	sec, rem := new(big.Int).DivMod(r.Num(), r.Denom(), new(big.Int))
	nsec := new(big.Int).Div(rem.Mul(rem, big.NewInt(1e9)), r.Denom())
	return time.Unix(sec.Int64(), nsec.Int64()), ""
}

// ParseTimestamp reads a timestamp as a field of type timestamp takes it
// (see parseTimestamp); the HTTP layer reads a record's created_at with
// it, so that every timestamp of the API takes the same forms.
func ParseTimestamp(v any) (time.Time, error) {
	t, reason := parseTimestamp(v)
	if reason != "" {
		return time.Time{}, errors.New(reason)
	}
	return t.UTC(), nil
}

// plainSeconds bounds a Unix time's literal before it is read exactly:
// big.Rat expands an exponent such as 1e-1000000 digit by digit, which
// would let one request burn seconds of CPU.
func plainSeconds(s string) bool {
	if len(s) > 40 {
		return false
	}
	i := strings.IndexAny(s, "eE")
	if i < 0 {
		return true
	}
	exp, err := strconv.Atoi(strings.TrimPrefix(s[i+1:], "+"))
	return err == nil && exp >= -20 && exp <= 20
}

// unixRat is the exact value of a Unix time: from the client's digits when
// it came as json.Number, so that 1763467200.123456789 keeps every digit.
// Nil when it cannot be read (an integer literal too long for int64 is
// read here too, and lands beyond the year 9999).
func unixRat(v any, n jsonNum) *big.Rat {
	if s, ok := v.(json.Number); ok {
		r, ok := new(big.Rat).SetString(string(s))
		if !ok {
			return nil
		}
		return r
	}
	if n.isInt {
		return new(big.Rat).SetInt64(n.i)
	}
	return new(big.Rat).SetFloat64(n.f)
}

// dateLayout is a date-only value: a calendar day, no time, no zone.
const dateLayout = "2006-01-02"

// parseDate reads a YYYY-MM-DD date that exists in the calendar.
func parseDate(v any) (string, string) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Sprintf("want a date string like 2026-11-18, got %s", jsonKind(v))
	}
	if _, err := time.Parse(dateLayout, s); err != nil || len(s) != len(dateLayout) {
		return "", fmt.Sprintf("want a date like 2026-11-18 (YYYY-MM-DD, a day that exists), got %s", quote(s))
	}
	return s, ""
}

// quote shows a refused value in a message, cut short: the client sent it
// and may see it, but a message should not repeat a megabyte.
func quote(s string) string {
	const max = 40
	if len(s) <= max {
		return strconv.Quote(s)
	}
	cut := max
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "..."
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }
