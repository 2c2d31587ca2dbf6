package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/policy"
)

// typesCollection has one field of every type, as a policy declares them.
var typesCollection = &policy.Collection{Name: "things", Fields: []*policy.Field{
	{Name: "s", Type: policy.TypeString},
	{Name: "i", Type: policy.TypeInteger},
	{Name: "n", Type: policy.TypeNumber},
	{Name: "ts", Type: policy.TypeTimestamp},
	{Name: "d", Type: policy.TypeDate},
	{Name: "id", Type: policy.TypeID},
	{Name: "o", Type: policy.TypeObject},
	{Name: "j", Type: policy.TypeJSON},
	{Name: "l", Type: policy.TypeList, Items: []*policy.Field{
		{Name: "menge", Type: policy.TypeNumber},
		{Name: "nr", Type: policy.TypeID},
	}},
}}

// decodeFields decodes JSON as the HTTP layer does (UseNumber).
func decodeFields(t *testing.T, src string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(src))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	return m
}

func TestCheckFields_NormalizesEachType(t *testing.T) {
	tests := []struct {
		name, in string
		want     map[string]any
	}{
		{"integer id stays a number", `{"id": 1001}`, map[string]any{"id": int64(1001)}},
		{"string id stays a string", `{"id": "K-1001"}`, map[string]any{"id": "K-1001"}},
		{"leading zeros of a string id kept", `{"id": "001001"}`, map[string]any{"id": "001001"}},
		{"whole float id is the integer", `{"id": 1001.0}`, map[string]any{"id": int64(1001)}},
		{"negative id", `{"id": -7}`, map[string]any{"id": int64(-7)}},
		{"largest exact id", `{"id": 9007199254740992}`, map[string]any{"id": int64(1 << 53)}},
		{"date kept as written", `{"d": "2026-11-18"}`, map[string]any{"d": "2026-11-18"}},
		{"leap day", `{"d": "2028-02-29"}`, map[string]any{"d": "2028-02-29"}},
		{"timestamp to UTC", `{"ts": "2026-11-18T10:00:00+01:00"}`, map[string]any{"ts": "2026-11-18T09:00:00Z"}},
		{"lower-case t and z", `{"ts": "2026-11-18t10:00:00z"}`, map[string]any{"ts": "2026-11-18T10:00:00Z"}},
		{"space for the T", `{"ts": "2026-11-18 10:00:00.25+00:00"}`, map[string]any{"ts": "2026-11-18T10:00:00.25Z"}},
		{"Unix seconds", `{"ts": 1763460000}`, map[string]any{"ts": "2025-11-18T10:00:00Z"}},
		{"Unix seconds with fraction, every digit kept", `{"ts": 1763460000.123456789}`, map[string]any{"ts": "2025-11-18T10:00:00.123456789Z"}},
		{"Unix seconds with exponent", `{"ts": 1.76346e9}`, map[string]any{"ts": "2025-11-18T10:00:00Z"}},
		{"Unix seconds before 1970", `{"ts": -1.5}`, map[string]any{"ts": "1969-12-31T23:59:58.5Z"}},
		{"json list", `{"j": [{"entity": "email", "value": "a@b.c", "start": 10}, "tok", 2.5, true, null]}`,
			map[string]any{"j": []any{map[string]any{"entity": "email", "value": "a@b.c", "start": int64(10)}, "tok", 2.5, true, nil}}},
		{"json object", `{"j": {"state": {"step": 3}}}`, map[string]any{"j": map[string]any{"state": map[string]any{"step": int64(3)}}}},
		{"json string", `{"j": "plain"}`, map[string]any{"j": "plain"}},
		{"json number", `{"j": 12}`, map[string]any{"j": int64(12)}},
		{"json false", `{"j": false}`, map[string]any{"j": false}},
		{"top-level null is unset", `{"j": null, "id": null}`, map[string]any{}},
		{"object keeps nested numbers exact", `{"o": {"n": 9007199254740992, "f": 1e300}}`, map[string]any{"o": map[string]any{"n": int64(1 << 53), "f": 1e300}}},
		{"integer from a whole float", `{"i": 2.0}`, map[string]any{"i": int64(2)}},
		{"number from an integer literal", `{"n": 3}`, map[string]any{"n": float64(3)}},
		{"list item with a numeric id", `{"l": [{"menge": 2, "nr": 17}]}`, map[string]any{"l": []any{map[string]any{"menge": float64(2), "nr": int64(17)}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := checkFields(typesCollection, decodeFields(t, tt.in), "fields.")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("normalized (-want +got):\n%s", diff)
			}
			again, err := checkFields(typesCollection, got, "fields.")
			if err != nil || !cmp.Equal(got, again) {
				t.Errorf("normalized fields not stable: %v, %v", again, err)
			}
		})
	}
}

// reasons lists the field errors of err as "path: reason", in order.
func reasons(t *testing.T, err error) []string {
	t.Helper()
	fes, ok := fieldErrorsOf(err)
	if !ok {
		t.Fatalf("err = %v (%T), want field errors only", err, err)
	}
	out := make([]string, len(fes))
	for i, fe := range fes {
		out[i] = fe.Field + ": " + fe.Reason
	}
	return out
}

func TestCheckFields_RefusesWithAClearReason(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"id beyond 2^53", `{"id": 9007199254740993}`, "fields.id: integer beyond ±2^53 (9007199254740992) would be rounded by JSON readers; send it as a string"},
		{"id beyond int64", `{"id": 123456789012345678901234567890}`, "fields.id: integer beyond ±2^53 (9007199254740992) would be rounded by JSON readers; send it as a string"},
		{"whole float id beyond 2^53", `{"id": 1e20}`, "fields.id: integer beyond ±2^53 (9007199254740992) would be rounded by JSON readers; send it as a string"},
		{"id with a fraction", `{"id": 10.5}`, "fields.id: want a string or an integer, got a number with a fraction"},
		{"id as boolean", `{"id": true}`, "fields.id: want a string or an integer, got a boolean"},
		{"id as object", `{"id": {"nr": 1}}`, "fields.id: want a string or an integer, got an object"},
		{"integer beyond 2^53", `{"i": -9007199254740993}`, "fields.i: integer beyond ±2^53 (9007199254740992) would be rounded by JSON readers"},
		{"number written as a huge integer", `{"n": 9007199254740993}`, "fields.n: integer beyond ±2^53 (9007199254740992) would be rounded by JSON readers"},
		{"number out of range", `{"n": 1e400}`, "fields.n: number out of range"},
		{"json number beyond 2^53 deep inside", `{"j": {"a": [1, {"b": 9007199254740993}]}}`, "fields.j.a[1].b: integer beyond ±2^53 (9007199254740992) would be rounded by JSON readers; send it as a string"},
		{"object number beyond 2^53", `{"o": {"kundennummer": 90071992547409930}}`, "fields.o.kundennummer: integer beyond ±2^53 (9007199254740992) would be rounded by JSON readers; send it as a string"},
		{"json number out of range", `{"j": [1e999]}`, "fields.j[0]: number out of range"},
		{"date with a time", `{"d": "2026-11-18T00:00:00Z"}`, `fields.d: want a date like 2026-11-18 (YYYY-MM-DD, a day that exists), got "2026-11-18T00:00:00Z"`},
		{"date that does not exist", `{"d": "2026-02-29"}`, `fields.d: want a date like 2026-11-18 (YYYY-MM-DD, a day that exists), got "2026-02-29"`},
		{"German date", `{"d": "18.11.2026"}`, `fields.d: want a date like 2026-11-18 (YYYY-MM-DD, a day that exists), got "18.11.2026"`},
		{"date as number", `{"d": 20261118}`, "fields.d: want a date string like 2026-11-18, got a number"},
		{"timestamp without offset", `{"ts": "2026-11-18 10:00:00"}`, `fields.ts: want an RFC 3339 timestamp like 2026-01-02T15:04:05Z (with its offset) or Unix seconds, got "2026-11-18 10:00:00"`},
		{"timestamp in milliseconds", `{"ts": 1763460000000}`, "fields.ts: Unix time beyond the year 9999; send seconds, not milliseconds"},
		{"timestamp before year 1", `{"ts": -62135596801}`, "fields.ts: Unix time before the year 0001"},
		{"timestamp beyond year 9999 in UTC", `{"ts": "9999-12-31T23:59:59-01:00"}`, "fields.ts: in UTC the time falls outside the years 0001 to 9999"},
		{"timestamp before year 1 in UTC", `{"ts": "0001-01-01T00:00:00+01:00"}`, "fields.ts: in UTC the time falls outside the years 0001 to 9999"},
		{"Unix time with a huge exponent", `{"ts": 1e-1000000}`, "fields.ts: want Unix seconds as a decimal number of at most 40 characters and an exponent of at most 20"},
		{"timestamp as list", `{"ts": []}`, "fields.ts: want an RFC 3339 timestamp string or Unix seconds, got a list"},
		{"long value quoted short", `{"d": "` + strings.Repeat("x", 100) + `"}`, `fields.d: want a date like 2026-11-18 (YYYY-MM-DD, a day that exists), got "` + strings.Repeat("x", 40) + `"...`},
		{"object wanted", `{"o": [1]}`, "fields.o: want an object, got a list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := checkFields(typesCollection, decodeFields(t, tt.in), "fields.")
			if !errors.Is(err, lethe.ErrInvalid) {
				t.Fatalf("err = %v, want lethe.ErrInvalid", err)
			}
			if diff := cmp.Diff([]string{tt.want}, reasons(t, err)); diff != "" {
				t.Errorf("reasons (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCheckFields_ReportsEveryInvalidFieldInPathOrder(t *testing.T) {
	items := make([]string, 12)
	for i := range items {
		items[i] = `{"menge": 1}`
	}
	items[2] = `{"menge": "zwei"}`
	items[10] = `{"menge": "zehn", "bogus": 1}`
	in := `{"s": 5, "id": 1.5, "zz": 1, "d": "gestern", "l": [` + strings.Join(items, ",") + `], "ts": "soon", "j": [9007199254740993]}`
	_, err := checkFields(typesCollection, decodeFields(t, in), "fields.")
	want := []string{
		"fields.d: want a date like 2026-11-18 (YYYY-MM-DD, a day that exists), got \"gestern\"",
		"fields.id: want a string or an integer, got a number with a fraction",
		"fields.j[0]: " + reasonBeyondExact,
		"fields.l[2].menge: want a number, got a string",
		"fields.l[10].bogus: unknown field of collection l",
		"fields.l[10].menge: want a number, got a string",
		"fields.s: want a string, got a number",
		"fields.ts: want an RFC 3339 timestamp like 2026-01-02T15:04:05Z (with its offset) or Unix seconds, got \"soon\"",
		"fields.zz: unknown field of collection things",
	}
	if diff := cmp.Diff(want, reasons(t, err)); diff != "" {
		t.Errorf("reasons (-want +got):\n%s", diff)
	}
}

func TestComparePaths_NumbersInOrder(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"fields.l[2].x", "fields.l[10].x", -1},
		{"fields.l[10]", "fields.l[9]", 1},
		{"fields.l[02]", "fields.l[2]", 0},
		{"fields.a", "fields.a.b", -1},
		{"fields.a.b", "fields.ab", -1},
		{"records[1].fields.z", "records[2].fields.a", -1},
		{"fields.x", "fields.x", 0},
	}
	for _, tt := range tests {
		if got := comparePaths(tt.a, tt.b); got != tt.want {
			t.Errorf("comparePaths(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestIdentifierText_NumberAndStringAlike(t *testing.T) {
	tests := []struct {
		in   any
		want string
		ok   bool
	}{
		{"K-1001", "K-1001", true},
		{int64(1001), "1001", true},
		{json.Number("1001"), "1001", true},
		{float64(1001), "1001", true},
		{1001, "1001", true},
		{int64(-3), "-3", true},
		{1.5, "", false},
		{json.Number("9007199254740993"), "", false},
		{true, "", false},
		{map[string]any{}, "", false},
		{nil, "", false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.in), func(t *testing.T) {
			got, ok := identifierText(tt.in)
			if got != tt.want || ok != tt.ok {
				t.Errorf("identifierText(%#v) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestFieldErrorsOf_FlattensJoinsAndWraps(t *testing.T) {
	a := &lethe.FieldError{Field: "fields.a", Reason: "x"}
	b := &lethe.FieldError{Field: "fields.b", Reason: "y"}
	tests := []struct {
		name string
		err  error
		want []string
		ok   bool
	}{
		{"one", a, []string{"fields.a"}, true},
		{"wrapped", fmt.Errorf("put: %w", a), []string{"fields.a"}, true},
		{"joined, one wrapped", errors.Join(a, fmt.Errorf("seal: %w", b)), []string{"fields.a", "fields.b"}, true},
		{"another error", lethe.ErrConflict, nil, false},
		{"joined with another error", errors.Join(a, lethe.ErrConflict), nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fes, ok := fieldErrorsOf(tt.err)
			var got []string
			for _, fe := range fes {
				got = append(got, fe.Field)
			}
			if ok != tt.ok || !cmp.Equal(got, tt.want) {
				t.Errorf("fieldErrorsOf = %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}
