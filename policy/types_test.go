package policy

import (
	"testing"
)

// The types that take real payloads fit the operators and roles that make
// sense for them: an id is an identifier (subject, unique, uuid), a date
// counts as a rule's basis, a json value is kept or erased.
func TestParse_AcceptsTheTypesForRealPayloads(t *testing.T) {
	src := `
version: 1
name: shop
collections:
  - name: invoices
    fields:
      - {name: belegnr, type: id, anonymize: keep}
      - {name: kundennummer, type: id, subject: customer_id, unique: true}
      - {name: ticket, type: id, pii: true, anonymize: uuid}
      - {name: datum, type: date, anonymize: keep}
      - {name: entities, type: json, pii: true}
      - {name: extra, type: json}
    rules:
      - {action: delete, basis: datum, period: 10y}
`
	p, err := Parse("types.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	c := p.Collection("invoices")
	for name, want := range map[string]FieldType{"belegnr": TypeID, "kundennummer": TypeID, "ticket": TypeID, "datum": TypeDate, "entities": TypeJSON, "extra": TypeJSON} {
		if f := c.Field(name); f == nil || f.Type != want {
			t.Errorf("field %s: %+v, want type %s", name, f, want)
		}
	}
}

// The pack fields that real chatbots and ERPs fill with lists, numbers and
// dates have the types that take them (a metadata object with drop_keys
// stays an object: the operator removes keys).
func TestPacks_FieldTypesTakeRealPayloads(t *testing.T) {
	type packField struct {
		pack, collection, field string
		want                    FieldType
	}
	tests := []packField{
		{"conversations", "messages", "entities", TypeJSON},
		{"conversations", "messages", "tokens", TypeJSON},
		{"conversations", "messages", "context", TypeJSON},
		{"conversations", "messages", "new_context", TypeJSON},
		{"conversations", "messages", "metadata", TypeObject},
		{"conversations", "sessions", "metadata", TypeJSON},
		{"conversations", "sessions", "channel", TypeObject},
		{"conversations", "contexts", "state", TypeJSON},
		{"chatbot", "variables", "values", TypeJSON},
		{"chatbot", "variables", "documents", TypeJSON},
		{"chatbot", "messenger_sessions", "variables", TypeJSON},
		{"erp-marketplace", "addresses", "kundennummer", TypeID},
	}
	for _, c := range []string{"orders", "delivery_notes", "invoices", "archived_documents"} {
		tests = append(tests,
			packField{"erp-marketplace", c, "belegnr", TypeID},
			packField{"erp-marketplace", c, "datum", TypeDate},
			packField{"erp-marketplace", c, "kundennummer", TypeID})
	}
	for _, tt := range tests {
		t.Run(tt.pack+"/"+tt.collection+"."+tt.field, func(t *testing.T) {
			p, err := Pack(tt.pack)
			if err != nil {
				t.Fatal(err)
			}
			c := p.Collection(tt.collection)
			if c == nil {
				t.Fatalf("no collection %s", tt.collection)
			}
			f := c.Field(tt.field)
			if f == nil || f.Type != tt.want {
				t.Fatalf("field %+v, want type %s", f, tt.want)
			}
		})
	}
}
