package redact

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// token is a word, a number or one punctuation character of the text.
type token struct {
	s, e  int
	kind  byte // 'w' word, 'n' number, 'p' punctuation
	cap   bool // a word starting with an upper-case letter
	lower string
	nl    bool // a line break lies between this token and the one before
}

// tokenize splits text into words (letters with inner hyphens and
// apostrophes: "Müller-Lüdenscheidt", "O'Brien"), numbers (digits with one
// trailing letter: "12a") and single punctuation characters.
func tokenize(text string) []token {
	toks := make([]token, 0, len(text)/5)
	nl := false
	for i := 0; i < len(text); {
		r, w := utf8.DecodeRuneInString(text[i:])
		switch {
		case r == '\n' || r == '\r':
			nl = true
			i += w
		case unicode.IsSpace(r):
			i += w
		case unicode.IsLetter(r):
			j := i + w
			for j < len(text) {
				r2, w2 := utf8.DecodeRuneInString(text[j:])
				if unicode.IsLetter(r2) {
					j += w2
					continue
				}
				if (r2 == '-' || r2 == '\'' || r2 == '’') && j+w2 < len(text) {
					r3, _ := utf8.DecodeRuneInString(text[j+w2:])
					if unicode.IsLetter(r3) {
						j += w2
						continue
					}
				}
				break
			}
			toks = append(toks, token{s: i, e: j, kind: 'w', cap: unicode.IsUpper(r), lower: strings.ToLower(text[i:j]), nl: nl})
			nl = false
			i = j
		case r >= '0' && r <= '9':
			j := i + 1
			for j < len(text) && isDigit(text[j]) {
				j++
			}
			if j < len(text) && isAlpha(text[j]) && (j+1 == len(text) || !isAlnum(text[j+1])) {
				j++
			}
			toks = append(toks, token{s: i, e: j, kind: 'n', lower: text[i:j], nl: nl})
			nl = false
			i = j
		default:
			toks = append(toks, token{s: i, e: i + w, kind: 'p', lower: text[i : i+w], nl: nl})
			nl = false
			i += w
		}
	}
	return toks
}

// scanWords finds names, addresses and dates of birth written with month
// names: the entities that need the words around them.
func (a *Analyzer) scanWords(text string, fs []Finding) []Finding {
	toks := tokenize(text)
	for i := 0; i < len(toks); i++ {
		if a.want.has(Person) {
			if f, ok := personAt(toks, i); ok {
				fs = append(fs, f)
			}
		}
		if a.want.has(Address) {
			if f, ok := addressAt(text, toks, i); ok {
				fs = append(fs, f)
			}
		}
		if a.want.has(DateOfBirth) {
			if f, ok := dobAt(text, toks, i); ok {
				fs = append(fs, f)
			}
		}
	}
	return fs
}

// seq reports whether the lower-cased words from i on are words.
func seq(toks []token, i int, words []string) bool {
	if i+len(words) > len(toks) {
		return false
	}
	for k, w := range words {
		if toks[i+k].lower != w {
			return false
		}
	}
	return true
}

// nameAt returns the end (exclusive token index) of a name starting at
// token i: capitalized words, joined by particles (van der, von), up to
// four words; 0 when token i cannot start a name.
func nameAt(toks []token, i int) int {
	if i >= len(toks) || !isNameWord(toks[i]) {
		return 0
	}
	j, words := i+1, 1
	for j < len(toks) && words < 4 && !toks[j].nl {
		t := toks[j]
		if isNameWord(t) {
			j++
			words++
			continue
		}
		if t.kind == 'w' && particles[t.lower] {
			k := j + 1
			for k < len(toks) && particles[toks[k].lower] {
				k++
			}
			if k < len(toks) && isNameWord(toks[k]) && !toks[k].nl {
				j = k + 1
				words++
				continue
			}
		}
		break
	}
	return j
}

func isNameWord(t token) bool {
	return t.kind == 'w' && t.cap && len(t.lower) > 1 && !notNames[t.lower]
}

// personAt finds a name introduced at token i: by a phrase ("ich heiße",
// "my name is", "mijn naam is"), a salutation (Herr, Mrs, Mevrouw), a
// greeting or closing followed by a listed first name, or a listed first
// name itself.
func personAt(toks []token, i int) (Finding, bool) {
	t := toks[i]
	span := func(from, to int, score float64, rec string) (Finding, bool) {
		return Finding{Type: Person, Start: toks[from].s, End: toks[to-1].e, Score: score, Recognizer: rec}, true
	}
	if t.kind != 'w' {
		return Finding{}, false
	}
	for _, p := range introPhrases {
		if t.lower != p.words[0] || !seq(toks, i, p.words) {
			continue
		}
		k := i + len(p.words)
		for k < len(toks) && (toks[k].lower == ":" || toks[k].lower == ",") {
			k++
		}
		if k >= len(toks) {
			continue
		}
		end := nameAt(toks, k)
		if end == 0 {
			// Chat is often typed in lower case: "my name is anna".
			if toks[k].kind == 'w' && firstNames[toks[k].lower] {
				end = k + 1
				if end < len(toks) && surnames[toks[end].lower] && !toks[end].nl {
					end++
				}
				return span(k, end, 0.75, "person_context")
			}
			continue
		}
		if p.strong || firstNames[toks[k].lower] || surnames[toks[k].lower] {
			return span(k, end, 0.85, "person_context")
		}
	}
	if salutations[t.lower] {
		k := i + 1
		if k < len(toks) && toks[k].lower == "." {
			k++
		}
		for k+1 < len(toks) && titles[toks[k].lower] {
			k++
			if k < len(toks) && toks[k].lower == "." {
				k++
			}
		}
		if end := nameAt(toks, k); end > 0 && !toks[k].nl {
			return span(k, end, 0.85, "person_salutation")
		}
	}
	if greetings[t.lower] || closings[t.lower] {
		k := i + 1
		for k < len(toks) && (toks[k].lower == "," || toks[k].lower == "!" || toks[k].lower == "." || closings[toks[k].lower]) {
			k++
		}
		if end := nameAt(toks, k); end > 0 {
			if firstNames[toks[k].lower] || surnames[toks[k].lower] {
				return span(k, end, 0.8, "person_greeting")
			}
			// A closing followed by a capitalized word on its own line
			// is a signature even when the name is not listed.
			if closings[t.lower] && toks[k].nl && end == len(toks) || closings[t.lower] && toks[k].nl && end < len(toks) && toks[end].nl {
				return span(k, end, 0.7, "person_signature")
			}
		}
	}
	if firstNames[t.lower] && t.cap && (i == 0 || !nameContinues(toks, i)) {
		end := nameAt(toks, i)
		if end > i+1 {
			return span(i, end, 0.8, "person_list")
		}
		return span(i, i+1, 0.6, "person_list")
	}
	return Finding{}, false
}

// nameContinues reports whether token i continues a name begun before it,
// so that "Anna Maria Schmidt" is found once, from Anna.
func nameContinues(toks []token, i int) bool {
	p := toks[i-1]
	return p.kind == 'w' && (firstNames[p.lower] || surnames[p.lower]) && p.cap && !toks[i].nl
}

// addressAt finds a street and house number ("Hauptstraße 12a",
// "Keizersgracht 123", "Rue de la Loi 16", "221b Baker Street"), extended
// by a postcode and town after it, or a postcode and town alone
// ("10115 Berlin", "1012 AB Amsterdam").
func addressAt(text string, toks []token, i int) (Finding, bool) {
	t := toks[i]
	end := -1
	score := 0.0
	switch {
	case t.kind == 'w' && t.cap && isStreetWord(t.lower):
		k := i + 1
		if strings.HasSuffix(t.lower, "str") {
			if k >= len(toks) || toks[k].lower != "." {
				break
			}
			k++
		}
		if k < len(toks) && houseNumber(toks[k]) {
			end, score = k, 0.8
		}
	case t.kind == 'w' && t.cap && (streetPrefixes[t.lower] || t.lower == "am" || t.lower == "an" || t.lower == "auf" || t.lower == "im" || t.lower == "zum" || t.lower == "zur" || t.lower == "unter"):
		// "Rue de la Loi 16", "Am Markt 3": up to four words, then the number.
		for k := i + 1; k < len(toks) && k <= i+5; k++ {
			if houseNumber(toks[k]) {
				if k > i+1 && toks[k-1].cap {
					end, score = k, 0.7
				}
				break
			}
			if toks[k].kind != 'w' || toks[k].nl {
				break
			}
		}
	case t.kind == 'n' && houseNumber(t):
		// English order: number, name, street word.
		for k := i + 1; k < len(toks) && k <= i+4; k++ {
			if toks[k].kind != 'w' || !toks[k].cap || toks[k].nl {
				break
			}
			if englishStreets[toks[k].lower] && k > i+1 {
				end, score = k, 0.75
				break
			}
		}
	}
	if end >= 0 {
		if pe := postcodeAfter(toks, end+1, true); pe > 0 {
			end, score = pe, 0.9
		}
		return Finding{Type: Address, Start: t.s, End: toks[end].e, Score: score, Recognizer: "address_street"}, true
	}
	// A postcode stands alone: digits glued to letters ("1Z12345E0205",
	// a tracking number) are part of a code, not an address.
	gluedBefore := i > 0 && toks[i-1].e == t.s && toks[i-1].lower != "-"
	gluedAfter := i+1 < len(toks) && toks[i+1].s == t.e
	if t.kind == 'n' && (i == 0 || !houseNumber(toks[i-1])) && !gluedBefore && !gluedAfter {
		if pe := postcodeAfter(toks, i, false); pe > 0 {
			s := t.s
			// "D-10115": a country letter before the postcode.
			if i >= 2 && toks[i-1].lower == "-" && toks[i-2].kind == 'w' && len(toks[i-2].lower) == 1 && toks[i-2].e == toks[i-1].s {
				s = toks[i-2].s
			}
			return Finding{Type: Address, Start: s, End: toks[pe].e, Score: 0.75, Recognizer: "address_postcode"}, true
		}
	}
	return Finding{}, false
}

// postcodeAfter reads a postcode and town from token k on (after an
// optional comma) and returns the index of the town's last token, or 0.
// A 4-digit postcode with a town (BE, AT, CH) is taken after a street
// only: alone it is as likely a year ("2024 Termine").
func postcodeAfter(toks []token, k int, afterStreet bool) int {
	if afterStreet && k < len(toks) && toks[k].lower == "," {
		k++
	}
	if k >= len(toks) || toks[k].kind != 'n' {
		return 0
	}
	code := toks[k].lower
	digits := len(code)
	if digits > 0 && !isDigit(code[digits-1]) {
		return 0
	}
	town := func(j int) int {
		if j < len(toks) && isTownWord(toks[j]) {
			e := j
			for e+1 < len(toks) && isTownWord(toks[e+1]) && !toks[e+1].nl && e-j < 2 {
				e++
			}
			return e
		}
		return 0
	}
	switch digits {
	case 5:
		if code[0] == '0' && code[1] == '0' {
			return 0
		}
		return town(k + 1)
	case 4:
		if code[0] == '0' {
			return 0
		}
		// Dutch: 1012 AB, optionally a town.
		if k+1 < len(toks) && toks[k+1].kind == 'w' && len(toks[k+1].lower) == 2 && isUpperASCII(toks[k+1], dutchLetters) {
			if e := town(k + 2); e > 0 {
				return e
			}
			return k + 1
		}
		if afterStreet {
			return town(k + 1)
		}
	}
	return 0
}

var dutchLetters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

func isUpperASCII(t token, set string) bool {
	for _, c := range []byte(t.lower) {
		if !strings.ContainsRune(strings.ToLower(set), rune(c)) {
			return false
		}
	}
	// Dutch postcodes never use SA, SD or SS; units after a number
	// ("1024 MB") are no postcode letters either.
	return t.cap && t.e-t.s == 2 && !notNames[t.lower] && !notPostcodeLetters[t.lower]
}

var notPostcodeLetters = wordSet("sa", "sd", "ss", "eu", "ok", "kb", "mb", "gb", "tb", "km", "kg", "cm", "mm", "ml", "ps", "kw", "hz", "pc", "tv", "uk", "us", "nl", "de", "be")

func isTownWord(t token) bool {
	return t.kind == 'w' && t.cap && !notTowns[t.lower]
}

// houseNumber accepts 1 to 3 digits with an optional letter ("12a"): a
// fourth digit is far more often a year ("Im Jahr 2024").
func houseNumber(t token) bool {
	if t.kind != 'n' {
		return false
	}
	d := 0
	for _, c := range []byte(t.lower) {
		if isDigit(c) {
			d++
		}
	}
	return d >= 1 && d <= 3 && t.lower[0] != '0'
}

func isStreetWord(lower string) bool {
	for _, s := range streetSuffixes {
		if strings.HasSuffix(lower, s) && len(lower) > len(s)+1 {
			return true
		}
	}
	return false
}

// dobAt finds a date written with a month name ("12. März 1985", "12 maart
// 1985", "March 12, 1985") near a birth word.
func dobAt(text string, toks []token, i int) (Finding, bool) {
	t := toks[i]
	var end int
	switch {
	case t.kind == 'n' && len(t.lower) <= 2:
		k := i + 1
		if k < len(toks) && toks[k].lower == "." {
			k++
		}
		if k+1 < len(toks) && months[toks[k].lower] && isYear(toks[k+1]) {
			end = k + 1
		}
	case t.kind == 'w' && months[t.lower]:
		k := i + 1
		if k < len(toks) && toks[k].kind == 'n' && len(toks[k].lower) <= 2 {
			k++
			if k < len(toks) && toks[k].lower == "," {
				k++
			}
			if k < len(toks) && isYear(toks[k]) {
				end = k
			}
		}
	}
	if end == 0 || !birthContext(text, t.s, toks[end].e) {
		return Finding{}, false
	}
	return Finding{Type: DateOfBirth, Start: t.s, End: toks[end].e, Score: 0.9, Recognizer: "date_of_birth_context"}, true
}

func isYear(t token) bool {
	return t.kind == 'n' && len(t.lower) == 4 && (strings.HasPrefix(t.lower, "19") || strings.HasPrefix(t.lower, "20"))
}
