package policy

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/lethe-privacy/lethe"
)

// WriteDoc writes the policy's data-protection table as Markdown: one row
// per collection with what it is for, when it is required, how it expires
// and which personal data it holds (C1), then, per collection, what
// anonymization does to each field. It is generated from the policy alone,
// so the table customers read says what the engine enforces (C16).
func WriteDoc(w io.Writer, p *Policy) error {
	var b strings.Builder
	title := p.Title
	if title == "" {
		title = p.Name
	}
	fmt.Fprintf(&b, "# %s: personal data and retention\n\n", title)
	if p.Description != "" {
		fmt.Fprintf(&b, "%s\n\n", p.Description)
	}
	fmt.Fprintf(&b, "Generated from policy `%s` (version %d). Encrypted fields are sealed with AES-256-GCM at rest; "+
		"every collection holding personal data expires automatically, and any record can be deleted at any time.\n\n", p.Name, p.Version)

	b.WriteString("| No. | Name | Required | Function | Automatic expiry | Expiry based on | Personal data contained |\n")
	b.WriteString("|---|---|---|---|---|---|---|\n")
	for i, c := range p.Collections {
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s | %s |\n", i+1,
			cell(collectionName(c)), cell(required(c)), cell(c.Description),
			cell(expiry(c)), cell(bases(c)), cell(personalData(c)))
	}

	b.WriteString("\n## Anonymization\n\n")
	b.WriteString("What anonymization does to each field of each collection.\n")
	for i, c := range p.Collections {
		fmt.Fprintf(&b, "\n### %d. %s\n\n", i+1, collectionName(c))
		b.WriteString(anonymizedBy(c) + "\n\n")
		b.WriteString("| Field | Type | Personal data | On anonymization |\n")
		b.WriteString("|---|---|---|---|\n")
		writeFieldRows(&b, "", c.Fields)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func collectionName(c *Collection) string {
	if c.Title == "" {
		return "`" + c.Name + "`"
	}
	return c.Title + " (`" + c.Name + "`)"
}

func required(c *Collection) string {
	req := c.Requirement
	if req == "" {
		req = "Required"
	}
	switch {
	case !c.Switchable:
		return req + "; cannot be switched off"
	case c.EnabledByDefault:
		return req + "; can be switched off (on by default)"
	}
	return req + "; can be switched on (off by default)"
}

// expiry describes the rules: "7 days (optional 30, 60 days)" for the
// common single delete rule, otherwise one sentence per action.
func expiry(c *Collection) string {
	if len(c.Rules) == 0 {
		return "None"
	}
	if len(c.Rules) == 1 {
		r := c.Rules[0]
		if r.Action == lethe.ActionDelete && r.When == nil && !r.Period.Default.IsZero() {
			return periodText(r.Period)
		}
	}
	var actions []lethe.Action
	byAction := map[lethe.Action][]string{}
	for _, r := range c.Rules {
		if _, ok := byAction[r.Action]; !ok {
			actions = append(actions, r.Action)
		}
		byAction[r.Action] = append(byAction[r.Action], rulePhrase(r))
	}
	var out []string
	for _, a := range actions {
		phrases := byAction[a]
		s := actionVerb(a) + " " + strings.Join(phrases, " or ")
		if len(phrases) > 1 {
			s += ", whichever comes first"
		}
		out = append(out, s)
	}
	return strings.Join(out, ". ")
}

func actionVerb(a lethe.Action) string {
	switch a {
	case lethe.ActionDelete:
		return "Deleted"
	case lethe.ActionAnonymize:
		return "Anonymized"
	case lethe.ActionHold:
		return "Held"
	}
	return string(a)
}

// rulePhrase is one rule without its verb: "after 30 days for records
// from amazon", "at `due_at`", "for 10 years (legal hold: ...)".
func rulePhrase(r *Rule) string {
	var s string
	switch {
	case r.Action == lethe.ActionHold:
		s = "for " + periodText(r.Period)
	case r.Period.Default.IsZero():
		s = "at " + basisLabel(r.Basis)
	default:
		s = "after " + periodText(r.Period)
	}
	if w := r.When; w != nil {
		if len(w.Origin) > 0 {
			s += " for records from " + strings.Join(w.Origin, " or ")
		}
		if len(w.Present) > 0 {
			s += " when " + codeList(w.Present) + " is set"
		}
	}
	if r.Reason != "" {
		if r.Action == lethe.ActionHold {
			s += " (legal hold)"
		}
		s += " — " + r.Reason
	}
	return s
}

// periodText is "7 days (optional 30, 60 days)": the default, then the
// other choices, then the maximum when it lies above every choice.
func periodText(p Period) string {
	s := durationText(p.Default)
	var others []lethe.Duration
	longest := p.Default
	for _, o := range p.Options {
		if longest.Compare(o) < 0 {
			longest = o
		}
		if !o.Same(p.Default) {
			others = append(others, o)
		}
	}
	var extra []string
	if len(others) > 0 {
		extra = append(extra, "optional "+durationList(others))
	}
	if !p.Max.IsZero() && longest.Compare(p.Max) < 0 {
		extra = append(extra, "at most "+durationText(p.Max))
	}
	if len(extra) > 0 {
		s += " (" + strings.Join(extra, "; ") + ")"
	}
	return s
}

var unitNames = map[byte][2]string{
	's': {"second", "seconds"},
	'm': {"minute", "minutes"},
	'h': {"hour", "hours"},
	'd': {"day", "days"},
	'y': {"year", "years"},
}

func unitName(d lethe.Duration) string {
	names, ok := unitNames[d.Unit]
	if !ok {
		names = unitNames['s']
	}
	if d.N == 1 {
		return names[0]
	}
	return names[1]
}

func durationText(d lethe.Duration) string {
	if d.IsZero() {
		return "0"
	}
	return strconv.FormatInt(d.N, 10) + " " + unitName(d)
}

// durationList writes "30, 60 days" and "5, 30 minutes, 2, 24 hours":
// numbers of one unit share the unit's name.
func durationList(ds []lethe.Duration) string {
	var parts []string
	for i, d := range ds {
		s := strconv.FormatInt(d.N, 10)
		if i == len(ds)-1 || ds[i+1].Unit != d.Unit {
			s += " " + unitNames[d.Unit][1]
			if d.N == 1 && (i == 0 || ds[i-1].Unit != d.Unit) {
				s = durationText(d)
			}
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

func basisLabel(basis string) string {
	switch basis {
	case "", BasisCreatedAt:
		return "Created at"
	case BasisUpdatedAt:
		return "Last update"
	}
	return "`" + basis + "`"
}

// bases is the "expiry based on" cell: the one basis, or each rule's.
func bases(c *Collection) string {
	if len(c.Rules) == 0 {
		return "—"
	}
	same := true
	for _, r := range c.Rules {
		same = same && basisLabel(r.Basis) == basisLabel(c.Rules[0].Basis)
	}
	if same {
		return basisLabel(c.Rules[0].Basis)
	}
	var out []string
	for _, r := range c.Rules {
		out = append(out, basisLabel(r.Basis)+" ("+ruleName(r)+")")
	}
	return strings.Join(out, ", ")
}

// personalData lists the fields holding personal data, encrypted first.
func personalData(c *Collection) string {
	var sealed, plain []string
	for _, f := range c.Fields {
		switch {
		case f.IsPII():
			sealed = append(sealed, f.Name)
		case f.Personal:
			plain = append(plain, f.Name)
		}
	}
	var out []string
	if len(sealed) > 0 {
		out = append(out, "Encrypted: "+codeList(sealed)+".")
	}
	if len(plain) > 0 {
		out = append(out, "Not encrypted: "+codeList(plain)+".")
	}
	if len(out) == 0 {
		return "None"
	}
	return strings.Join(out, " ")
}

func anonymizedBy(c *Collection) string {
	var rules []string
	for _, r := range c.Rules {
		if r.Action == lethe.ActionAnonymize {
			rules = append(rules, "`"+ruleName(r)+"`")
		}
	}
	if len(rules) == 0 {
		return "No rule anonymizes this collection automatically; anonymization requests apply the operators below."
	}
	return "Applied by the rule " + strings.Join(rules, ", ") + " and by anonymization requests."
}

func writeFieldRows(b *strings.Builder, prefix string, fs []*Field) {
	for _, f := range fs {
		fmt.Fprintf(b, "| `%s%s` | %s | %s | %s |\n", prefix, f.Name, f.Type, cell(fieldPersonal(f)), cell(operatorText(f)))
		if f.Anonymize == OpEach {
			writeFieldRows(b, prefix+f.Name+"[].", f.Items)
		}
	}
}

func fieldPersonal(f *Field) string {
	var s string
	switch {
	case f.IsPII():
		s = "encrypted"
	case f.Personal:
		s = "not encrypted"
	default:
		return "no"
	}
	if f.Subject != "" {
		s += "; identifier `" + f.Subject + "`"
	}
	if f.Unique {
		s += "; unique"
	}
	switch f.RedactOnWrite {
	case RedactTag:
		s += "; stored redacted (tags), the values found sealed apart"
	case RedactMask:
		s += "; stored redacted (masked), the values found sealed apart"
	}
	return s
}

func operatorText(f *Field) string {
	op := f.Anonymize
	if op == "" {
		op = OpKeep
		if f.IsPersonal() {
			op = OpErase
		}
	}
	switch op {
	case OpKeep:
		return "kept"
	case OpErase:
		if f.Type == TypeList {
			return "removed with all entries"
		}
		return "removed"
	case OpClear:
		return "value cleared, key kept"
	case OpReplace:
		return "replaced by \"" + f.Value + "\""
	case OpPlaceholder:
		return "replaced by the tenant's placeholder"
	case OpUUID:
		return "replaced by a fresh UUID"
	case OpDropKeys:
		if len(f.Keys) == 0 {
			return "the keys listed in the tenant's drop_metadata setting removed, the rest kept"
		}
		return "keys " + codeList(f.Keys) + " and those listed in the tenant's drop_metadata setting removed, the rest kept"
	case OpEach:
		return "entries kept; their fields as listed below"
	case OpRedact:
		switch f.Redact {
		case RedactHash:
			return "kept with the personal data found in it replaced by keyed hashes (`<EMAIL:3f9a...>`)"
		case RedactMask:
			return "kept with the personal data found in it masked (****)"
		}
		return "kept with the personal data found in it replaced by tags (`<EMAIL>`)"
	}
	return string(op)
}

func codeList(names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = "`" + n + "`"
	}
	return strings.Join(out, ", ")
}

// cell makes text safe inside a Markdown table cell.
func cell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return strings.ReplaceAll(s, "|", `\|`)
}
