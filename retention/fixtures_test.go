package retention

import (
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/policy"
)

// The collections below restate seeds 001 (conversations: O4, O5) and 002
// (ERP marketplace: X2, X7, X11) in Go, so that these tests do not depend
// on the shipped packs and fail when an operator stops doing what the seed
// asks.

var t0 = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

func dur(s string) lethe.Duration { return lethe.MustDuration(s) }

func boolp(b bool) *bool { return &b }

// messagesCollection: a chatbot message (O1, O5).
func messagesCollection() *policy.Collection {
	return &policy.Collection{
		Name: "messages",
		Fields: []*policy.Field{
			{Name: "text", Type: policy.TypeText, PII: true, Anonymize: policy.OpReplace, Value: "This message has been deleted"},
			{Name: "intent", Type: policy.TypeString},
			{Name: "entities", Type: policy.TypeObject, PII: true},
			{Name: "tokens", Type: policy.TypeObject, PII: true, Anonymize: policy.OpErase},
			{Name: "context", Type: policy.TypeObject, PII: true, Anonymize: policy.OpErase},
			{Name: "new_context", Type: policy.TypeObject, PII: true, Anonymize: policy.OpErase},
			{Name: "metadata", Type: policy.TypeObject, PII: true, Anonymize: policy.OpDropKeys, Keys: []string{"user_name", "ip"}},
			{Name: "sender", Type: policy.TypeString},
		},
		Rules: []*policy.Rule{
			{Name: "anonymize", Action: lethe.ActionAnonymize, Basis: "created_at",
				Period: policy.Period{Default: dur("30d"), Options: []lethe.Duration{dur("7d"), dur("60d")}, Max: dur("3y")}},
			{Name: "delete", Action: lethe.ActionDelete, Basis: "created_at",
				Period: policy.Period{Default: dur("3y"), Options: []lethe.Duration{dur("1y"), dur("2y")}, Max: dur("3y")}},
		},
	}
}

// sessionsCollection: a chatbot session (O2, O5).
func sessionsCollection() *policy.Collection {
	return &policy.Collection{
		Name:             "sessions",
		Switchable:       true,
		EnabledByDefault: true,
		Fields: []*policy.Field{
			{Name: "conversation_id", Type: policy.TypeString, Subject: "conversation_id", Anonymize: policy.OpUUID},
			{Name: "metadata", Type: policy.TypeObject, PII: true, Anonymize: policy.OpErase},
			{Name: "channel", Type: policy.TypeObject, PII: true},
			{Name: "last_activity_at", Type: policy.TypeTimestamp},
			{Name: "message_count", Type: policy.TypeInteger},
		},
		Rules: []*policy.Rule{
			{Action: lethe.ActionAnonymize, Basis: "last_activity_at", Period: policy.Period{Default: dur("30d")}},
			{Action: lethe.ActionDelete, Basis: "last_activity_at", Period: policy.Period{Default: dur("3y"), Max: dur("3y")}},
		},
	}
}

// orderCollection: an ERP order (Auftrag) with the fields of X11.
func orderCollection() *policy.Collection {
	erase := func(names ...string) []*policy.Field {
		var fs []*policy.Field
		for _, n := range names {
			fs = append(fs, &policy.Field{Name: n, Type: policy.TypeString, PII: true, Anonymize: policy.OpErase})
		}
		return fs
	}
	cleared := func(names ...string) []*policy.Field {
		var fs []*policy.Field
		for _, n := range names {
			fs = append(fs, &policy.Field{Name: n, Type: policy.TypeString, PII: true, Anonymize: policy.OpClear})
		}
		return fs
	}
	fields := []*policy.Field{
		{Name: "belegnr", Type: policy.TypeString},
		{Name: "name", Type: policy.TypeString, PII: true, Anonymize: policy.OpPlaceholder},
		{Name: "liefername", Type: policy.TypeString, PII: true, Anonymize: policy.OpPlaceholder},
		{Name: "email", Type: policy.TypeString, Subject: "email"},
		{Name: "plz", Type: policy.TypeString, PII: true, Anonymize: policy.OpKeep},
		{Name: "ort", Type: policy.TypeString, PII: true, Anonymize: policy.OpKeep},
		{Name: "shipped_at", Type: policy.TypeTimestamp},
		{Name: "lieferadressen", Type: policy.TypeList, Anonymize: policy.OpErase, Items: []*policy.Field{
			{Name: "name", Type: policy.TypeString, PII: true},
			{Name: "strasse", Type: policy.TypeString, PII: true},
			{Name: "plz", Type: policy.TypeString},
		}},
		{Name: "weitere_ansprechpartner", Type: policy.TypeList, Items: []*policy.Field{
			{Name: "name", Type: policy.TypeString, PII: true},
			{Name: "telefon", Type: policy.TypeString, PII: true},
		}},
		{Name: "weitere_kontakte", Type: policy.TypeList, Anonymize: policy.OpEach, Items: []*policy.Field{
			{Name: "bezeichnung", Type: policy.TypeString},
			{Name: "kontakt", Type: policy.TypeString, PII: true, Anonymize: policy.OpClear},
		}},
		{Name: "positionen", Type: policy.TypeList, Anonymize: policy.OpEach, Items: []*policy.Field{
			{Name: "artikel", Type: policy.TypeString},
			{Name: "menge", Type: policy.TypeNumber},
			{Name: "geschenknachricht", Type: policy.TypeText, PII: true, Anonymize: policy.OpErase},
		}},
	}
	fields = append(fields, erase("typ", "titel", "ansprechpartner", "abteilung", "unterabteilung",
		"adresszusatz", "strasse", "telefon", "telefax", "anschreiben", "ustid", "liefertitel",
		"lieferansprechpartner", "lieferabteilung", "lieferunterabteilung", "lieferadresszusatz",
		"lieferstrasse")...)
	fields = append(fields, cleared("rechnung_name", "rechnung_strasse", "rechnung_email")...)
	return &policy.Collection{
		Name:   "orders",
		Fields: fields,
		Rules: []*policy.Rule{
			{Name: "anonymize_amazon", Action: lethe.ActionAnonymize, Basis: "shipped_at",
				Period: policy.Period{Default: dur("30d"), Max: dur("30d")},
				When:   &policy.Condition{Origin: []string{"amazon"}},
				Reason: "Amazon PII is anonymized 30 days after shipment"},
			{Name: "delete", Action: lethe.ActionDelete, Basis: "created_at",
				Period: policy.Period{Default: dur("10y")}},
		},
	}
}
