package redact

// The check digits below are what separates an identifier from a number
// that merely has its length: an order number of 16 digits passes Luhn
// one time in ten, a random 22-character string passes mod-97 one time in
// 97. Each function takes the digits (and letters) alone, separators
// already removed.

// luhn reports whether the digits pass the Luhn check (payment cards).
func luhn(d []byte) bool {
	sum := 0
	double := false
	for i := len(d) - 1; i >= 0; i-- {
		n := int(d[i] - '0')
		if double {
			n *= 2
			if n > 9 {
				n -= 9
			}
		}
		sum += n
		double = !double
	}
	return sum%10 == 0
}

// cardPrefix reports whether the number starts like a card of a network
// that issues 13 to 19 digit numbers (Visa 4, Mastercard 51-55 and
// 2221-2720, Amex 34/37, Diners 30/36/38, Discover 6011/64/65, JCB 35,
// UnionPay 62, Maestro 50/56-58/67), so that a Luhn-valid account or
// order number of another shape is not taken for a card.
func cardPrefix(d []byte) bool {
	if len(d) < 13 || len(d) > 19 {
		return false
	}
	p2 := int(d[0]-'0')*10 + int(d[1]-'0')
	p4 := p2*100 + int(d[2]-'0')*10 + int(d[3]-'0')
	switch {
	case d[0] == '4':
		return true
	case p2 >= 51 && p2 <= 55, p4 >= 2221 && p4 <= 2720:
		return len(d) == 16
	case p2 == 34 || p2 == 37:
		return len(d) == 15
	case p2 == 30 || p2 == 36 || p2 == 38 || p2 == 35 || p2 == 62 || p2 == 64 || p2 == 65 || p4 == 6011:
		return true
	case p2 == 50 || (p2 >= 56 && p2 <= 58) || p2 == 67:
		return true
	}
	return false
}

// ibanLength gives the IBAN length of the countries Lethe's tenants deal
// with (SEPA and neighbours). A country not listed is not recognized: with
// mod-97 alone and any length between 15 and 34, one random string in five
// would pass some length.
var ibanLength = map[string]int{
	"AD": 24, "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24,
	"DE": 22, "DK": 18, "EE": 20, "ES": 24, "FI": 18, "FR": 27, "GB": 22,
	"GR": 27, "HR": 21, "HU": 28, "IE": 22, "IS": 26, "IT": 27, "LI": 21,
	"LT": 20, "LU": 20, "LV": 21, "MC": 27, "MT": 31, "NL": 18, "NO": 15,
	"PL": 28, "PT": 25, "RO": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27,
}

// ibanValid checks an upper-cased IBAN without spaces: ISO 13616 mod-97,
// the first four characters moved to the end and letters read as 10..35.
func ibanValid(s []byte) bool {
	if len(s) < 15 || len(s) > 34 {
		return false
	}
	rem := 0
	for i := range s {
		c := s[(i+4)%len(s)]
		switch {
		case c >= '0' && c <= '9':
			rem = (rem*10 + int(c-'0')) % 97
		case c >= 'A' && c <= 'Z':
			rem = (rem*100 + int(c-'A') + 10) % 97
		default:
			return false
		}
	}
	return rem == 1
}

// deTaxID checks a German tax identification number (Steuerliche
// Identifikationsnummer, § 139b AO): 11 digits, no leading zero, in the
// first ten one digit appears twice or three times and every other at most
// once, and the last is the ISO 7064 MOD 11,10 check digit.
func deTaxID(d []byte) bool {
	if len(d) != 11 || d[0] == '0' {
		return false
	}
	var count [10]int
	for _, c := range d[:10] {
		count[c-'0']++
	}
	multi := 0
	for _, n := range count {
		switch {
		case n > 3:
			return false
		case n >= 2:
			multi++
		}
	}
	if multi != 1 {
		return false
	}
	product := 10
	for _, c := range d[:10] {
		sum := (int(c-'0') + product) % 10
		if sum == 0 {
			sum = 10
		}
		product = (sum * 2) % 11
	}
	check := 11 - product
	if check == 10 {
		check = 0
	}
	return int(d[10]-'0') == check
}

// beNationalNumber checks a Belgian national register number
// (Rijksregisternummer): YYMMDD, a 3-digit serial, and 97 minus the first
// nine digits mod 97 as the last two; for people born from 2000 on, the
// nine digits are prefixed with 2 before the division. The date part may
// hold month or day 00 (birth date unknown) and bis numbers add 20 or 40
// to the month.
func beNationalNumber(d []byte) bool {
	if len(d) != 11 {
		return false
	}
	mm := int(d[2]-'0')*10 + int(d[3]-'0')
	dd := int(d[4]-'0')*10 + int(d[5]-'0')
	if mm > 40 {
		mm -= 40
	} else if mm > 20 {
		mm -= 20
	}
	if mm > 12 || dd > 31 {
		return false
	}
	n := 0
	for _, c := range d[:9] {
		n = n*10 + int(c-'0')
	}
	check := int(d[9]-'0')*10 + int(d[10]-'0')
	return 97-n%97 == check || 97-(2000000000+n)%97 == check
}

// deSocialSecurity checks a German pension insurance number
// (Versicherungsnummer, VKVV § 2): area (2 digits), birth date DDMMYY,
// the birth name's initial, serial (2 digits) and a check digit. The
// letter counts as its two-digit alphabet position; the twelve digits are
// weighted 2,1,2,5,7,1,2,1,2,1,2,1, the digit sums of the products added,
// and the total mod 10 is the check digit.
func deSocialSecurity(digits8 []byte, letter byte, tail3 []byte) bool {
	if len(digits8) != 8 || len(tail3) != 3 {
		return false
	}
	if letter >= 'a' && letter <= 'z' {
		letter -= 'a' - 'A'
	}
	if letter < 'A' || letter > 'Z' {
		return false
	}
	dd := int(digits8[2]-'0')*10 + int(digits8[3]-'0')
	mm := int(digits8[4]-'0')*10 + int(digits8[5]-'0')
	// Days above 31 mark a number given twice on one day (+50).
	if dd > 50 {
		dd -= 50
	}
	if dd < 1 || dd > 31 || mm < 1 || mm > 12 {
		return false
	}
	pos := int(letter-'A') + 1
	var all [12]int
	for i := 0; i < 8; i++ {
		all[i] = int(digits8[i] - '0')
	}
	all[8], all[9] = pos/10, pos%10
	all[10], all[11] = int(tail3[0]-'0'), int(tail3[1]-'0')
	weights := [12]int{2, 1, 2, 5, 7, 1, 2, 1, 2, 1, 2, 1}
	sum := 0
	for i, w := range weights {
		p := all[i] * w
		sum += p/10 + p%10
	}
	return sum%10 == int(tail3[2]-'0')
}
