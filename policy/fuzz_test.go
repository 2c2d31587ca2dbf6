package policy

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the loader: it must answer with a
// policy or an error, never panic, and a policy it accepts must pass
// validation again and print as a data-protection table.
func FuzzParse(f *testing.F) {
	// Small fixtures only: the fuzzer minimizes every new interesting
	// input, which takes minutes for a pack-sized seed. The packs are
	// covered by the pack tests.
	for _, dir := range []string{"testdata/good", "testdata/bad"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Add([]byte("version: 1\nname: x\ncollections: [{name: a, fields: [{name: b, type: list, anonymize: each, items: [{name: c, type: list, items: [{name: d, type: string}]}]}]}]"))
	f.Add([]byte("[1, 2, 3]"))
	f.Add([]byte("---\n...\n---\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("fuzz.yaml", data)
		if err != nil {
			if p != nil {
				t.Fatal("policy returned along with an error")
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("accepted policy fails Validate: %v", err)
		}
		if err := WriteDoc(discard{}, p); err != nil {
			t.Fatal(err)
		}
	})
}

type discard struct{}

func (discard) Write(b []byte) (int, error) { return len(b), nil }
