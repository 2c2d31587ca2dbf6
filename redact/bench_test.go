package redact

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// benchText is the labelled cases without their labels, one message a
// line, repeated to about 1 MiB: chat text far denser in personal data
// than real traffic, so the figures are a floor.
func benchText(b *testing.B) string {
	files, _ := filepath.Glob("testdata/eval/*.txt")
	var msgs []string
	for _, p := range files {
		_, cases := readCases(b, p)
		for _, c := range cases {
			msgs = append(msgs, c.text)
		}
	}
	one := strings.Join(msgs, "\n") + "\n"
	return strings.Repeat(one, 1<<20/len(one)+1)
}

// baseline is a plain-regex recognizer set of the kind Presidio runs (one
// pattern per entity, each a pass over the text, no validation): the
// figure the one-pass scanner is measured against.
var baseline = []*regexp.Regexp{
	regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}`),
	regexp.MustCompile(`(?:\+|00)?\d[\d \-/().]{6,18}\d`),
	regexp.MustCompile(`\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}(?: ?[A-Z0-9]{1,4})?\b`),
	regexp.MustCompile(`\b(?:\d[ -]?){12,18}\d\b`),
	regexp.MustCompile(`\b(?:\d{1,3}\.){3}\d{1,3}\b`),
	regexp.MustCompile(`https?://[^\s<>"]+|www\.[^\s<>"]+`),
}

func BenchmarkRegexBaseline(b *testing.B) {
	text := benchText(b)
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for b.Loop() {
		n := 0
		for _, re := range baseline {
			n += len(re.FindAllStringIndex(text, -1))
		}
		if n == 0 {
			b.Fatal("baseline found nothing")
		}
	}
}

// BenchmarkStructured runs the structured recognizers alone (e-mail,
// phone, IBAN, card, IP, URL, tax and social-security numbers) on one
// core: the 20 MB/s bar.
func BenchmarkStructured(b *testing.B) {
	var ents []Entity
	for _, e := range Entities {
		if e.Structured() {
			ents = append(ents, e)
		}
	}
	benchAnalyzer(b, Options{Entities: ents})
}

// BenchmarkAll adds names, addresses and dates of birth (the word pass).
func BenchmarkAll(b *testing.B) { benchAnalyzer(b, Options{}) }

func benchAnalyzer(b *testing.B, o Options) {
	a, err := New(o)
	if err != nil {
		b.Fatal(err)
	}
	text := benchText(b)
	msgs := strings.Split(text, "\n")
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	n := 0
	for b.Loop() {
		for _, m := range msgs {
			n += len(a.Analyze(m))
		}
	}
	if n == 0 {
		b.Fatal("found nothing")
	}
	b.ReportMetric(float64(len(msgs))*float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkTag measures Analyze plus the Tag operator per message.
func BenchmarkTag(b *testing.B) {
	a, _ := New(Options{})
	text := benchText(b)
	msgs := strings.Split(text, "\n")
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for b.Loop() {
		for _, m := range msgs {
			if _, err := Apply(m, a.Analyze(m), Tag{}); err != nil {
				b.Fatal(err)
			}
		}
	}
}
