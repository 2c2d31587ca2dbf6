package policy

import (
	"errors"
	"fmt"

	"github.com/lethe-privacy/lethe"
)

// Set is the catalogue one tenant uses: the collections of one or more
// policies (packs), addressed by collection name. Records name only their
// collection, so a collection name must mean one thing within a tenant;
// Combine refuses policies whose names collide. A Set is not changed after
// Combine and is safe for concurrent use.
type Set struct {
	policies    []*Policy
	collections []*Collection
	byName      map[string]*Collection
}

// Combine builds the set of the given policies. A collection name used by
// two policies (or twice by one) is an error matching lethe.ErrInvalid;
// every clash is reported.
func Combine(policies ...*Policy) (*Set, error) {
	s := &Set{byName: map[string]*Collection{}}
	var errs []error
	for i, p := range policies {
		if p == nil {
			errs = append(errs, fmt.Errorf("combine policies: policy %d is nil: %w", i, lethe.ErrInvalid))
			continue
		}
		s.policies = append(s.policies, p)
		for _, c := range p.Collections {
			if prev, ok := s.byName[c.Name]; ok {
				errs = append(errs, fmt.Errorf("combine policies: collection %s is declared by both %s and %s: %w",
					c.Name, packOf(prev), packOf(c), lethe.ErrInvalid))
				continue
			}
			s.byName[c.Name] = c
			s.collections = append(s.collections, c)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s, nil
}

func packOf(c *Collection) string {
	if c.Pack == "" {
		return "an unnamed policy"
	}
	return "policy " + c.Pack
}

// Collection returns the collection of that name, or nil if no policy of
// the set declares it.
func (s *Set) Collection(name string) *Collection { return s.byName[name] }

// Collections lists every collection in a stable order: policy order as
// given to Combine, then file order. The slice is a copy.
func (s *Set) Collections() []*Collection {
	return append([]*Collection(nil), s.collections...)
}

// Policies lists the set's policies in the order given to Combine. The
// slice is a copy.
func (s *Set) Policies() []*Policy {
	return append([]*Policy(nil), s.policies...)
}

// PhoneRegion is the region the set's policies read phone numbers in: the
// phone_region of the first policy that declares one, in the order given
// to Combine (a tenant's packs, then the application's policy); "" when
// none does.
func (s *Set) PhoneRegion() string {
	for _, p := range s.policies {
		if p.PhoneRegion != "" {
			return p.PhoneRegion
		}
	}
	return ""
}
