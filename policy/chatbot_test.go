package policy

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/lethe-privacy/lethe"
)

// seedRow is one row of the chatbot platform's table of storage options
// (C1), as the table states it: the collection it becomes, whether it is
// optional, its default and other periods, the basis and the PII fields.
type seedRow struct {
	name       string
	switchable bool
	deflt      string   // default period of the rule named "delete"
	options    []string // choices including the default; nil when fixed
	basis      string   // basis of the rule named "delete"
	sealed     []string // encrypted (PII) fields
	plain      []string // personal data stored without encryption
	subjects   map[string]string
}

// chatbotTable is the seed table, row by row, in table order.
var chatbotTable = []seedRow{
	{"live_chat_messages", false, "7d", []string{"7d", "30d", "60d"}, "created_at",
		[]string{"session_id", "device_id", "message", "ip_address"}, nil, map[string]string{"session_id": "session_id", "device_id": "device_id", "ip_address": "ip_address"}},
	{"automated_chat_messages", false, "1d", nil, "created_at",
		[]string{"session_id", "device_id", "message"}, nil, map[string]string{"session_id": "session_id", "device_id": "device_id"}},
	{"nlu_messages", true, "30d", []string{"7d", "30d"}, "created_at",
		[]string{"session_id", "device_id", "message", "answer"}, nil, map[string]string{"session_id": "session_id", "device_id": "device_id"}},
	{"messenger_sessions", false, "7d", []string{"7d", "30d", "60d"}, "created_at",
		[]string{"customer_id", "variables"}, nil, map[string]string{"customer_id": "customer_id"}},
	{"runtime_log", false, "7d", []string{"7d", "30d"}, "created_at",
		[]string{"email", "message"}, []string{"ip_address"}, map[string]string{"email": "email", "ip_address": "ip_address"}},
	{"manager_log", false, "180d", nil, "created_at",
		[]string{"email", "ip_address", "activity_at"}, nil, map[string]string{"email": "email", "ip_address": "ip_address"}},
	{"security_log", false, "365d", nil, "created_at",
		nil, []string{"email", "ip_address", "occurred_at"}, map[string]string{"email": "email", "ip_address": "ip_address"}},
	{"variables", true, "60d", []string{"30d", "60d", "90d", "180d", "360d"}, "created_at",
		[]string{"values", "email", "device_id", "customer_id", "documents"}, nil, map[string]string{"email": "email", "device_id": "device_id", "customer_id": "customer_id"}},
	{"marketing_consents", true, "180d", []string{"60d", "90d", "180d", "360d"}, "created_at",
		[]string{"email", "ip_address"}, nil, map[string]string{"email": "email", "ip_address": "ip_address"}},
	{"voucher_codes", true, "180d", []string{"30d", "60d", "90d", "180d", "360d"}, "created_at",
		[]string{"code", "email"}, nil, map[string]string{"code": "voucher_code", "email": "email"}},
	{"loyalty_transactions", true, "180d", []string{"30d", "60d", "90d", "180d", "360d", "720d"}, "created_at",
		[]string{"email"}, nil, map[string]string{"email": "email"}},
	{"reward_redemptions", true, "60d", []string{"30d", "60d", "90d", "180d"}, "created_at",
		[]string{"email", "first_name", "last_name", "postal_address", "phone"}, nil, map[string]string{"email": "email", "phone": "phone"}},
	{"prize_draw_entries", true, "60d", []string{"30d", "60d", "90d", "180d"}, "created_at",
		[]string{"email", "first_name", "last_name", "postal_address", "phone"}, nil, map[string]string{"email": "email", "phone": "phone"}},
	{"push_subscriptions", false, "720d", []string{"30d", "60d", "90d", "180d", "360d", "720d"}, "created_at",
		[]string{"device_id", "auth_aes", "endpoint", "p256dh_aes", "private_key_aes", "public_key_aes"}, nil, map[string]string{"device_id": "device_id"}},
	{"push_notifications", false, "0", nil, "due_at",
		[]string{"auth_aes", "body", "endpoint", "p256dh_aes"}, nil, nil},
	{"web_notifications", false, "7d", []string{"7d", "30d", "60d", "90d", "180d"}, "created_at",
		[]string{"body", "device_id", "title"}, nil, map[string]string{"device_id": "device_id"}},
}

func TestChatbotPack_MatchesTheSeedTableRowByRow(t *testing.T) {
	p, err := Pack("chatbot")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Collections) != len(chatbotTable) {
		t.Fatalf("pack has %d collections, the table %d rows", len(p.Collections), len(chatbotTable))
	}
	for i, row := range chatbotTable {
		t.Run(row.name, func(t *testing.T) {
			c := p.Collections[i]
			if c.Name != row.name {
				t.Fatalf("row %d is %q, want %q (table order)", i+1, c.Name, row.name)
			}
			if c.Switchable != row.switchable {
				t.Errorf("switchable = %v, want %v", c.Switchable, row.switchable)
			}
			r := c.Rule("delete")
			if r == nil {
				t.Fatalf("no rule named delete")
			}
			if r.Action != lethe.ActionDelete {
				t.Errorf("action = %q, want delete", r.Action)
			}
			if got := r.Period.Default.String(); got != row.deflt && !(row.deflt == "0" && r.Period.Default.IsZero()) {
				t.Errorf("default = %s, want %s", got, row.deflt)
			}
			if diff := cmp.Diff(row.options, durStrings(r.Period.Options)); diff != "" {
				t.Errorf("options (-seed +pack):\n%s", diff)
			}
			if r.Basis != row.basis {
				t.Errorf("basis = %q, want %q", r.Basis, row.basis)
			}
			sealed, plain, subjects := personalFields(c)
			if diff := cmp.Diff(row.sealed, sealed); diff != "" {
				t.Errorf("encrypted fields (-seed +pack):\n%s", diff)
			}
			if diff := cmp.Diff(row.plain, plain); diff != "" {
				t.Errorf("unencrypted personal fields (-seed +pack):\n%s", diff)
			}
			if diff := cmp.Diff(row.subjects, subjects); diff != "" {
				t.Errorf("subjects (-seed +pack):\n%s", diff)
			}
		})
	}
}

func TestChatbotPack_TimestampRules(t *testing.T) {
	p, err := Pack("chatbot")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		collection, rule, basis string
	}{
		{"variables", "delete_at_expiry", "expires_at"},
		{"push_notifications", "delete", "due_at"},
		{"web_notifications", "delete_on_receipt", "received_at"},
	}
	for _, tt := range tests {
		t.Run(tt.collection+"/"+tt.rule, func(t *testing.T) {
			c := p.Collection(tt.collection)
			r := c.Rule(tt.rule)
			if r == nil {
				t.Fatalf("no rule %s", tt.rule)
			}
			if r.Basis != tt.basis || !r.Period.Default.IsZero() || len(r.Period.Options) != 0 {
				t.Errorf("rule = basis %q period %v, want basis %q at once without options", r.Basis, r.Period, tt.basis)
			}
			f := c.Field(tt.basis)
			if f == nil || f.Type != TypeTimestamp || f.IsPII() {
				t.Errorf("basis field %s must be a plain timestamp, got %+v", tt.basis, f)
			}
		})
	}
}

func TestChatbotPack_VoucherCodeIsIssuedOnce(t *testing.T) {
	p, err := Pack("chatbot")
	if err != nil {
		t.Fatal(err)
	}
	f := p.Collection("voucher_codes").Field("code")
	if !f.Unique || f.Subject != "voucher_code" || !f.IsPII() {
		t.Errorf("code = %+v, want a unique, encrypted voucher_code identifier (C6)", f)
	}
}

func TestChatbotPack_SecurityLogIsPlainOnPurpose(t *testing.T) {
	p, err := Pack("chatbot")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range p.Collection("security_log").Fields {
		if f.IsPII() {
			t.Errorf("security_log.%s is encrypted; the log stays plain for pattern detection (C4)", f.Name)
		}
		if f.IsPersonal() && f.Anonymize != OpErase {
			t.Errorf("security_log.%s: personal data anonymized by %q, want erase", f.Name, f.Anonymize)
		}
	}
}

func durStrings(ds []lethe.Duration) []string {
	if len(ds) == 0 {
		return nil
	}
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.String()
	}
	return out
}

// personalFields splits a collection's top-level fields into encrypted
// and plain personal ones and maps subject fields to their kind.
func personalFields(c *Collection) (sealed, plain []string, subjects map[string]string) {
	for _, f := range c.Fields {
		switch {
		case f.IsPII():
			sealed = append(sealed, f.Name)
		case f.Personal:
			plain = append(plain, f.Name)
		}
		if f.Subject != "" {
			if subjects == nil {
				subjects = map[string]string{}
			}
			subjects[f.Name] = f.Subject
		}
	}
	return sealed, plain, subjects
}
