package redact

import "strings"

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isAlnum(c byte) bool { return isDigit(c) || isAlpha(c) }
func isHex(c byte) bool   { return isDigit(c) || c|0x20 >= 'a' && c|0x20 <= 'f' }

// isSep is what people type between digit groups of one number.
func isSep(c byte) bool {
	return c == ' ' || c == '-' || c == '.' || c == '/' || c == '(' || c == ')'
}

// isLocal is an e-mail local-part character (RFC 5322 atext, the common
// subset).
func isLocal(c byte) bool {
	return isAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'
}

func upper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}

// boundaryBefore reports whether i starts a token: the byte before is no
// ASCII letter or digit and no part of a multi-byte (non-ASCII) letter.
func boundaryBefore(text string, i int) bool {
	if i == 0 {
		return true
	}
	c := text[i-1]
	return !isAlnum(c) && c < 0x80 && c != '_'
}

func skipWord(text string, i int) int {
	for i < len(text) && (isAlnum(text[i]) || text[i] >= 0x80) {
		i++
	}
	return i
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// lowerWindow returns text[from:to] lower-cased, clamped to the text.
func lowerWindow(text string, from, to int) string {
	if from < 0 {
		from = 0
	}
	if to > len(text) {
		to = len(text)
	}
	if from >= to {
		return ""
	}
	return strings.ToLower(text[from:to])
}

func containsAny(s string, words []string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// phoneWords raise a phone finding's score; notPhoneWords (order, invoice,
// customer and tracking numbers in DE, EN, NL) stop a number without a
// country code from being read as one.
var (
	phoneWords    = []string{"tel", "phone", "mobil", "handy", "ruf", "call", "bel ", "bellen", "whatsapp", "sms", "fax", "nummer ist", "number is", "nummer is"}
	notPhoneWords = []string{"bestell", "bestel", "order", "auftrag", "rechnung", "invoice", "kunden", "sendung", "tracking", "ticket", "factuur", "klant", "artikel", "referenz", "reference", "ref.", "vorgang", "case", "zaak", "pakket", "paket", "lieferschein", "vertrag", "contract", "polis", "iban", "plz", "postcode", "art.-nr", "artnr", "sku", "ean"}
	cardWords     = []string{"karte", "card", "kaart", "visa", "mastercard", "amex", "kreditkarte", "creditcard"}
	versionWords  = []string{"version", "versie", "v.", "release", "build"}
	birthWords    = []string{"geboren", "geb.", "geburt", "born", "birth", "dob", "d.o.b", "geboorte", "jarig", "verjaardag", "birthday"}
)

// birthContext reports whether a birth word stands shortly before the date
// or right after it ("bin am 12.03.1985 geboren").
func birthContext(text string, s, e int) bool {
	return containsAny(lowerWindow(text, s-40, s), birthWords) || containsAny(lowerWindow(text, e, e+16), birthWords)
}
