package policy

import (
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/lethe-privacy/lethe"
)

// The policy is decoded by walking the yaml.Node tree by hand rather than
// with yaml.Decoder.KnownFields: the walk knows the line and column of every
// key and value, reports all unknown keys and bad values at once instead of
// the first, and remembers where each value was written so that validation
// errors point at the right line as well.

// loc names one key of one decoded object; obj is a pointer (*Policy,
// *Collection, *Field, *Rule) and key is the YAML key, with a sub-key or an
// index where needed ("period.max", "period.options[2]", "when.present[0]").
// The empty key is the object itself.
type loc struct {
	obj any
	key string
}

// pos is a 1-based line and column.
type pos struct{ line, col int }

// locs remembers where each decoded value stood in the file.
type locs map[loc]pos

// at returns the position of obj's key, falling back to the object itself;
// zero when unknown (a policy built in code has no positions).
func (l locs) at(obj any, key string) pos {
	if p, ok := l[loc{obj, key}]; ok {
		return p
	}
	return l[loc{obj, ""}]
}

// has reports whether the file set obj's key explicitly, which is how the
// loader tells "enabled_by_default: false" from a missing key.
func (l locs) has(obj any, key string) bool {
	_, ok := l[loc{obj, key}]
	return ok
}

// decoder walks the node tree and collects every problem it meets.
type decoder struct {
	file string
	locs locs
	errs []error
}

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: n.Line, Column: n.Column, Msg: fmt.Sprintf(format, args...)})
}

func (d *decoder) mark(obj any, key string, n *yaml.Node) {
	d.locs[loc{obj, key}] = pos{n.Line, n.Column}
}

// Keys each object accepts; anything else is an error, because a
// misspelt key ("pi: true") would otherwise silently leave a field
// unencrypted.
var (
	policyKeys     = []string{"version", "name", "title", "description", "phone_region", "collections"}
	collectionKeys = []string{"name", "title", "description", "requirement", "switchable", "enabled_by_default", "fields", "rules", "same_person", "kind", "dimension"}
	fieldKeys      = []string{"name", "type", "description", "pii", "personal", "subject", "unique", "anonymize", "value", "keys", "items", "required", "link", "redact", "redact_on_write"}
	ruleKeys       = []string{"name", "action", "basis", "period", "when", "reason"}
	periodKeys     = []string{"default", "options", "max"}
	conditionKeys  = []string{"origin", "present"}
)

// kindName says what a node is, for messages.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return "nothing"
		}
		return fmt.Sprintf("%q", n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "an unexpected node"
}

// isNull reports whether the node is an empty value ("key:" or "key: ~").
func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// rejectAlias reports aliases. A policy is read by people deciding what
// happens to personal data, so every value is written out where it applies;
// refusing aliases also keeps a hostile file from expanding exponentially.
func (d *decoder) rejectAlias(n *yaml.Node) bool {
	if n.Kind == yaml.AliasNode {
		d.errorf(n, "aliases (*%s) are not supported: write the value out", n.Value)
		return true
	}
	return false
}

// mapping calls set for each key of the mapping n in file order, after
// checking that the key is known and not repeated. what names the object
// for messages ("collection", "field").
func (d *decoder) mapping(n *yaml.Node, what string, obj any, known []string, set func(key string, v *yaml.Node)) {
	if d.rejectAlias(n) {
		return
	}
	d.mark(obj, "", n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s: want a mapping, got %s", what, kindName(n))
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, "%s: keys must be plain words", what)
			continue
		}
		if !slices.Contains(known, k.Value) {
			d.errorf(k, "%s: unknown key %q (known keys: %s)", what, k.Value, strings.Join(known, ", "))
			continue
		}
		if line, ok := seen[k.Value]; ok {
			d.errorf(k, "%s: key %q repeated (first on line %d)", what, k.Value, line)
			continue
		}
		seen[k.Value] = k.Line
		if d.rejectAlias(v) {
			continue
		}
		d.mark(obj, k.Value, v)
		set(k.Value, v)
	}
}

// seq returns the items of a list; an empty value is an empty list.
func (d *decoder) seq(n *yaml.Node, what string) []*yaml.Node {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "%s: want a list, got %s", what, kindName(n))
		return nil
	}
	var out []*yaml.Node
	for _, it := range n.Content {
		if !d.rejectAlias(it) {
			out = append(out, it)
		}
	}
	return out
}

// str reads a scalar as text; numbers and booleans are taken as written.
func (d *decoder) str(n *yaml.Node, what string) string {
	if isNull(n) {
		return ""
	}
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, "%s: want a text, got %s", what, kindName(n))
		return ""
	}
	return n.Value
}

func (d *decoder) boolean(n *yaml.Node, what string) bool {
	var b bool
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
		d.errorf(n, "%s: want true or false, got %s", what, kindName(n))
	}
	return b
}

func (d *decoder) integer(n *yaml.Node, what string) int {
	var i int
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&i) != nil {
		d.errorf(n, "%s: want a whole number, got %s", what, kindName(n))
	}
	return i
}

// duration reads "7d", "1h", "3y"; a bare 0 is the zero period ("at the
// basis time", as for a push notification due at due_at).
func (d *decoder) duration(n *yaml.Node, what string) lethe.Duration {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		d.errorf(n, "%s: want a duration such as 30d, got %s", what, kindName(n))
		return lethe.Duration{}
	}
	if n.Value == "0" {
		return lethe.Duration{}
	}
	v, err := lethe.ParseDuration(n.Value)
	if err != nil {
		d.errorf(n, "%s: %s", what, strings.TrimPrefix(err.Error(), lethe.ErrInvalid.Error()+": "))
	}
	return v
}

func (d *decoder) strings(n *yaml.Node, what string, obj any, key string) []string {
	var out []string
	for i, it := range d.seq(n, what) {
		d.mark(obj, fmt.Sprintf("%s[%d]", key, i), it)
		out = append(out, d.str(it, what))
	}
	return out
}

func (d *decoder) policy(n *yaml.Node) *Policy {
	p := &Policy{}
	d.mapping(n, "policy", p, policyKeys, func(key string, v *yaml.Node) {
		switch key {
		case "version":
			p.Version = d.integer(v, "version")
		case "name":
			p.Name = d.str(v, "name")
		case "title":
			p.Title = d.str(v, "title")
		case "description":
			p.Description = d.str(v, "description")
		case "phone_region":
			p.PhoneRegion = d.str(v, "phone_region")
		case "collections":
			for _, c := range d.seq(v, "collections") {
				p.Collections = append(p.Collections, d.collection(c))
			}
		}
	})
	return p
}

func (d *decoder) collection(n *yaml.Node) *Collection {
	c := &Collection{}
	d.mapping(n, "collection", c, collectionKeys, func(key string, v *yaml.Node) {
		switch key {
		case "name":
			c.Name = d.str(v, "collection name")
		case "title":
			c.Title = d.str(v, "title")
		case "description":
			c.Description = d.str(v, "description")
		case "requirement":
			c.Requirement = d.str(v, "requirement")
		case "switchable":
			c.Switchable = d.boolean(v, "switchable")
		case "enabled_by_default":
			c.EnabledByDefault = d.boolean(v, "enabled_by_default")
		case "fields":
			for _, f := range d.seq(v, "fields") {
				c.Fields = append(c.Fields, d.field(f))
			}
		case "rules":
			for _, r := range d.seq(v, "rules") {
				c.Rules = append(c.Rules, d.rule(r))
			}
		case "same_person":
			c.SamePerson = d.strings(v, "same_person", c, "same_person")
		case "kind":
			c.Kind = Kind(d.str(v, "kind"))
		case "dimension":
			c.Dimension = d.integer(v, "dimension")
		}
	})
	// A collection that cannot be switched off is always on; saying
	// otherwise would make the data-protection table lie, so it is refused
	// rather than ignored.
	if d.locs.has(c, "enabled_by_default") && !c.EnabledByDefault && !c.Switchable {
		p := d.locs.at(c, "enabled_by_default")
		d.errs = append(d.errs, &Error{File: d.file, Line: p.line, Column: p.col,
			Msg: fmt.Sprintf("collection %s: enabled_by_default: false needs switchable: true (a required collection is always on)", c.Name)})
	}
	return c
}

func (d *decoder) field(n *yaml.Node) *Field {
	f := &Field{}
	d.mapping(n, "field", f, fieldKeys, func(key string, v *yaml.Node) {
		switch key {
		case "name":
			f.Name = d.str(v, "field name")
		case "type":
			f.Type = FieldType(d.str(v, "type"))
		case "description":
			f.Description = d.str(v, "description")
		case "pii":
			f.PII = d.boolean(v, "pii")
		case "personal":
			f.Personal = d.boolean(v, "personal")
		case "subject":
			f.Subject = d.str(v, "subject")
		case "unique":
			f.Unique = d.boolean(v, "unique")
		case "anonymize":
			f.Anonymize = Operator(d.str(v, "anonymize"))
		case "value":
			f.Value = d.str(v, "value")
		case "redact":
			f.Redact = d.str(v, "redact")
		case "redact_on_write":
			f.RedactOnWrite = d.str(v, "redact_on_write")
		case "keys":
			f.Keys = d.strings(v, "keys", f, "keys")
		case "items":
			for _, it := range d.seq(v, "items") {
				f.Items = append(f.Items, d.field(it))
			}
		case "required":
			f.Required = d.boolean(v, "required")
		case "link":
			f.Link = d.str(v, "link")
		}
	})
	// The value of a subject is sealed and only its blind index is
	// searchable; pii: false would contradict that, unless the field says
	// it is personal data kept in plain on purpose (C4).
	if f.Subject != "" && d.locs.has(f, "pii") && !f.PII && !f.Personal {
		p := d.locs.at(f, "pii")
		d.errs = append(d.errs, &Error{File: d.file, Line: p.line, Column: p.col,
			Msg: fmt.Sprintf("field %s: a field with a subject is PII; remove pii: false, or add personal: true to keep it in plain (still indexed)", f.Name)})
	}
	return f
}

func (d *decoder) rule(n *yaml.Node) *Rule {
	r := &Rule{}
	d.mapping(n, "rule", r, ruleKeys, func(key string, v *yaml.Node) {
		switch key {
		case "name":
			r.Name = d.str(v, "rule name")
		case "action":
			r.Action = lethe.Action(d.str(v, "action"))
		case "basis":
			r.Basis = d.str(v, "basis")
		case "period":
			d.period(v, r)
		case "when":
			r.When = d.condition(v, r)
		case "reason":
			r.Reason = d.str(v, "reason")
		}
	})
	if n.Kind == yaml.MappingNode && !d.locs.has(r, "period") {
		d.errorf(n, "rule: a period is required (write period: 0 for \"at the basis time\")")
	}
	return r
}

// period reads {default, options, max}, or a bare duration as shorthand
// for a fixed period without options ("period: 0", "period: 1d").
func (d *decoder) period(n *yaml.Node, r *Rule) {
	if isNull(n) {
		d.errorf(n, "period: want a duration such as 30d or a mapping {default, options, max}")
		return
	}
	if n.Kind == yaml.ScalarNode && !isNull(n) {
		r.Period.Default = d.duration(n, "period")
		d.mark(r, "period.default", n)
		return
	}
	var sawDefault bool
	d.mapping(n, "period", &r.Period, periodKeys, func(key string, v *yaml.Node) {
		d.mark(r, "period."+key, v)
		switch key {
		case "default":
			sawDefault = true
			r.Period.Default = d.duration(v, "period default")
		case "options":
			for i, it := range d.seq(v, "period options") {
				d.mark(r, fmt.Sprintf("period.options[%d]", i), it)
				r.Period.Options = append(r.Period.Options, d.duration(it, "period option"))
			}
		case "max":
			r.Period.Max = d.duration(v, "period max")
		}
	})
	if !sawDefault && n.Kind == yaml.MappingNode {
		d.errorf(n, "period: default is required (write default: 0 for \"at the basis time\")")
	}
}

func (d *decoder) condition(n *yaml.Node, r *Rule) *Condition {
	if isNull(n) {
		return nil
	}
	c := &Condition{}
	d.mapping(n, "when", c, conditionKeys, func(key string, v *yaml.Node) {
		d.mark(r, "when."+key, v)
		switch key {
		case "origin":
			c.Origin = d.strings(v, "when origin", r, "when.origin")
		case "present":
			c.Present = d.strings(v, "when present", r, "when.present")
		}
	})
	return c
}
