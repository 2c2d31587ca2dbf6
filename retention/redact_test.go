package retention

import (
	"reflect"
	"slices"
	"testing"

	"github.com/lethe-privacy/lethe/policy"
	"github.com/lethe-privacy/lethe/redact"
)

// nluCollection is a chat message kept for review: the text redacted,
// the classification kept, the session id an identifier.
func nluCollection(mode string) *policy.Collection {
	return &policy.Collection{Name: "nlu_messages", Fields: []*policy.Field{
		{Name: "session_id", Type: policy.TypeString, Subject: "session_id"},
		{Name: "message", Type: policy.TypeText, PII: true, Anonymize: policy.OpRedact, Redact: mode},
		{Name: "classification", Type: policy.TypeString},
		{Name: "sender", Type: policy.TypeString, Anonymize: policy.OpReplace, Value: "erika@example.com"},
		{Name: "name", Type: policy.TypeString, PII: true, Anonymize: policy.OpPlaceholder},
		{Name: "lines", Type: policy.TypeList, Anonymize: policy.OpEach, Items: []*policy.Field{
			{Name: "note", Type: policy.TypeString, Anonymize: policy.OpKeep},
			{Name: "gift", Type: policy.TypeText, PII: true, Anonymize: policy.OpRedact},
		}},
	}}
}

// analyzerRedactor is the engine's redactor in small: the real analyzer
// and the operator of the field's mode, with a fixed test key for hash.
func analyzerRedactor(t *testing.T) Redactor {
	t.Helper()
	a, err := redact.New(redact.Options{Region: "DE"})
	if err != nil {
		t.Fatal(err)
	}
	return func(f *policy.Field, text string) (string, bool) {
		var op redact.Operator = redact.Tag{}
		switch f.Redact {
		case policy.RedactHash:
			op = redact.Hash{MAC: redact.NewHMAC([]byte("test key"))}
		case policy.RedactMask:
			op = redact.Mask{}
		}
		out, err := redact.Apply(text, a.Analyze(text), op)
		return out, err == nil
	}
}

const nluJSON = `{
  "session_id": "s-1",
  "message": "Hallo, ich heiße Erika Mustermann, schreibt mir an erika@example.com oder ruft 0151 23456789 an.",
  "classification": "contact_request",
  "sender": "user",
  "name": "Erika",
  "lines": [{"note": "Bestellung 4711", "gift": "Für Max, IBAN DE89370400440532013000"}]
}`

func TestAnonymizeWith_Redact(t *testing.T) {
	tests := []struct {
		mode      string
		msg, gift string
	}{
		{"", "Hallo, ich heiße <PERSON>, schreibt mir an <EMAIL> oder ruft <PHONE> an.", "Für <PERSON>, IBAN <IBAN>"},
		{policy.RedactTag, "Hallo, ich heiße <PERSON>, schreibt mir an <EMAIL> oder ruft <PHONE> an.", "Für <PERSON>, IBAN <IBAN>"},
	}
	for _, tt := range tests {
		t.Run("mode="+tt.mode, func(t *testing.T) {
			got := AnonymizeWith(nluCollection(tt.mode), nil, decode(t, nluJSON), Options{NewUUID: fixedUUID(), Redact: analyzerRedactor(t)})
			if got["message"] != tt.msg {
				t.Errorf("message = %q, want %q", got["message"], tt.msg)
			}
			line := got["lines"].([]any)[0].(map[string]any)
			if line["gift"] != tt.gift || line["note"] != "Bestellung 4711" {
				t.Errorf("line = %v, want gift %q and the note kept", line, tt.gift)
			}
			if got["classification"] != "contact_request" || got["name"] != DefaultPlaceholder {
				t.Errorf("other operators changed: %v", got)
			}
		})
	}
}

// The hash mode writes the same tag for the same value and another for
// another value, and none of the value.
func TestAnonymizeWith_RedactHashIsLinkable(t *testing.T) {
	c := nluCollection(policy.RedactHash)
	r := analyzerRedactor(t)
	one := AnonymizeWith(c, nil, map[string]any{"message": "mail erika@example.com"}, Options{Redact: r})["message"].(string)
	two := AnonymizeWith(c, nil, map[string]any{"message": "noch mal: erika@example.com"}, Options{Redact: r})["message"].(string)
	other := AnonymizeWith(c, nil, map[string]any{"message": "mail max@example.com"}, Options{Redact: r})["message"].(string)
	tag := one[len("mail "):]
	if len(tag) != len("<EMAIL:")+16+1 || two != "noch mal: "+tag || other == one {
		t.Errorf("hash tags: %q, %q, %q; want the same tag for the same address and another for another", one, two, other)
	}
}

// Without a redactor, or with one that fails, a redact field is erased:
// the text never goes through unredacted. A null is kept (nothing in it).
func TestAnonymizeWith_RedactFailsClosed(t *testing.T) {
	c := nluCollection("")
	in := map[string]any{"message": "erika@example.com", "classification": "x"}
	for name, r := range map[string]Redactor{
		"no redactor":     nil,
		"redactor failed": func(*policy.Field, string) (string, bool) { return "erika@example.com", false },
	} {
		got := AnonymizeWith(c, nil, in, Options{Redact: r})
		if _, ok := got["message"]; ok || got["classification"] != "x" {
			t.Errorf("%s: got %v, want message removed and classification kept", name, got)
		}
	}
	got := Anonymize(c, nil, map[string]any{"message": nil}, nil)
	if v, ok := got["message"]; !ok || v != nil {
		t.Errorf("null message: got %v, want kept as null", got)
	}
}

// Redacting its own result changes nothing: a sweep that crashed half-way
// runs again safely, and tags are not mistaken for personal data.
func TestAnonymizeWith_RedactIdempotent(t *testing.T) {
	for _, mode := range policy.RedactModes {
		c := nluCollection(mode)
		r := analyzerRedactor(t)
		once := AnonymizeWith(c, nil, decode(t, nluJSON), Options{NewUUID: fixedUUID(), Redact: r})
		twice := AnonymizeWith(c, nil, once, Options{NewUUID: fixedUUID(), Redact: r})
		if !reflect.DeepEqual(once, twice) {
			t.Errorf("mode %s: second run changed\n%v\nto\n%v", mode, once, twice)
		}
	}
}

// KeptTexts reads the texts anonymization kept from the person: kept and
// redacted strings, also inside lists; not identifiers, not texts the
// operators wrote (replace, placeholder).
func TestKeptTexts(t *testing.T) {
	c := nluCollection("")
	anon := AnonymizeWith(c, nil, decode(t, nluJSON), Options{NewUUID: fixedUUID(), Redact: analyzerRedactor(t)})
	var got []string
	KeptTexts(c, anon, func(f *policy.Field, text string) { got = append(got, f.Name) })
	slices.Sort(got)
	if want := []string{"classification", "gift", "message", "note"}; !slices.Equal(got, want) {
		t.Errorf("KeptTexts fields = %v, want %v", got, want)
	}
}
