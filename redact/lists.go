package redact

import (
	_ "embed"
	"strings"
)

// The name lists ship in the binary (lists/README.md gives their origin
// and licence): nothing is downloaded at run time.
var (
	//go:embed lists/first_names.txt
	firstNamesTxt string
	//go:embed lists/surnames.txt
	surnamesTxt string

	firstNames = wordSet(firstNamesTxt)
	surnames   = wordSet(surnamesTxt)
)

// wordSet reads one word a line, lower-cased, skipping blanks and #
// comments. The sets are built once at start and never written again.
func wordSet(lines ...string) map[string]bool {
	m := map[string]bool{}
	for _, txt := range lines {
		for _, l := range strings.Split(txt, "\n") {
			l = strings.TrimSpace(l)
			if l != "" && !strings.HasPrefix(l, "#") {
				m[strings.ToLower(l)] = true
			}
		}
	}
	return m
}

// phrase is a context phrase before a name; a strong one ("my name is")
// takes any capitalized word, a weak one ("I am", "ich bin") only a listed
// name, since "I am Dutch" and "ich bin Berliner" are no names.
type phrase struct {
	words  []string
	strong bool
}

var introPhrases = []phrase{
	{[]string{"ich", "heiße"}, true}, {[]string{"ich", "heisse"}, true},
	{[]string{"mein", "name", "ist"}, true}, {[]string{"mein", "name", "lautet"}, true},
	{[]string{"my", "name", "is"}, true}, {[]string{"my", "name", "'", "s"}, true},
	{[]string{"mijn", "naam", "is"}, true}, {[]string{"ik", "heet"}, true},
	{[]string{"name", ":"}, true}, {[]string{"naam", ":"}, true},
	{[]string{"vorname", ":"}, true}, {[]string{"nachname", ":"}, true},
	{[]string{"ich", "bin"}, false}, {[]string{"ik", "ben"}, false},
	{[]string{"i", "am"}, false}, {[]string{"i'm"}, false}, {[]string{"this", "is"}, false},
	{[]string{"hier", "ist"}, false}, {[]string{"hier", "spricht"}, false},
	{[]string{"met"}, false}, {[]string{"spreche", "mit"}, false},
	{[]string{"call", "me"}, false}, {[]string{"je", "m'appelle"}, true},
	{[]string{"kontoinhaber"}, true}, {[]string{"kontoinhaberin"}, true}, {[]string{"account", "holder"}, true}, {[]string{"contact", "person"}, true},
	{[]string{"ansprechpartner", ":"}, true}, {[]string{"contactpersoon", ":"}, true},
}

var (
	salutations = wordSet("herr", "herrn", "frau", "hr", "fr", "mr", "mrs", "ms", "miss", "mister", "dhr", "mevr", "meneer", "mevrouw", "mw", "heer", "madame", "monsieur", "mme")
	titles      = wordSet("dr", "prof", "ing", "ir", "mr", "drs", "dipl")
	greetings   = wordSet("hallo", "hi", "hey", "hello", "dear", "liebe", "lieber", "beste", "hoi", "moin", "servus", "dag", "goedemorgen", "goedemiddag")
	closings    = wordSet("grüße", "grüßen", "gruß", "gruss", "grüsse", "regards", "groeten", "groet", "mfg", "lg", "vg", "cheers", "thanks", "danke", "bedankt", "dank", "best", "sincerely", "yours", "tschüss", "ciao")
	particles   = wordSet("van", "de", "der", "den", "ter", "ten", "te", "von", "zu", "vom", "het", "'t", "la", "le", "du", "da", "di")
	// notNames are capitalized words that follow greetings and salutations
	// or start sentences but name nobody.
	notNames = wordSet("team", "support", "zusammen", "allerseits", "leute", "kunde", "kundin", "service", "danke", "bitte", "ja", "nein", "ok", "okay", "hallo", "hi", "grüße", "gruß", "liebe", "lieber", "sehr", "geehrte", "geehrter", "damen", "herren", "allemaal", "iedereen", "everyone", "all", "there", "sir", "madam", "mevrouw", "meneer", "herr", "frau", "ich", "wir", "sie", "du", "er", "es", "ik", "wij", "je", "jij", "u", "i", "we", "you", "he", "she", "the", "der", "die", "das", "een", "het", "a", "an", "und", "and", "en", "mit", "with", "met", "am", "um", "im", "in", "bei", "von", "for", "für", "voor", "heute", "morgen", "gestern", "today", "tomorrow", "vandaag", "gute", "guten", "good", "goede", "best", "viele", "many", "veel", "freundliche", "kind", "vriendelijke", "hartelijke", "herzliche", "mfg", "lg", "vg", "euro", "eur", "bestellung", "order", "bestelling", "paket", "rechnung", "nummer", "number", "januar", "februar", "märz", "april", "mai", "juni", "juli", "august", "september", "oktober", "november", "dezember", "montag", "dienstag", "mittwoch", "donnerstag", "freitag", "samstag", "sonntag", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag", "berlin", "hamburg", "münchen", "köln", "amsterdam", "rotterdam", "brussel", "antwerpen", "deutschland", "germany", "nederland", "belgië", "belgien")
	notTowns = wordSet("euro", "eur", "stück", "stk", "mal", "jahre", "jahren", "years", "jaar", "kunden", "euro.", "uhr", "minuten", "tage", "days", "dagen", "mitarbeiter", "artikel", "items", "punkte", "points", "seiten", "pages", "kg", "km", "mb", "gb", "bestellungen", "orders", "und", "and", "en", "oder", "or", "of", "im", "in", "bis", "to", "tot", "ich", "i", "ik", "januar", "january", "januari")

	streetSuffixes = []string{"straße", "strasse", "str", "weg", "gasse", "allee", "platz", "ring", "damm", "ufer", "chaussee", "pfad", "steig", "markt", "straat", "laan", "gracht", "plein", "kade", "singel", "dijk", "dreef", "steenweg", "lei", "hof", "park", "berg", "wall", "graben", "kamp", "veld"}
	streetPrefixes = wordSet("rue", "avenue", "boulevard", "chaussée", "place", "chemin", "quai", "impasse", "rua", "via", "calle")
	englishStreets = wordSet("street", "st", "road", "rd", "avenue", "ave", "lane", "ln", "drive", "dr", "close", "way", "court", "crescent", "terrace", "place", "square", "boulevard")
	months         = wordSet("januar", "jänner", "jan", "january", "januari", "februar", "feb", "february", "februari", "märz", "maerz", "mär", "march", "mar", "maart", "mrt", "april", "apr", "mai", "may", "mei", "juni", "jun", "june", "juli", "jul", "july", "august", "aug", "augustus", "september", "sep", "sept", "oktober", "okt", "october", "oct", "november", "nov", "dezember", "dez", "december", "dec")
)
