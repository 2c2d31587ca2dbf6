package redact

import (
	"net/netip"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// scan finds the structured entities in one pass over the bytes. Nothing
// is done inside words but skipping them; the expensive checks (phone
// metadata, netip) run only on the few candidates whose shape fits, so
// ordinary prose costs a byte comparison or two per byte.
func (a *Analyzer) scan(text string, fs []Finding) []Finding {
	n := len(text)
	for i := 0; i < n; {
		c := text[i]
		switch {
		case c == '@':
			if f, ok := email(text, i); ok {
				fs = append(fs, f)
				i = f.End
				continue
			}
		case isDigit(c) || c == '+' || c == '(':
			if boundaryBefore(text, i) {
				if isDigit(c) {
					if f, ok := ipv6(text, i); ok {
						fs = append(fs, f)
						i = f.End
						continue
					}
				}
				var end int
				fs, end = a.number(text, i, fs)
				if end > i {
					i = end
					continue
				}
			}
		case isAlpha(c):
			if boundaryBefore(text, i) {
				if f, ok := a.wordStart(text, i); ok {
					fs = append(fs, f)
					i = f.End
					continue
				}
				j := i + 1
				for j < n && isAlnum(text[j]) {
					j++
				}
				i = j
				continue
			}
		case c == ':':
			if i+1 < n && text[i+1] == ':' && boundaryBefore(text, i) {
				if f, ok := ipv6(text, i); ok {
					fs = append(fs, f)
					i = f.End
					continue
				}
			}
		}
		i++
	}
	return fs
}

// wordStart tries the entities that begin with a letter: IBAN, URL, IPv6.
func (a *Analyzer) wordStart(text string, i int) (Finding, bool) {
	n := len(text)
	if a.want.has(IBAN) && i+4 <= n && isAlpha(text[i+1]) && isDigit(text[i+2]) && isDigit(text[i+3]) {
		if f, ok := iban(text, i); ok {
			return f, true
		}
	}
	if a.want.has(URL) {
		if f, ok := url(text, i); ok {
			return f, true
		}
	}
	if isHex(text[i]) {
		return ipv6(text, i)
	}
	return Finding{}, false
}

func iban(text string, i int) (Finding, bool) {
	n := len(text)
	cc := [2]byte{upper(text[i]), upper(text[i+1])}
	want := ibanLength[string(cc[:])]
	if want == 0 {
		return Finding{}, false
	}
	var buf [34]byte
	k, j := 0, i
	for j < n && k < want {
		c := text[j]
		switch {
		case isAlnum(c):
			buf[k] = upper(c)
			k++
			j++
			continue
		case (c == ' ' || c == '-') && k > 0 && j+1 < n && isAlnum(text[j+1]):
			j++
			continue
		}
		break
	}
	if k != want || (j < n && isAlnum(text[j])) || !ibanValid(buf[:k]) {
		return Finding{}, false
	}
	return Finding{Type: IBAN, Start: i, End: j, Score: 1, Recognizer: "iban_mod97"}, true
}

func url(text string, i int) (Finding, bool) {
	rest := text[i:]
	var p int
	switch {
	case hasPrefixFold(rest, "https://"):
		p = 8
	case hasPrefixFold(rest, "http://"):
		p = 7
	case hasPrefixFold(rest, "www."):
		p = 4
	default:
		return Finding{}, false
	}
	e := p
	for e < len(rest) {
		c := rest[e]
		if c <= ' ' || c == '<' || c == '>' || c == '"' || c == '`' || c == 0x7f {
			break
		}
		e++
	}
	for e > p && strings.IndexByte(".,;:!?)]}'", rest[e-1]) >= 0 {
		e--
	}
	if e-p < 3 || strings.IndexByte(rest[p:e], '.') < 0 && p == 4 {
		return Finding{}, false
	}
	return Finding{Type: URL, Start: i, End: i + e, Score: 0.9, Recognizer: "url"}, true
}

// ipv6 reads an IPv6 address starting at i. It asks for two colons and a
// decimal digit, so that "12:30" and words such as "bad::" are left alone.
func ipv6(text string, i int) (Finding, bool) {
	j, colons, digits := i, 0, 0
	for j < len(text) && j-i < 46 {
		c := text[j]
		switch {
		case c == ':':
			colons++
		case isDigit(c):
			digits++
		case isHex(c) || c == '.':
		default:
			goto done
		}
		j++
	}
done:
	if colons < 2 || digits == 0 {
		return Finding{}, false
	}
	for j > i && (text[j-1] == '.' || text[j-1] == ':') && !strings.HasSuffix(text[i:j], "::") {
		j--
	}
	if j < len(text) && isAlnum(text[j]) {
		return Finding{}, false
	}
	addr, err := netip.ParseAddr(text[i:j])
	if err != nil || !addr.Is6() || !personalAddr(addr) {
		return Finding{}, false
	}
	return Finding{Type: IPAddress, Start: i, End: j, Score: 0.95, Recognizer: "ipv6"}, true
}

// email expands around an '@': the local part of RFC 5322's common
// characters, a domain of dot-separated labels ending in a letter TLD.
func email(text string, at int) (Finding, bool) {
	// RFC 5321 caps the local part at 64 and the domain at 255 bytes; the
	// caps also keep a run of '@' from costing quadratic time.
	s := at
	for s > 0 && at-s < 64 && isLocal(text[s-1]) {
		s--
	}
	for s < at && text[s] == '.' {
		s++
	}
	if s == at {
		return Finding{}, false
	}
	e := at + 1
	for e < len(text) && e-at < 256 && (isAlnum(text[e]) || text[e] == '.' || text[e] == '-') {
		e++
	}
	for e > at+1 && (text[e-1] == '.' || text[e-1] == '-') {
		e--
	}
	dot := strings.LastIndexByte(text[at+1:e], '.')
	if dot <= 0 {
		return Finding{}, false
	}
	tld := text[at+1+dot+1 : e]
	if len(tld) < 2 {
		return Finding{}, false
	}
	for k := 0; k < len(tld); k++ {
		if !isAlpha(tld[k]) {
			return Finding{}, false
		}
	}
	return Finding{Type: Email, Start: s, End: e, Score: 1, Recognizer: "email"}, true
}

// number reads a run of digits and separators starting at i and
// classifies it, or the longest space-separated parts of it that make
// sense alone ("Kundennr. 4711 0171 2345678" holds a phone number after
// the order number). It returns where scanning goes on.
func (a *Analyzer) number(text string, i int, fs []Finding) ([]Finding, int) {
	n := len(text)
	j := i
	if text[j] == '+' || text[j] == '(' {
		j++
	}
	last := -1
	var groups [16]int // start of each space-separated group
	ng := 1
	groups[0] = i
	for j < n && j-i < 64 {
		c := text[j]
		if isDigit(c) {
			last = j
			j++
			continue
		}
		if isSep(c) {
			k := j
			for k < n && k-j < 3 && isSep(text[k]) {
				k++
			}
			if k < n && (isDigit(text[k]) || text[k] == '(' && k+1 < n && isDigit(text[k+1])) {
				if strings.IndexByte(text[j:k], ' ') >= 0 && ng < len(groups) {
					groups[ng] = k
					ng++
				}
				j = k
				continue
			}
		}
		break
	}
	if last < 0 {
		return fs, i
	}
	end := last + 1
	if f, ok := a.socialSecurity(text, i, end); ok {
		return append(fs, f), f.End
	}
	if end < n && isAlpha(text[end]) {
		// Part of a word ("5kg", "A4711b"): no identifier of its own.
		return fs, skipWord(text, end)
	}
	if f, ok := a.classify(text, i, end); ok {
		return append(fs, f), end
	}
	// Parts, longest first from each start; the whole was tried above.
	for g := 0; g < ng; {
		found := false
		for h := ng; h > g; h-- {
			if g == 0 && h == ng {
				continue
			}
			s, e := groups[g], end
			if h < ng {
				e = trimSep(text, groups[h])
			}
			if f, ok := a.classify(text, s, e); ok {
				fs = append(fs, f)
				g, found = h, true
				break
			}
		}
		if !found {
			g++
		}
	}
	return fs, end
}

// trimSep returns the end of the group before the one starting at k.
func trimSep(text string, k int) int {
	for k > 0 && isSep(text[k-1]) {
		k--
	}
	return k
}

// classify decides what the digits in text[s:e] are, most specific first:
// IPv4, date (of birth, with context), Belgian national number, German tax
// id, payment card, phone number.
func (a *Analyzer) classify(text string, s, e int) (Finding, bool) {
	if e <= s {
		return Finding{}, false
	}
	raw := text[s:e]
	var buf [64]byte
	d := buf[:0]
	var dots, dashes, slashes, spaces, parens int
	for k := 0; k < len(raw); k++ {
		switch c := raw[k]; c {
		case '.':
			dots++
		case '-':
			dashes++
		case '/':
			slashes++
		case ' ':
			spaces++
		case '(', ')':
			parens++
		case '+':
		default:
			d = append(d, c)
		}
	}
	plus := raw[0] == '+'
	nd := len(d)
	at := func(t Entity, score float64, rec string) (Finding, bool) {
		return Finding{Type: t, Start: s, End: e, Score: score, Recognizer: rec}, true
	}
	if a.want.has(IPAddress) && dots == 3 && dashes+slashes+spaces+parens == 0 && !plus && ipv4(raw) {
		addr, err := netip.ParseAddr(raw)
		if err != nil || !personalAddr(addr) || containsAny(lowerWindow(text, s-12, s), versionWords) {
			return Finding{}, false
		}
		return at(IPAddress, 0.95, "ipv4")
	}
	if (dots == 2 && dashes+slashes == 0 || dashes == 2 && dots+slashes == 0 || slashes == 2 && dots+dashes == 0) && spaces+parens == 0 && !plus {
		if isDate(raw) {
			if a.want.has(DateOfBirth) && birthContext(text, s, e) {
				return at(DateOfBirth, 0.9, "date_of_birth_context")
			}
			return Finding{}, false
		}
	}
	if nd == 11 && !plus && parens == 0 {
		formatted := dots == 3 && dashes == 1 || len(raw) == 15 && raw[2] == '.' && raw[5] == '.'
		if a.want.has(BENationalNumber) && formatted && beNationalNumber(d) {
			return at(BENationalNumber, 1, "be_national_number")
		}
		if a.want.has(DETaxID) && deTaxID(d) {
			return at(DETaxID, 0.95, "de_tax_id")
		}
		if a.want.has(BENationalNumber) && beNationalNumber(d) {
			return at(BENationalNumber, 0.85, "be_national_number")
		}
	}
	if a.want.has(CreditCard) && nd >= 13 && nd <= 19 && dots+slashes+parens == 0 && !plus && cardPrefix(d) && luhn(d) {
		// A ticket or article number that happens to pass Luhn is left
		// alone, unless a card word is near as well.
		before := lowerWindow(text, s-28, s)
		if !containsAny(before, notPhoneWords) || containsAny(before, cardWords) {
			return at(CreditCard, 1, "credit_card_luhn")
		}
	}
	if a.want.has(Phone) && nd >= 6 && nd <= 17 {
		return a.phone(text, s, e, plus)
	}
	return Finding{}, false
}

// phone asks libphonenumber whether the candidate is a valid number in
// the tenant's region. Without a country code it must start with the
// region's trunk prefix (0 in DE, NL and BE): a bare 8-digit number is an
// order or customer number far more often than a phone number, and so is
// any number right after words such as "Bestellnummer" or "order".
func (a *Analyzer) phone(text string, s, e int, plus bool) (Finding, bool) {
	raw := text[s:e]
	intl := plus || strings.HasPrefix(raw, "00")
	if !intl && a.ndd != "" {
		r := strings.TrimPrefix(raw, "(")
		if !strings.HasPrefix(r, a.ndd) {
			return Finding{}, false
		}
	}
	before := lowerWindow(text, s-28, s)
	if !intl && containsAny(before, notPhoneWords) {
		return Finding{}, false
	}
	var buf [64]byte
	cc, nsn, ok := a.phoneNumber(raw, intl, buf[:])
	if !ok {
		return Finding{}, false
	}
	score := 0.0
	switch {
	case a.validPhone(cc, nsn, intl):
		score = 0.9
		if containsAny(before, phoneWords) {
			score = 1
		}
	case containsAny(before, phoneWords) && phonenumbers.IsPossibleNumber(build(cc, nsn)):
		score = 0.6
	default:
		return Finding{}, false
	}
	return Finding{Type: Phone, Start: s, End: e, Score: score, Recognizer: "phone_" + strings.ToLower(a.region)}, true
}

// socialSecurity reads a German pension insurance number written as
// "12 150780 M 123" or "12150780M123": text[s:end] holds the eight digits
// before the letter.
func (a *Analyzer) socialSecurity(text string, s, end int) (Finding, bool) {
	if !a.want.has(DESocialSecurity) || end-s < 8 || end-s > 10 {
		return Finding{}, false
	}
	var d []byte
	for k := s; k < end; k++ {
		switch c := text[k]; {
		case isDigit(c):
			d = append(d, c)
		case c != ' ':
			return Finding{}, false
		}
	}
	if len(d) != 8 {
		return Finding{}, false
	}
	n, k := len(text), end
	if k < n && text[k] == ' ' {
		k++
	}
	if k >= n || !isAlpha(text[k]) {
		return Finding{}, false
	}
	letter := text[k]
	k++
	if k < n && text[k] == ' ' {
		k++
	}
	if k+3 > n || !isDigit(text[k]) || !isDigit(text[k+1]) || !isDigit(text[k+2]) || k+3 < n && isAlnum(text[k+3]) {
		return Finding{}, false
	}
	if !deSocialSecurity(d, letter, []byte(text[k:k+3])) {
		return Finding{}, false
	}
	return Finding{Type: DESocialSecurity, Start: s, End: k + 3, Score: 1, Recognizer: "de_social_security"}, true
}

// personalAddr leaves out the addresses that name no one's device: the
// loopback and the unspecified address ("::1 is localhost").
func personalAddr(a netip.Addr) bool {
	return !a.IsLoopback() && !a.IsUnspecified()
}

// ipv4 checks four dot-separated decimal octets without leading zeros.
func ipv4(raw string) bool {
	parts := 0
	for _, p := range strings.Split(raw, ".") {
		if len(p) == 0 || len(p) > 3 || len(p) > 1 && p[0] == '0' {
			return false
		}
		v := 0
		for k := 0; k < len(p); k++ {
			v = v*10 + int(p[k]-'0')
		}
		if v > 255 {
			return false
		}
		parts++
	}
	return parts == 4
}

// isDate accepts D.M.YYYY, DD/MM/YY, YYYY-MM-DD and the like with a
// plausible day and month.
func isDate(raw string) bool {
	sep := byte('.')
	switch {
	case strings.IndexByte(raw, '-') >= 0:
		sep = '-'
	case strings.IndexByte(raw, '/') >= 0:
		sep = '/'
	}
	p := strings.Split(raw, string(sep))
	if len(p) != 3 {
		return false
	}
	num := func(s string) int {
		v := 0
		for k := 0; k < len(s); k++ {
			v = v*10 + int(s[k]-'0')
		}
		return v
	}
	var day, month string
	switch {
	case len(p[0]) == 4 && len(p[1]) <= 2 && len(p[2]) <= 2:
		month, day = p[1], p[2]
	case len(p[0]) <= 2 && len(p[1]) <= 2 && (len(p[2]) == 2 || len(p[2]) == 4):
		day, month = p[0], p[1]
	default:
		return false
	}
	dv, mv := num(day), num(month)
	if mv > 12 && dv <= 12 { // US order: MM/DD/YYYY
		dv, mv = mv, dv
	}
	return dv >= 1 && dv <= 31 && mv >= 1 && mv <= 12
}
