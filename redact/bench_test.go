package redact

import (
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the CPU time this process has used, all threads (the
// garbage collector's too). On a machine shared with other work the wall
// clock says more about the neighbours than about the code; bytes per
// CPU second is the throughput of one core.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds the MB per CPU second of the loop since start.
func reportCPU(b *testing.B, start time.Duration, bytes int) {
	if d := cpuTime(b) - start; d > 0 {
		b.ReportMetric(float64(bytes)*float64(b.N)/1e6/d.Seconds(), "MB/cpu-s")
	}
}

// benchText is the labelled cases without their labels, one message a
// line, repeated to about 1 MiB: chat text far denser in personal data
// than real traffic, so the figures are a floor.
func benchText(b *testing.B) string { return benchMix(b, 1) }

// sparseText is closer to a shop's chat traffic: the hard negatives (order,
// tracking and article numbers, dates, prices) in full and only one in ten
// of the messages with personal data, so that most messages hold numbers
// and none of them is personal data.
func sparseText(b *testing.B) string { return benchMix(b, 10) }

// benchMix joins every message without labels and every n-th message with
// labels, repeated to about 1 MiB.
func benchMix(b *testing.B, n int) string {
	files, _ := filepath.Glob("testdata/eval/*.txt")
	var msgs []string
	k := 0
	for _, p := range files {
		_, cases := readCases(b, p)
		for _, c := range cases {
			if len(c.gold) > 0 {
				if k++; k%n != 0 {
					continue
				}
			}
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

func BenchmarkRegexBaseline(b *testing.B)       { regexBaseline(b, benchText(b)) }
func BenchmarkRegexBaselineSparse(b *testing.B) { regexBaseline(b, sparseText(b)) }

func regexBaseline(b *testing.B, text string) {
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	cpu := cpuTime(b)
	for b.Loop() {
		n := 0
		for _, re := range baseline {
			n += len(re.FindAllStringIndex(text, -1))
		}
		if n == 0 {
			b.Fatal("baseline found nothing")
		}
	}
	reportCPU(b, cpu, len(text))
}

// BenchmarkStructured runs the structured recognizers alone (e-mail,
// phone, IBAN, card, IP, URL, tax and social-security numbers) on one
// core: the 20 MB/s bar.
func BenchmarkStructured(b *testing.B) {
	benchAnalyzer(b, Options{Entities: structured()}, benchText(b))
}

// BenchmarkStructuredSparse is BenchmarkStructured on sparseText.
func BenchmarkStructuredSparse(b *testing.B) {
	benchAnalyzer(b, Options{Entities: structured()}, sparseText(b))
}

func structured() []Entity {
	var ents []Entity
	for _, e := range Entities {
		if e.Structured() {
			ents = append(ents, e)
		}
	}
	return ents
}

// BenchmarkAll adds names, addresses and dates of birth (the word pass).
func BenchmarkAll(b *testing.B) { benchAnalyzer(b, Options{}, benchText(b)) }

// BenchmarkAllSparse is BenchmarkAll on sparseText.
func BenchmarkAllSparse(b *testing.B) { benchAnalyzer(b, Options{}, sparseText(b)) }

func benchAnalyzer(b *testing.B, o Options, text string) {
	a, err := New(o)
	if err != nil {
		b.Fatal(err)
	}
	msgs := strings.Split(text, "\n")
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	cpu := cpuTime(b)
	n := 0
	for b.Loop() {
		for _, m := range msgs {
			n += len(a.Analyze(m))
		}
	}
	reportCPU(b, cpu, len(text))
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
