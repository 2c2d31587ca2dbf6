package policy

import (
	"errors"
	"strings"
	"testing"

	"github.com/lethe-privacy/lethe"
)

func TestPacks_DeclareTheirPhoneRegion(t *testing.T) {
	want := map[string]string{"chatbot": "DE", "conversations": "BE", "erp-marketplace": "DE", "webchat": ""}
	for _, name := range PackNames() {
		p, err := Pack(name)
		if err != nil {
			t.Fatal(err)
		}
		if p.PhoneRegion != want[name] {
			t.Errorf("pack %s: phone_region %q, want %q", name, p.PhoneRegion, want[name])
		}
	}
}

func TestParse_PhoneRegion(t *testing.T) {
	doc := func(region string) []byte {
		return []byte("version: 1\nname: shop\n" + region + "collections:\n  - name: notes\n    fields:\n      - {name: text, type: text}\n    rules:\n      - {action: delete, period: 30d}\n")
	}
	p, err := Parse("shop.yaml", doc("phone_region: NL\n"))
	if err != nil || p.PhoneRegion != "NL" {
		t.Fatalf("Parse = %v, %v; want region NL", p, err)
	}
	p, err = Parse("shop.yaml", doc(""))
	if err != nil || p.PhoneRegion != "" {
		t.Fatalf("Parse without a region = %v, %v; want none", p, err)
	}
	for _, bad := range []string{"nl", "XX", "DEU"} {
		_, err = Parse("shop.yaml", doc("phone_region: "+bad+"\n"))
		if !errors.Is(err, lethe.ErrInvalid) || !strings.HasPrefix(err.Error(), "shop.yaml:3:15: phone_region \""+bad+"\"") {
			t.Errorf("phone_region %s: err = %v, want shop.yaml:3:15: phone_region ...", bad, err)
		}
	}
}

func TestSet_PhoneRegionOfTheFirstPackThatNamesOne(t *testing.T) {
	a := &Policy{Name: "a"}
	b := &Policy{Name: "b", PhoneRegion: "BE"}
	c := &Policy{Name: "c", PhoneRegion: "NL"}
	tests := []struct {
		name string
		ps   []*Policy
		want string
	}{
		{"none names one", []*Policy{a}, ""},
		{"the first that names one", []*Policy{a, b, c}, "BE"},
		{"order matters", []*Policy{c, b}, "NL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Combine(tt.ps...)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.PhoneRegion(); got != tt.want {
				t.Errorf("PhoneRegion = %q, want %q", got, tt.want)
			}
		})
	}
}
