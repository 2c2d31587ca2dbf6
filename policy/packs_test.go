package policy

import (
	"errors"
	"slices"
	"testing"

	"github.com/lethe-privacy/lethe"
)

func TestPack_EveryPackLoadsAndValidates(t *testing.T) {
	names := PackNames()
	if want := []string{"chatbot", "conversations", "erp-marketplace", "webchat"}; !slices.Equal(names, want) {
		t.Fatalf("PackNames() = %v, want %v", names, want)
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			p, err := Pack(name)
			if err != nil {
				t.Fatalf("Pack(%q): %v", name, err)
			}
			if p.Name != name {
				t.Errorf("Name = %q, want %q", p.Name, name)
			}
			if err := p.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
			for _, c := range p.Collections {
				if c.Pack != name {
					t.Errorf("collection %s: Pack = %q, want %q", c.Name, c.Pack, name)
				}
				if c.Title == "" || c.Description == "" || c.Requirement == "" {
					t.Errorf("collection %s: title, description and requirement must be set for the data-protection table", c.Name)
				}
			}
		})
	}
}

func TestPack_UnknownNameIsNotFoundAndListsKnownPacks(t *testing.T) {
	_, err := Pack("crm")
	if !errors.Is(err, lethe.ErrNotFound) {
		t.Fatalf("Pack(crm) error = %v, want ErrNotFound", err)
	}
	for _, n := range PackNames() {
		if !contains(err.Error(), n) {
			t.Errorf("error %q does not name known pack %q", err, n)
		}
	}
}

func TestPack_ReturnsAFreshCopyEachTime(t *testing.T) {
	a, err := Pack("chatbot")
	if err != nil {
		t.Fatal(err)
	}
	a.Collections[0].Name = "changed"
	b, err := Pack("chatbot")
	if err != nil {
		t.Fatal(err)
	}
	if b.Collections[0].Name != "live_chat_messages" {
		t.Errorf("a change to one copy leaked into the next: %q", b.Collections[0].Name)
	}
}
