package retention

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/policy"
)

// fixedUUID hands out numbered UUIDs so that results can be compared.
func fixedUUID() func() string {
	n := 0
	return func() string {
		n++
		return fmt.Sprintf("00000000-0000-4000-8000-%012d", n)
	}
}

// decode reads a JSON object the way the engine hands fields over.
func decode(t testing.TB, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func assertFields(t *testing.T, got, want map[string]any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", "  ")
		w, _ := json.MarshalIndent(want, "", "  ")
		t.Errorf("Anonymize =\n%s\nwant\n%s", g, w)
	}
}

const messageJSON = `{
  "text": "Mijn rijksregisternummer is 85.07.30-033.61",
  "intent": "give_id",
  "entities": [{"type": "national_id", "value": "85.07.30-033.61"}],
  "tokens": ["85.07.30-033.61"],
  "context": {"name": "Jan"},
  "new_context": {"name": "Jan", "id": "85.07.30-033.61"},
  "metadata": {"channel": "web", "user_name": "Jan", "ip": "10.0.0.1", "crm_id": "C-9", "lang": "nl"},
  "sender": "user"
}`

// O5: text replaced, entities, tokens, context and new_context removed,
// intent kept, metadata without the field's keys and the bot's extra keys.
func TestAnonymize_ConversationMessage(t *testing.T) {
	tests := []struct {
		name string
		s    *lethe.Settings
		want string
	}{
		{"no extra keys", nil, `{
			"text": "This message has been deleted", "intent": "give_id", "sender": "user",
			"metadata": {"channel": "web", "crm_id": "C-9", "lang": "nl"}}`},
		{"bot drops crm_id", &lethe.Settings{DropMetadata: []string{"crm_id", "absent"}}, `{
			"text": "This message has been deleted", "intent": "give_id", "sender": "user",
			"metadata": {"channel": "web", "lang": "nl"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Anonymize(messagesCollection(), tt.s, decode(t, messageJSON), fixedUUID())
			assertFields(t, got, decode(t, tt.want))
		})
	}
}

// O5: the session identifier becomes a fresh UUID, all session metadata and
// channel data go, statistics stay (O6).
func TestAnonymize_ConversationSession(t *testing.T) {
	in := decode(t, `{
		"conversation_id": "jan.peeters@example.be",
		"metadata": {"first_name": "Jan", "last_name": "Peeters"},
		"channel": {"type": "messenger", "user_id": "1234567890"},
		"last_activity_at": "2024-03-01T12:00:00Z",
		"message_count": 12}`)
	got := Anonymize(sessionsCollection(), nil, in, fixedUUID())
	assertFields(t, got, decode(t, `{
		"conversation_id": "00000000-0000-4000-8000-000000000001",
		"last_activity_at": "2024-03-01T12:00:00Z",
		"message_count": 12}`))
}

const orderJSON = `{
  "belegnr": "AU-2024-0042",
  "typ": "herr", "titel": "Dr.", "name": "Max Mustermann",
  "ansprechpartner": "Erika Mustermann", "abteilung": "Einkauf", "unterabteilung": "B",
  "adresszusatz": "c/o Muster GmbH", "strasse": "Musterstraße 1", "plz": "10115", "ort": "Berlin",
  "telefon": "+49 30 123456", "telefax": "+49 30 123457", "anschreiben": "Sehr geehrter Herr",
  "email": "max@example.de", "ustid": "DE123456789",
  "liefertitel": "Dr.", "liefername": "Max Mustermann", "lieferansprechpartner": "Erika",
  "lieferabteilung": "Lager", "lieferunterabteilung": "C", "lieferadresszusatz": "Hinterhaus",
  "lieferstrasse": "Lieferweg 2",
  "rechnung_name": "Muster GmbH", "rechnung_strasse": "Rechnungsallee 3", "rechnung_email": "buchhaltung@example.de",
  "shipped_at": "2024-03-04T10:00:00Z",
  "lieferadressen": [{"name": "Oma Mustermann", "strasse": "Omaweg 4", "plz": "80331"}],
  "weitere_ansprechpartner": [{"name": "Hans", "telefon": "0171 1234567"}],
  "weitere_kontakte": [{"bezeichnung": "Mobil", "kontakt": "0171 7654321"}, {"bezeichnung": "Skype", "kontakt": "max.m"}],
  "positionen": [
    {"artikel": "Teekanne", "menge": 2, "geschenknachricht": "Alles Gute, Oma!"},
    {"artikel": "Tasse", "menge": 6}
  ]
}`

// X7, X11: names get the placeholder, address, phone, fax, e-mail and gift
// message go, ZIP code and city stay, deviating delivery addresses and
// additional contact persons go whole, other contacts keep their structure
// with cleared values, rechnung_* are cleared.
func TestAnonymize_ERPOrder(t *testing.T) {
	want := `{
		"belegnr": "AU-2024-0042",
		"name": %[1]q, "liefername": %[1]q,
		"plz": "10115", "ort": "Berlin",
		"rechnung_name": "", "rechnung_strasse": "", "rechnung_email": "",
		"shipped_at": "2024-03-04T10:00:00Z",
		"weitere_kontakte": [{"bezeichnung": "Mobil", "kontakt": ""}, {"bezeichnung": "Skype", "kontakt": ""}],
		"positionen": [{"artikel": "Teekanne", "menge": 2}, {"artikel": "Tasse", "menge": 6}]
	}`
	tests := []struct {
		name        string
		s           *lethe.Settings
		placeholder string
	}{
		{"default placeholder", nil, DefaultPlaceholder},
		{"settings without placeholder", &lethe.Settings{}, "Anonymous"},
		{"tenant placeholder", &lethe.Settings{Placeholder: "Amazon-Kunde"}, "Amazon-Kunde"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Anonymize(orderCollection(), tt.s, decode(t, orderJSON), fixedUUID())
			assertFields(t, got, decode(t, fmt.Sprintf(want, tt.placeholder)))
		})
	}
}

// Each operator on its own, including values of an unexpected shape.
func TestAnonymize_Operators(t *testing.T) {
	c := &policy.Collection{Fields: []*policy.Field{
		{Name: "keep", Anonymize: policy.OpKeep, PII: true},
		{Name: "erase", Anonymize: policy.OpErase},
		{Name: "clear", Anonymize: policy.OpClear},
		{Name: "replace", Anonymize: policy.OpReplace, Value: "gone"},
		{Name: "placeholder", Anonymize: policy.OpPlaceholder},
		{Name: "uuid", Anonymize: policy.OpUUID},
		{Name: "drop", Anonymize: policy.OpDropKeys, Keys: []string{"a"}},
		{Name: "each", Anonymize: policy.OpEach, Items: []*policy.Field{{Name: "secret", PII: true}, {Name: "n"}}},
		{Name: "pii_default", PII: true},
		{Name: "subject_default", Subject: "email"},
		{Name: "plain_default"},
		{Name: "unknown_op", Anonymize: "scramble"},
	}}
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"keep", `{"keep": {"x": [1]}}`, `{"keep": {"x": [1]}}`},
		{"erase string", `{"erase": "x"}`, `{}`},
		{"erase list", `{"erase": [{"a": 1}]}`, `{}`},
		{"clear string", `{"clear": "x"}`, `{"clear": ""}`},
		{"clear number", `{"clear": 4}`, `{"clear": null}`},
		{"clear object", `{"clear": {"a": 1}}`, `{"clear": null}`},
		{"clear null", `{"clear": null}`, `{"clear": null}`},
		{"replace", `{"replace": 1}`, `{"replace": "gone"}`},
		{"placeholder on null", `{"placeholder": null}`, `{"placeholder": "Anonymous"}`},
		{"uuid", `{"uuid": "me@example.com"}`, `{"uuid": "00000000-0000-4000-8000-000000000001"}`},
		{"drop_keys object", `{"drop": {"a": 1, "b": 2}}`, `{"drop": {"b": 2}}`},
		{"drop_keys not an object", `{"drop": "a"}`, `{"drop": "a"}`},
		{"each list", `{"each": [{"secret": "s", "n": 1, "extra": true}, "odd", null]}`, `{"each": [{"n": 1, "extra": true}, "odd", null]}`},
		{"each empty list", `{"each": []}`, `{"each": []}`},
		{"each not a list", `{"each": {"secret": "s"}}`, `{"each": {"secret": "s"}}`},
		{"PII without operator is erased", `{"pii_default": "x", "subject_default": "a@b.c"}`, `{}`},
		{"plain without operator is kept", `{"plain_default": 3}`, `{"plain_default": 3}`},
		{"unknown operator erases", `{"unknown_op": "x"}`, `{}`},
		{"undeclared field is kept", `{"mystery": {"a": [1, 2]}}`, `{"mystery": {"a": [1, 2]}}`},
		{"empty input", `{}`, `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertFields(t, Anonymize(c, nil, decode(t, tt.in), fixedUUID()), decode(t, tt.want))
		})
	}
}

func TestAnonymize_IsIdempotentButForFreshUUIDs(t *testing.T) {
	tests := []struct {
		name string
		c    *policy.Collection
		s    *lethe.Settings
		in   string
	}{
		{"message", messagesCollection(), &lethe.Settings{DropMetadata: []string{"crm_id"}}, messageJSON},
		{"session", sessionsCollection(), nil, `{"conversation_id": "x", "metadata": {"a": 1}, "message_count": 1}`},
		{"order", orderCollection(), &lethe.Settings{Placeholder: "Kunde"}, orderJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			once := Anonymize(tt.c, tt.s, decode(t, tt.in), fixedUUID())
			twice := Anonymize(tt.c, tt.s, once, fixedUUID())
			assertFields(t, twice, once)

			// With a real generator only the UUID fields differ.
			a := Anonymize(tt.c, tt.s, decode(t, tt.in), nil)
			b := Anonymize(tt.c, tt.s, a, nil)
			for k := range a {
				if f := tt.c.Field(k); f != nil && f.Anonymize == policy.OpUUID {
					if a[k] == b[k] {
						t.Errorf("%s: UUID %v not renewed", k, a[k])
					}
					delete(a, k)
					delete(b, k)
				}
			}
			assertFields(t, b, a)
		})
	}
}

func TestAnonymize_LeavesInputUntouchedAndSharesNothing(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    *policy.Collection
		in   string
	}{
		{"message", messagesCollection(), messageJSON},
		{"order", orderCollection(), orderJSON},
		{"undeclared nested", &policy.Collection{}, `{"x": {"y": [{"z": 1}]}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := decode(t, tc.in)
			pristine := decode(t, tc.in)
			out := Anonymize(tc.c, &lethe.Settings{DropMetadata: []string{"channel"}}, in, fixedUUID())
			if !reflect.DeepEqual(in, pristine) {
				t.Fatal("Anonymize modified its input")
			}
			// Scribbling over every nested value of the result must not
			// reach the input.
			scribble(out)
			if !reflect.DeepEqual(in, pristine) {
				t.Fatal("result shares maps or lists with the input")
			}
		})
	}
}

// scribble overwrites every map entry and list item, depth first.
func scribble(v any) {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			scribble(x)
			t[k] = "scribbled"
		}
		t["added"] = true
	case []any:
		for i, x := range t {
			scribble(x)
			t[i] = "scribbled"
		}
	}
}

func TestRandomUUID_IsVersion4(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		u := randomUUID()
		if len(u) != 36 || u[8] != '-' || u[13] != '-' || u[14] != '4' || u[18] != '-' || u[23] != '-' ||
			(u[19] != '8' && u[19] != '9' && u[19] != 'a' && u[19] != 'b') {
			t.Fatalf("randomUUID = %q, not a version 4 UUID", u)
		}
		if seen[u] {
			t.Fatalf("randomUUID repeated %q", u)
		}
		seen[u] = true
	}
}

func FuzzAnonymize(f *testing.F) {
	for _, s := range []string{messageJSON, orderJSON, `{}`, `{"each": [1, {"secret": [null]}]}`,
		`{"weitere_kontakte": {"kontakt": 1}}`, `{"positionen": [[], {"geschenknachricht": {}}]}`,
		`{"metadata": [1, 2]}`, `{"name": null, "plz": 10115}`} {
		f.Add(s)
	}
	colls := []*policy.Collection{messagesCollection(), sessionsCollection(), orderCollection()}
	s := &lethe.Settings{Placeholder: "Kunde", DropMetadata: []string{"lang", "kontakt"}}
	f.Fuzz(func(t *testing.T, data string) {
		var in map[string]any
		if json.Unmarshal([]byte(data), &in) != nil || in == nil {
			return
		}
		for _, c := range colls {
			var pristine map[string]any
			_ = json.Unmarshal([]byte(data), &pristine)
			once := Anonymize(c, s, in, func() string { return "u" })
			if !reflect.DeepEqual(in, pristine) {
				t.Fatalf("%s: input modified", c.Name)
			}
			twice := Anonymize(c, s, once, func() string { return "u" })
			if !reflect.DeepEqual(once, twice) {
				t.Fatalf("%s: not idempotent:\n%v\n%v", c.Name, once, twice)
			}
			if _, err := json.Marshal(once); err != nil {
				t.Fatalf("%s: result is not JSON: %v", c.Name, err)
			}
		}
	})
}

func BenchmarkAnonymize(b *testing.B) {
	c := orderCollection()
	s := &lethe.Settings{Placeholder: "Amazon-Kunde"}
	in := decode(b, orderJSON)
	uuid := fixedUUID()
	b.ReportAllocs()
	for b.Loop() {
		if out := Anonymize(c, s, in, uuid); out["name"] != "Amazon-Kunde" {
			b.Fatal("name not replaced")
		}
	}
}
