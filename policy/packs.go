package policy

import (
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/lethe-privacy/lethe"
)

// The packs are ordinary policy files compiled into the binary, so that a
// tenant can start from "chatbot" or "erp-marketplace" without writing
// YAML, and so that `lethe policy doc` prints what the binary enforces.
//
//go:embed packs/*.yaml
var packFiles embed.FS

// Pack parses the embedded pack of that name. Each call returns a fresh
// copy, so a caller may not change another caller's policy. An unknown
// name is an error matching lethe.ErrNotFound that lists the known packs.
func Pack(name string) (*Policy, error) {
	names := PackNames()
	if !slices.Contains(names, name) {
		return nil, fmt.Errorf("pack %q: %w (known packs: %s)", name, lethe.ErrNotFound, strings.Join(names, ", "))
	}
	file := "packs/" + name + ".yaml"
	data, err := packFiles.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("pack %q: %w", name, err)
	}
	return Parse(file, data)
}

// PackNames lists the embedded packs, sorted.
func PackNames() []string {
	entries, err := fs.ReadDir(packFiles, "packs")
	if err != nil {
		return nil // cannot happen: the directory is embedded
	}
	var names []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".yaml"); ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}
