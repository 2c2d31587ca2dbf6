package policy

import (
	"fmt"
	"os"

	"gopkg.in/yaml.v3"

	"github.com/lethe-privacy/lethe"
)

// Parse reads a policy from YAML, fills in the defaults and validates it.
// name is the file name errors are reported against. Every problem is
// reported, each as an *Error ("name:line:col: message") matching
// lethe.ErrInvalid, joined with errors.Join in file order; on error the
// policy is nil.
//
// Defaults: a rule without a name goes by its action and counts from
// created_at when it has no basis; a field with a subject, or a list with
// PII items, is PII; a field is anonymized by erase when it holds personal
// data (PII or personal) and kept otherwise; a collection is enabled by
// default unless it says enabled_by_default: false. Collection.Pack is set
// to the policy's name.
func Parse(name string, data []byte) (*Policy, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, syntaxError(name, err)
	}
	root := &doc
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		root = doc.Content[0]
	}
	if root.Kind == 0 || root.Kind == yaml.DocumentNode || isNull(root) {
		return nil, &Error{File: name, Line: 1, Column: 1, Msg: "empty policy: want a mapping with version, name and collections"}
	}
	d := &decoder{file: name, locs: locs{}}
	p := d.policy(root)
	setDefaults(p, d.locs)
	v := &validator{file: name, locs: d.locs}
	v.policy(p)
	if errs := append(d.errs, v.errs...); len(errs) > 0 {
		return nil, joinSorted(errs)
	}
	return p, nil
}

// LoadFile reads and parses the policy file at path.
func LoadFile(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load policy: %w", err)
	}
	return Parse(path, data)
}

// Validate checks a policy built in code by the same rules Parse applies
// to a file (without file positions). Defaults are not filled in: an empty
// rule name, basis or operator is checked as its default.
func (p *Policy) Validate() error {
	name := p.Name
	if name == "" {
		name = "policy"
	}
	v := &validator{file: name, locs: locs{}}
	v.policy(p)
	return joinSorted(v.errs)
}

// setDefaults fills in what the file may leave out. Explicit values are
// never overridden; where the zero value is itself meaningful
// (enabled_by_default: false) the decoder's positions tell whether the
// file set it.
func setDefaults(p *Policy, l locs) {
	for _, c := range p.Collections {
		c.Pack = p.Name
		if !l.has(c, "enabled_by_default") {
			c.EnabledByDefault = true
		}
		if !c.Switchable {
			// Validation rejects an explicit false; a required collection
			// is always on.
			c.EnabledByDefault = true
		}
		fieldDefaults(c.Fields)
		for _, r := range c.Rules {
			if r.Name == "" && validAction(r.Action) {
				r.Name = string(r.Action)
			}
			if r.Basis == "" {
				r.Basis = BasisCreatedAt
			}
		}
	}
}

func fieldDefaults(fs []*Field) {
	for _, f := range fs {
		fieldDefaults(f.Items)
		if f.IsPII() {
			f.PII = true
		}
		if f.Anonymize == "" {
			f.Anonymize = OpKeep
			if f.IsPersonal() {
				f.Anonymize = OpErase
			}
		}
	}
}

// The record's own timestamps a rule may count from; any other basis
// names a plain timestamp field.
const (
	BasisCreatedAt = "created_at"
	BasisUpdatedAt = "updated_at"
)

func validAction(a lethe.Action) bool {
	return a == lethe.ActionDelete || a == lethe.ActionAnonymize || a == lethe.ActionHold
}
