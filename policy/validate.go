package policy

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/nyaruka/phonenumbers"

	"github.com/lethe-privacy/lethe"
)

// lowerSnake is the shape of collection, field, rule and subject names:
// they become JSON keys, SQL values and settings keys, so they stay plain.
var lowerSnake = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// packName also allows hyphens ("erp-marketplace").
var packName = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)

var fieldTypes = []FieldType{TypeString, TypeText, TypeInteger, TypeNumber, TypeBoolean, TypeTimestamp, TypeDate, TypeID, TypeObject, TypeJSON, TypeList, TypeVector}

var operators = []Operator{OpKeep, OpErase, OpClear, OpReplace, OpPlaceholder, OpUUID, OpDropKeys, OpEach, OpRedact}

// validator checks a decoded policy and collects every problem.
type validator struct {
	file  string
	locs  locs
	errs  []error
	colls map[string]*Collection // the policy's collections, for links
}

func (v *validator) errorf(obj any, key string, format string, args ...any) {
	p := v.locs.at(obj, key)
	v.errs = append(v.errs, &Error{File: v.file, Line: p.line, Column: p.col, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) policy(p *Policy) {
	if p.Version != 1 {
		v.errorf(p, "version", "version: want 1, got %d", p.Version)
	}
	switch {
	case p.Name == "":
		v.errorf(p, "name", "name: the policy needs a name (it becomes the pack name)")
	case !packName.MatchString(p.Name):
		v.errorf(p, "name", "name %q: want lower case letters, digits, _ or -, starting with a letter", p.Name)
	}
	if p.PhoneRegion != "" && !phonenumbers.GetSupportedRegions()[p.PhoneRegion] {
		v.errorf(p, "phone_region", "phone_region %q: want a two-letter country code with a numbering plan, such as DE, NL or BE", p.PhoneRegion)
	}
	if len(p.Collections) == 0 {
		v.errorf(p, "collections", "collections: the policy declares no collection")
	}
	seen := map[string]*Collection{}
	for _, c := range p.Collections {
		if _, ok := seen[c.Name]; !ok {
			seen[c.Name] = c
		}
	}
	v.colls = seen
	done := map[string]bool{}
	for _, c := range p.Collections {
		if done[c.Name] && c.Name != "" {
			v.errorf(c, "name", "collection %s declared twice%s", c.Name, v.first(seen[c.Name], "name"))
			continue
		}
		done[c.Name] = true
		v.collection(c)
	}
}

func (v *validator) collection(c *Collection) {
	ctx := "collection " + c.Name
	v.name(c, ctx, c.Name)
	if len(c.Fields) == 0 {
		v.errorf(c, "fields", "%s: declares no fields", ctx)
	}
	v.fields(c, ctx, c.Fields, true)
	v.samePerson(c, ctx)
	v.vectors(c, ctx)
	personal, expires, unknown := false, false, false
	for _, f := range c.Fields {
		personal = personal || f.IsPersonal()
	}
	seen := map[string]*Rule{}
	for _, r := range c.Rules {
		name := ruleName(r)
		if first, ok := seen[name]; ok && name != "" {
			v.errorf(r, "name", "%s: rule %s declared twice%s; give each rule its own name", ctx, name, v.first(first, ""))
		}
		seen[name] = r
		v.rule(c, r)
		expires = expires || r.Action == lethe.ActionDelete || r.Action == lethe.ActionAnonymize
		unknown = unknown || !validAction(r.Action)
	}
	// C3: everything that can hold personal data expires by itself. (A
	// rule with an unknown action was reported already and may have been
	// meant as the expiry.)
	if personal && !expires && !unknown {
		v.errorf(c, "rules", "%s: holds personal data but has no delete or anonymize rule (all personal data must expire)", ctx)
	}
}

// vectors checks a collection's kind, and for a vectors collection its
// dimension and its one embedding field. Such a collection has no
// anonymize rule: the embedding is computed from the chunk text, so
// erasing the text and keeping the embedding would keep what the text
// said, and the embedding cannot be anonymized by itself.
func (v *validator) vectors(c *Collection, ctx string) {
	switch c.Kind {
	case "", KindRecords:
		if v.locs.has(c, "dimension") {
			v.errorf(c, "dimension", "%s: dimension is only used by kind: vectors", ctx)
		}
		for _, f := range c.Fields {
			if f.Type == TypeVector {
				v.errorf(f, "type", "%s: field %s: type vector needs kind: vectors on the collection", ctx, f.Name)
			}
		}
		return
	case KindVectors:
	default:
		v.errorf(c, "kind", "%s: unknown kind %q (want records or vectors)", ctx, c.Kind)
		return
	}
	if c.Dimension < 1 || c.Dimension > MaxDimension {
		v.errorf(c, "dimension", "%s: kind vectors needs a dimension from 1 to %d, got %d", ctx, MaxDimension, c.Dimension)
	}
	found := false
	for _, f := range c.Fields {
		switch {
		case f.Name == EmbeddingField && f.Type != TypeVector:
			v.errorf(f, "type", "%s: field %s of a vectors collection must be of type vector", ctx, f.Name)
		case f.Type == TypeVector && f.Name != EmbeddingField:
			v.errorf(f, "name", "%s: the vector field must be named %s, not %s", ctx, EmbeddingField, f.Name)
		case f.Type == TypeVector:
			found = true
			if f.PII || f.Subject != "" || f.Personal || f.Unique || f.Link != "" || v.locs.has(f, "anonymize") {
				v.errorf(f, "type", "%s: field %s is the plain search index: no pii, personal, subject, unique, link or anonymize", ctx, f.Name)
			}
		}
	}
	if !found {
		v.errorf(c, "fields", "%s: kind vectors needs a field {name: %s, type: vector}", ctx, EmbeddingField)
	}
	for _, r := range c.Rules {
		if r.Action == lethe.ActionAnonymize {
			v.errorf(r, "action", "%s: rule %s: a vectors collection deletes its chunks, it cannot anonymize them (the embedding holds what the text said)", ctx, ruleName(r))
		}
	}
}

// samePerson checks that same_person names identifier fields of the
// collection: only their blind indexes can be followed.
func (v *validator) samePerson(c *Collection, ctx string) {
	if len(c.SamePerson) == 1 {
		v.errorf(c, "same_person", "%s: same_person needs two or more identifier fields (it ties them together)", ctx)
	}
	seen := map[string]bool{}
	for i, name := range c.SamePerson {
		key := fmt.Sprintf("same_person[%d]", i)
		f := c.Field(name)
		switch {
		case f == nil:
			v.errorf(c, key, "%s: same_person: no field %q", ctx, name)
		case f.Subject == "":
			v.errorf(c, key, "%s: same_person: field %s is not an identifier (give it a subject)", ctx, name)
		case seen[name]:
			v.errorf(c, key, "%s: same_person: field %s listed twice", ctx, name)
		}
		seen[name] = true
	}
}

// first says where a repeated name was first declared, when known.
func (v *validator) first(obj any, key string) string {
	if p := v.locs.at(obj, key); p.line > 0 {
		return fmt.Sprintf(" (first on line %d)", p.line)
	}
	return ""
}

// name checks a lower_snake name.
func (v *validator) name(obj any, ctx, name string) {
	switch {
	case name == "":
		v.errorf(obj, "name", "%s: a name is required", strings.TrimSpace(ctx))
	case !lowerSnake.MatchString(name):
		v.errorf(obj, "name", "%s: name %q: want lower_snake_case ([a-z][a-z0-9_]*)", ctx, name)
	}
}

func (v *validator) fields(c *Collection, ctx string, fs []*Field, top bool) {
	seen := map[string]*Field{}
	for _, f := range fs {
		fctx := ctx + ": field " + f.Name
		if !top {
			fctx = ctx + ": item " + f.Name
		}
		v.name(f, fctx, f.Name)
		if first, ok := seen[f.Name]; ok && f.Name != "" {
			v.errorf(f, "name", "%s: declared twice%s", fctx, v.first(first, ""))
		}
		seen[f.Name] = f
		v.field(c, fctx, f, top)
	}
}

func (v *validator) field(c *Collection, ctx string, f *Field, top bool) {
	switch {
	case f.Type == "":
		v.errorf(f, "type", "%s: a type is required (one of %s)", ctx, list(fieldTypes))
	case !slices.Contains(fieldTypes, f.Type):
		v.errorf(f, "type", "%s: unknown type %q (want one of %s)", ctx, f.Type, list(fieldTypes))
	}
	if f.Type == TypeList {
		if len(f.Items) == 0 {
			v.errorf(f, "type", "%s: a list needs items (the fields of each entry)", ctx)
		}
		v.fields(c, ctx, f.Items, false)
	} else if len(f.Items) > 0 {
		v.errorf(f, "items", "%s: items are only allowed on type list", ctx)
	}

	op := f.Anonymize
	if op == "" {
		op = OpKeep
		if f.IsPersonal() {
			op = OpErase
		}
	}
	// The text operators write a string, which an id field holds too.
	text := f.Type == TypeString || f.Type == TypeText || f.Type == TypeID
	switch {
	case !slices.Contains(operators, op):
		v.errorf(f, "anonymize", "%s: unknown anonymize operator %q (want one of %s)", ctx, op, list(operators))
	case op == OpDropKeys && f.Type != TypeObject:
		v.errorf(f, "anonymize", "%s: drop_keys works on type object only, not %s", ctx, f.Type)
	case op == OpEach && f.Type != TypeList:
		v.errorf(f, "anonymize", "%s: each works on type list only, not %s", ctx, f.Type)
	case (op == OpUUID || op == OpPlaceholder || op == OpReplace || op == OpClear) && !text:
		v.errorf(f, "anonymize", "%s: %s works on type string, text or id only, not %s", ctx, op, f.Type)
	case op == OpRedact && f.Type != TypeString && f.Type != TypeText:
		v.errorf(f, "anonymize", "%s: redact works on type string or text only, not %s", ctx, f.Type)
	case op == OpReplace && f.Value == "":
		v.errorf(f, "anonymize", "%s: replace needs a value (the replacement text)", ctx)
	}
	if op == OpKeep && f.IsPersonal() && !f.IsPII() {
		v.errorf(f, "anonymize", "%s: personal data kept in plain by anonymization; seal it (pii: true) or erase it", ctx)
	}
	if f.Value != "" && op != OpReplace {
		v.errorf(f, "value", "%s: value is only used by anonymize: replace", ctx)
	}
	if f.Redact != "" && op != OpRedact {
		v.errorf(f, "redact", "%s: redact is only used by anonymize: redact", ctx)
	} else if f.Redact != "" && !slices.Contains(RedactModes, f.Redact) {
		v.errorf(f, "redact", "%s: unknown redact mode %q (want one of %s)", ctx, f.Redact, strings.Join(RedactModes, ", "))
	}
	v.redactOnWrite(ctx, f, top)
	if len(f.Keys) > 0 && op != OpDropKeys {
		v.errorf(f, "keys", "%s: keys are only used by anonymize: drop_keys", ctx)
	}
	for i, k := range f.Keys {
		if k == "" {
			v.errorf(f, fmt.Sprintf("keys[%d]", i), "%s: empty metadata key", ctx)
		}
	}

	scalarID := f.Type == TypeString || f.Type == TypeInteger || f.Type == TypeID
	if f.Subject != "" {
		if !lowerSnake.MatchString(f.Subject) {
			v.errorf(f, "subject", "%s: subject %q: want lower_snake_case (email, phone, customer_id, ...)", ctx, f.Subject)
		}
		if !scalarID {
			v.errorf(f, "subject", "%s: a subject identifier must be of type string, id or integer, not %s", ctx, f.Type)
		}
	}
	if f.Link != "" {
		switch {
		case !top:
			v.errorf(f, "link", "%s: link works on top-level fields only", ctx)
		case !scalarID:
			v.errorf(f, "link", "%s: a link holds a record id and must be of type string or id, not %s", ctx, f.Type)
		case v.colls[f.Link] == nil:
			v.errorf(f, "link", "%s: link %q: no such collection in this policy", ctx, f.Link)
		}
	}
	if f.Unique {
		switch {
		case !top:
			v.errorf(f, "unique", "%s: unique works on top-level fields only", ctx)
		case !scalarID:
			v.errorf(f, "unique", "%s: unique needs type string, id or integer, not %s", ctx, f.Type)
		case f.IsPII() && f.Subject == "":
			v.errorf(f, "unique", "%s: unique on an encrypted field needs a subject (uniqueness is checked on its blind index)", ctx)
		}
	}
}

func (v *validator) rule(c *Collection, r *Rule) {
	name := ruleName(r)
	ctx := "collection " + c.Name + ": rule " + name
	if !validAction(r.Action) {
		v.errorf(r, "action", "%s: action %q: want delete, anonymize or hold", ctx, r.Action)
	}
	if name != "" && !lowerSnake.MatchString(name) {
		v.errorf(r, "name", "%s: name %q: want lower_snake_case ([a-z][a-z0-9_]*)", ctx, name)
	}

	basis := r.Basis
	if basis == "" {
		basis = BasisCreatedAt
	}
	if basis != BasisCreatedAt && basis != BasisUpdatedAt {
		f := c.Field(basis)
		switch {
		case f == nil:
			v.errorf(r, "basis", "%s: basis %q: no such field (use created_at, updated_at or a timestamp or date field)", ctx, basis)
		case f.Type != TypeTimestamp && f.Type != TypeDate:
			v.errorf(r, "basis", "%s: basis %q is of type %s, want timestamp or date", ctx, basis, f.Type)
		case f.IsPII():
			v.errorf(r, "basis", "%s: basis %q is PII (encrypted); the planner must read it without decrypting, so make it a plain field", ctx, basis)
		}
	}

	p := r.Period
	if !p.Max.IsZero() && !p.Default.AtMost(p.Max) {
		v.errorf(r, "period.default", "%s: default %s is above the maximum %s", ctx, p.Default, p.Max)
	}
	seen := map[lethe.Duration]bool{}
	hasDefault := false
	for i, o := range p.Options {
		key := fmt.Sprintf("period.options[%d]", i)
		if !p.Max.IsZero() && !o.AtMost(p.Max) {
			v.errorf(r, key, "%s: option %s is above the maximum %s", ctx, o, p.Max)
		}
		if seen[o] {
			v.errorf(r, key, "%s: option %s listed twice", ctx, o)
		}
		seen[o] = true
		hasDefault = hasDefault || o.Same(p.Default)
	}
	// The options are what a settings page offers; a tenant who moved
	// away from the default must be able to pick it again.
	if len(p.Options) > 0 && !hasDefault {
		v.errorf(r, "period.options", "%s: the default %s must also be one of the options", ctx, p.Default)
	}

	if r.Action == lethe.ActionHold {
		if r.Reason == "" {
			v.errorf(r, "action", "%s: a hold needs a reason (the law or contract that requires it)", ctx)
		}
		if p.Default.IsZero() {
			v.errorf(r, "period", "%s: a hold needs a period longer than 0", ctx)
		}
		if len(p.Options) > 0 {
			v.errorf(r, "period.options", "%s: a hold is fixed by law; a tenant cannot choose its period", ctx)
		}
	}

	if w := r.When; w != nil {
		if len(w.Origin) == 0 && len(w.Present) == 0 {
			v.errorf(r, "when", "%s: when needs origin or present", ctx)
		}
		for i, o := range w.Origin {
			if strings.TrimSpace(o) == "" {
				v.errorf(r, fmt.Sprintf("when.origin[%d]", i), "%s: empty origin", ctx)
			}
		}
		for i, name := range w.Present {
			if c.Field(name) == nil {
				v.errorf(r, fmt.Sprintf("when.present[%d]", i), "%s: when present: no field %q", ctx, name)
			}
		}
	}
}

// ruleName is the name a rule goes by: its name, or its action.
func ruleName(r *Rule) string {
	if r.Name != "" {
		return r.Name
	}
	return string(r.Action)
}

func list[T ~string](xs []T) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = string(x)
	}
	return strings.Join(s, ", ")
}

// redactOnWrite checks the option that stores a text redacted. The text
// must be sealed, because what the analyzer misses (an unusual name) is
// still personal data; and it must be a top-level free text that is no
// identifier itself, since its findings are indexed under the field's
// name and an identifier redacted away could no longer be found.
func (v *validator) redactOnWrite(ctx string, f *Field, top bool) {
	mode := f.RedactOnWrite
	switch {
	case mode == "":
		return
	case !slices.Contains(RedactOnWriteModes, mode):
		v.errorf(f, "redact_on_write", "%s: unknown redact_on_write mode %q (want one of %s; hash is applied on anonymization only)", ctx, mode, strings.Join(RedactOnWriteModes, ", "))
	case !top:
		v.errorf(f, "redact_on_write", "%s: redact_on_write works on top-level fields only", ctx)
	case f.Type != TypeString && f.Type != TypeText:
		v.errorf(f, "redact_on_write", "%s: redact_on_write works on type string or text only, not %s", ctx, f.Type)
	case f.Subject != "" || f.Link != "" || f.Unique:
		v.errorf(f, "redact_on_write", "%s: redact_on_write is for free text, not for an identifier (subject, link or unique)", ctx)
	case !f.PII:
		v.errorf(f, "redact_on_write", "%s: redact_on_write needs pii: true (what the analyzer misses, an unusual name, is still personal data and stays sealed)", ctx)
	}
}
