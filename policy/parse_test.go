package policy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lethe-privacy/lethe"
)

func TestParse_RejectsBadPoliciesWithFileLineAndColumn(t *testing.T) {
	tests := []struct {
		file string
		want string // substring of the error, starting with file:line:col
	}{
		{"unknown_key.yaml", `unknown_key.yaml:8:9: field: unknown key "pi"`},
		{"repeated_key.yaml", `repeated_key.yaml:6:48: field: key "pii" repeated`},
		{"wrong_shape.yaml", `wrong_shape.yaml:5:17: switchable: want true or false, got "sometimes"`},
		{"wrong_shape.yaml", `wrong_shape.yaml:7:7: fields: want a list, got a mapping`},
		{"alias.yaml", `alias.yaml:7:9: aliases (*email) are not supported`},
		{"syntax.yaml", `syntax.yaml:5: syntax error`},
		{"empty.yaml", `empty.yaml:1:1: empty policy`},
		{"bad_version.yaml", `bad_version.yaml:1:10: version: want 1, got 2`},
		{"bad_name.yaml", `bad_name.yaml:4:11: collection LiveChat: name "LiveChat": want lower_snake_case`},
		{"bad_type.yaml", `bad_type.yaml:6:29: collection customers: field email: unknown type "strng"`},
		{"duplicate_field.yaml", `duplicate_field.yaml:7:16: collection customers: field email: declared twice (first on line 6)`},
		{"duplicate_collection.yaml", `duplicate_collection.yaml:9:11: collection customers declared twice (first on line 4)`},
		{"duplicate_rule.yaml", `duplicate_rule.yaml:9:9: collection orders: rule delete declared twice`},
		{"list_without_items.yaml", `list_without_items.yaml:6:32: collection addresses: field contacts: a list needs items`},
		{"items_on_string.yaml", `items_on_string.yaml:10:11: collection addresses: field contact: items are only allowed on type list`},
		{"drop_keys_on_string.yaml", `drop_keys_on_string.yaml:6:56: collection messages: field text: drop_keys works on type object only`},
		{"each_on_object.yaml", `each_on_object.yaml:6:62: collection messages: field metadata: each works on type list only`},
		{"uuid_on_integer.yaml", `uuid_on_integer.yaml:6:61: collection messages: field number: uuid works on type string, text or id only, not integer`},
		{"replace_without_value.yaml", `replace_without_value.yaml:9:20: collection messages: field text: replace needs a value`},
		{"value_without_replace.yaml", `value_without_replace.yaml:6:52: collection messages: field text: value is only used by anonymize: replace`},
		{"redact_on_json.yaml", `redact_on_json.yaml:6:58: collection messages: field tokens: redact works on type string or text only, not json`},
		{"redact_mode_without_redact.yaml", `redact_mode_without_redact.yaml:6:53: collection messages: field text: redact is only used by anonymize: redact`},
		{"redact_unknown_mode.yaml", `redact_unknown_mode.yaml:6:72: collection messages: field text: unknown redact mode "seal" (want one of tag, hash, mask)`},
		{"redact_on_write_hash.yaml", `redact_on_write_hash.yaml:6:62: collection messages: field text: unknown redact_on_write mode "hash" (want one of tag, mask; hash is applied on anonymization only)`},
		{"redact_on_write_not_pii.yaml", `redact_on_write_not_pii.yaml:6:51: collection messages: field text: redact_on_write needs pii: true`},
		{"redact_on_write_on_json.yaml", `redact_on_write_on_json.yaml:6:64: collection messages: field tokens: redact_on_write works on type string or text only, not json`},
		{"redact_on_write_on_subject.yaml", `redact_on_write_on_subject.yaml:6:70: collection messages: field email: redact_on_write is for free text, not for an identifier`},
		{"redact_on_write_in_list.yaml", `redact_on_write_in_list.yaml:9:66: collection messages: field parts: item text: redact_on_write works on top-level fields only`},
		{"personal_kept_plain.yaml", `personal_kept_plain.yaml:6:69: collection log: field ip_address: personal data kept in plain`},
		{"subject_on_object.yaml", `subject_on_object.yaml:6:49: collection orders: field customer: a subject identifier must be of type string, id or integer, not object`},
		{"subject_not_pii.yaml", `subject_not_pii.yaml:6:58: field email: a field with a subject is PII`},
		{"unique_without_subject.yaml", `unique_without_subject.yaml:6:55: collection vouchers: field code: unique on an encrypted field needs a subject`},
		{"bad_action.yaml", `bad_action.yaml:8:18: collection orders: rule purge: action "purge": want delete, anonymize or hold`},
		{"missing_period.yaml", `missing_period.yaml:8:9: rule: a period is required`},
		{"bad_duration.yaml", `bad_duration.yaml:9:27: period default: duration "7x": unknown unit "x"`},
		{"pii_basis.yaml", `pii_basis.yaml:9:16: collection orders: rule delete: basis "shipped_at" is PII`},
		{"unknown_basis.yaml", `unknown_basis.yaml:8:33: collection orders: rule delete: basis "shipped_at": no such field`},
		{"basis_not_timestamp.yaml", `basis_not_timestamp.yaml:9:33: collection orders: rule delete: basis "shipped_at" is of type string, want timestamp or date`},
		{"basis_on_id.yaml", `basis_on_id.yaml:8:33: collection orders: rule delete: basis "belegnr" is of type id, want timestamp or date`},
		{"drop_keys_on_json.yaml", `drop_keys_on_json.yaml:6:58: collection messages: field tokens: drop_keys works on type object only, not json`},
		{"items_on_json.yaml", `items_on_json.yaml:10:11: collection messages: field entities: items are only allowed on type list`},
		{"placeholder_on_date.yaml", `placeholder_on_date.yaml:6:57: collection invoices: field datum: placeholder works on type string, text or id only, not date`},
		{"subject_on_json.yaml", `subject_on_json.yaml:6:43: collection messages: field user: a subject identifier must be of type string, id or integer, not json`},
		{"option_above_max.yaml", `option_above_max.yaml:11:30: collection messages: rule delete: option 4y is above the maximum 3y`},
		{"default_above_max.yaml", `default_above_max.yaml:9:27: collection messages: rule delete: default 4y is above the maximum 3y`},
		{"default_not_in_options.yaml", `default_not_in_options.yaml:9:40: collection messages: rule delete: the default 7d must also be one of the options`},
		{"hold_without_reason.yaml", `hold_without_reason.yaml:8:17: collection invoices: rule hold: a hold needs a reason`},
		{"hold_with_options.yaml", `hold_with_options.yaml:9:41: collection invoices: rule hold: a hold is fixed by law`},
		{"when_present_unknown.yaml", `when_present_unknown.yaml:10:33: collection orders: rule delete: when present: no field "shipped_at"`},
		{"required_disabled.yaml", `required_disabled.yaml:6:25: collection orders: enabled_by_default: false needs switchable: true`},
		{"link_unknown.yaml", `link_unknown.yaml:6:48: collection messages: field session_id: link "sessions": no such collection in this policy`},
		{"link_on_object.yaml", `link_on_object.yaml:11:45: collection messages: field session: a link holds a record id and must be of type string`},
		{"same_person_not_subject.yaml", `same_person_not_subject.yaml:5:26: collection variables: same_person: field device is not an identifier`},
		{"personal_without_rule.yaml", `personal_without_rule.yaml:4:5: collection orders: holds personal data but has no delete or anonymize rule`},
	}
	tested := map[string]bool{}
	for _, tt := range tests {
		tested[tt.file] = true
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "bad", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			p, err := Parse(tt.file, data)
			if err == nil {
				t.Fatalf("Parse accepted the policy")
			}
			if p != nil {
				t.Errorf("Parse returned a policy along with the error")
			}
			if !errors.Is(err, lethe.ErrInvalid) {
				t.Errorf("error does not match lethe.ErrInvalid: %v", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error:\n%v\nwant it to contain:\n%s", err, tt.want)
			}
		})
	}
	// Every fixture is in the table, so none is forgotten.
	files, _ := filepath.Glob(filepath.Join("testdata", "bad", "*.yaml"))
	for _, f := range files {
		if !tested[filepath.Base(f)] {
			t.Errorf("fixture %s has no test case", f)
		}
	}
}

func TestParse_ReportsEveryProblemInFileOrder(t *testing.T) {
	src := `version: 1
name: shop
collections:
  - name: orders
    colour: red
    fields:
      - {name: Email, type: string, pii: true}
      - {name: notes, type: txt}
    rules:
      - {action: delete, period: {default: 90d, max: 30d}}
`
	_, err := Parse("shop.yaml", []byte(src))
	if err == nil {
		t.Fatal("Parse accepted the policy")
	}
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) {
		t.Fatalf("error is not a joined error: %T", err)
	}
	want := []string{"shop.yaml:5:5:", "shop.yaml:7:16:", "shop.yaml:8:29:", "shop.yaml:10:44:"}
	errs := joined.Unwrap()
	if len(errs) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%v", len(errs), len(want), err)
	}
	for i, e := range errs {
		var pe *Error
		if !errors.As(e, &pe) {
			t.Errorf("error %d is %T, want *Error", i, e)
		}
		if !strings.HasPrefix(e.Error(), want[i]) {
			t.Errorf("error %d = %q, want prefix %q", i, e, want[i])
		}
	}
}

func TestParse_FillsInDefaults(t *testing.T) {
	p, err := LoadFile(filepath.Join("testdata", "good", "minimal.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	c := p.Collection("customers")
	if c == nil {
		t.Fatal("no collection customers")
	}
	if c.Pack != "shop" {
		t.Errorf("Pack = %q, want shop", c.Pack)
	}
	if !c.EnabledByDefault {
		t.Error("EnabledByDefault = false, want true when the file does not say")
	}
	tests := []struct {
		field string
		pii   bool
		op    Operator
	}{
		{"email", true, OpErase}, // a subject is PII
		{"notes", true, OpErase},
		{"tier", false, OpKeep},
		{"contacts", true, OpErase}, // a list with a PII item is PII
	}
	for _, tt := range tests {
		f := c.Field(tt.field)
		if f.PII != tt.pii || f.Anonymize != tt.op {
			t.Errorf("%s: PII %v anonymize %q, want %v %q", tt.field, f.PII, f.Anonymize, tt.pii, tt.op)
		}
	}
	if it := c.Field("contacts").Items[0]; !it.PII || it.Anonymize != OpErase {
		t.Errorf("item phone: PII %v anonymize %q, want true erase", it.PII, it.Anonymize)
	}
	r := c.Rules[0]
	if r.Name != "delete" || r.Basis != "created_at" || r.Period.Default != mustDur("30d") {
		t.Errorf("rule = %+v, want name delete, basis created_at, 30d", r)
	}
	if c.Rule("delete") != r {
		t.Error("Collection.Rule does not find the defaulted name")
	}
}

func TestParse_SwitchableCollectionMayStartOff(t *testing.T) {
	src := `version: 1
name: shop
collections:
  - name: newsletter
    switchable: true
    enabled_by_default: false
    fields: [{name: email, type: string, subject: email}]
    rules: [{action: delete, period: 30d}]
`
	p, err := Parse("shop.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if c := p.Collection("newsletter"); c.EnabledByDefault {
		t.Error("EnabledByDefault = true, want false as written")
	}
}

func TestParse_PeriodZeroIsAtTheBasis(t *testing.T) {
	for _, period := range []string{"0", "0d", "{default: 0}"} {
		src := `version: 1
name: push
collections:
  - name: notifications
    fields:
      - {name: body, type: text, pii: true}
      - {name: due_at, type: timestamp}
    rules: [{action: delete, basis: due_at, period: ` + period + `}]
`
		p, err := Parse("push.yaml", []byte(src))
		if err != nil {
			t.Fatalf("period %s: %v", period, err)
		}
		if d := p.Collections[0].Rules[0].Period.Default; !d.IsZero() {
			t.Errorf("period %s: default = %v, want zero", period, d)
		}
	}
}

func TestLoadFile_MissingFileNamesThePath(t *testing.T) {
	_, err := LoadFile(filepath.Join("testdata", "nope.yaml"))
	if err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Errorf("error = %v, want one naming the file", err)
	}
}

func TestValidate_ChecksPoliciesBuiltInCode(t *testing.T) {
	p := &Policy{Version: 1, Name: "shop", Collections: []*Collection{{
		Name:   "orders",
		Fields: []*Field{{Name: "shipped_at", Type: TypeTimestamp, PII: true}},
		Rules:  []*Rule{{Action: "delete", Basis: "shipped_at", Period: Period{Default: mustDur("30d")}}},
	}}}
	err := p.Validate()
	if err == nil || !errors.Is(err, lethe.ErrInvalid) || !strings.Contains(err.Error(), `shop: collection orders: rule delete: basis "shipped_at" is PII`) {
		t.Errorf("Validate = %v, want the PII basis reported", err)
	}
}
