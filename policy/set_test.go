package policy

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/lethe-privacy/lethe"
)

func TestCombine_AllPacksFitTogether(t *testing.T) {
	var ps []*Policy
	var want []string
	for _, name := range PackNames() {
		p, err := Pack(name)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
		for _, c := range p.Collections {
			want = append(want, c.Name)
		}
	}
	s, err := Combine(ps...)
	if err != nil {
		t.Fatalf("Combine: %v", err)
	}
	var got []string
	for _, c := range s.Collections() {
		got = append(got, c.Name)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Collections() order (-want +got):\n%s", diff)
	}
	if c := s.Collection("orders"); c == nil || c.Pack != "erp-marketplace" {
		t.Errorf("Collection(orders) = %+v, want the erp-marketplace collection", c)
	}
	if c := s.Collection("missing"); c != nil {
		t.Errorf("Collection(missing) = %+v, want nil", c)
	}
	if len(s.Policies()) != len(ps) {
		t.Errorf("Policies() = %d, want %d", len(s.Policies()), len(ps))
	}
}

func TestCombine_OrderFollowsTheArguments(t *testing.T) {
	conv, _ := Pack("conversations")
	erp, _ := Pack("erp-marketplace")
	s, err := Combine(erp, conv)
	if err != nil {
		t.Fatal(err)
	}
	cs := s.Collections()
	if cs[0].Name != "orders" || cs[len(cs)-1].Name != "contexts" {
		t.Errorf("order = %s ... %s, want orders ... contexts", cs[0].Name, cs[len(cs)-1].Name)
	}
	cs[0] = nil // the slice is a copy
	if s.Collections()[0] == nil {
		t.Error("Collections() exposes the set's own slice")
	}
}

func TestCombine_RefusesACollectionNameUsedTwice(t *testing.T) {
	a, _ := Pack("chatbot")
	b, _ := Pack("chatbot")
	b.Name = "chatbot_copy"
	for _, c := range b.Collections {
		c.Pack = b.Name
	}
	s, err := Combine(a, b)
	if err == nil {
		t.Fatal("Combine accepted two policies declaring the same collections")
	}
	if s != nil {
		t.Error("Combine returned a set along with the error")
	}
	if !errors.Is(err, lethe.ErrInvalid) {
		t.Errorf("error %v does not match ErrInvalid", err)
	}
	msg := err.Error()
	for _, want := range []string{"collection live_chat_messages is declared by both policy chatbot and policy chatbot_copy", "web_notifications"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
}

func TestCombine_RefusesNil(t *testing.T) {
	if _, err := Combine(nil); !errors.Is(err, lethe.ErrInvalid) {
		t.Errorf("Combine(nil) = %v, want ErrInvalid", err)
	}
}
