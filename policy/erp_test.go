package policy

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/lethe-privacy/lethe"
)

// The seed's lists under "Löschung von Daten", per document type, in the
// seed's order: exactly these fields are anonymized (X11).
var (
	seedAuftrag = []string{"typ", "titel", "name", "ansprechpartner", "abteilung", "unterabteilung",
		"adresszusatz", "strasse", "telefon", "telefax", "anschreiben", "email", "ustid", "liefertitel",
		"liefername", "lieferansprechpartner", "lieferabteilung", "lieferunterabteilung",
		"lieferadresszusatz", "lieferstrasse"}
	seedRechnung = []string{"typ", "titel", "name", "ansprechpartner", "abteilung", "unterabteilung",
		"adresszusatz", "strasse", "telefon", "telefax", "anschreiben", "email", "ustid"}
	seedLieferschein = []string{"typ", "liefertitel", "liefername", "lieferansprechpartner",
		"lieferabteilung", "lieferunterabteilung", "lieferadresszusatz", "lieferstrasse", "telefon",
		"telefax", "anschreiben", "email", "ustid"}
	seedAdresse = []string{"typ", "titel", "name", "ansprechpartner", "abteilung", "unterabteilung",
		"adresszusatz", "strasse", "telefon", "telefax", "anschreiben", "email", "ustid", "liefertitel",
		"liefername", "lieferansprechpartner", "lieferabteilung", "lieferunterabteilung",
		"lieferadresszusatz", "lieferstrasse", "internet"}
	// "Aus einer abweichenden Rechnungsadresse werden die folgenden Felder gelöscht".
	seedRechnungsadresse = []string{"rechnung_vorname", "rechnung_name", "rechnung_titel", "rechnung_typ",
		"rechnung_strasse", "rechnung_ansprechpartner", "rechnung_abteilung", "rechnung_unterabteilung",
		"rechnung_adresszusatz", "rechnung_telefon", "rechnung_telefax", "rechnung_anschreiben",
		"rechnung_email"}
)

func TestERPPack_AnonymizesExactlyTheSeedsFields(t *testing.T) {
	p, err := Pack("erp-marketplace")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		collection string
		scalars    []string // top-level scalar fields anonymized
		lists      map[string]Operator
	}{
		{"orders", concat(seedAuftrag, seedRechnungsadresse), map[string]Operator{"positionen": OpEach}},
		{"invoices", seedRechnung, map[string]Operator{"positionen": OpEach}},
		{"delivery_notes", seedLieferschein, map[string]Operator{"positionen": OpEach}},
		{"addresses", concat(seedAdresse, seedRechnungsadresse), map[string]Operator{
			"lieferadressen": OpErase, "weitere_ansprechpartner": OpErase, "weitere_kontakte": OpEach}},
	}
	for _, tt := range tests {
		t.Run(tt.collection, func(t *testing.T) {
			c := p.Collection(tt.collection)
			if c == nil {
				t.Fatalf("no collection %s", tt.collection)
			}
			var scalars []string
			lists := map[string]Operator{}
			for _, f := range c.Fields {
				switch {
				case f.Type == TypeList:
					lists[f.Name] = f.Anonymize
				case f.Anonymize != OpKeep:
					scalars = append(scalars, f.Name)
				}
			}
			if diff := cmp.Diff(tt.scalars, scalars); diff != "" {
				t.Errorf("anonymized fields (-seed +pack):\n%s", diff)
			}
			if diff := cmp.Diff(tt.lists, lists); diff != "" {
				t.Errorf("lists (-want +pack):\n%s", diff)
			}
			for _, f := range c.Fields {
				if f.Type == TypeList {
					continue
				}
				want := OpErase
				if f.Name == "name" || f.Name == "liefername" {
					want = OpPlaceholder // X7: name replaced by the placeholder
				}
				if !slices.Contains(tt.scalars, f.Name) {
					want = OpKeep
				} else if !f.IsPII() {
					t.Errorf("%s is anonymized but not encrypted", f.Name)
				}
				if f.Anonymize != want {
					t.Errorf("%s: anonymize = %q, want %q", f.Name, f.Anonymize, want)
				}
			}
		})
	}
}

func TestERPPack_KeepsWhatTheSeedKeeps(t *testing.T) {
	p, err := Pack("erp-marketplace")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		collection string
		kept       []string
	}{
		{"orders", []string{"belegnr", "datum", "projekt", "kundennummer", "plz", "ort", "land", "lieferplz", "lieferort", "lieferland", "shipped_at"}},
		{"invoices", []string{"belegnr", "datum", "projekt", "kundennummer", "plz", "ort", "land", "shipped_at", "auftrag"}},
		{"delivery_notes", []string{"belegnr", "datum", "projekt", "kundennummer", "lieferplz", "lieferort", "lieferland", "shipped_at", "auftrag"}},
		{"addresses", []string{"kundennummer", "projekt", "plz", "ort", "land", "lieferplz", "lieferort", "lieferland", "shipped_at"}},
	}
	for _, tt := range tests {
		t.Run(tt.collection, func(t *testing.T) {
			c := p.Collection(tt.collection)
			var kept []string
			for _, f := range c.Fields {
				if f.Anonymize == OpKeep {
					kept = append(kept, f.Name)
				}
			}
			if diff := cmp.Diff(tt.kept, kept); diff != "" {
				t.Errorf("kept fields (-want +pack):\n%s", diff)
			}
			// X7: ZIP code and city stay for statistics, in plain.
			for _, name := range []string{"plz", "ort", "lieferplz", "lieferort"} {
				if f := c.Field(name); f != nil && f.IsPersonal() {
					t.Errorf("%s is marked personal; it is kept in plain for statistics", name)
				}
			}
			if f := c.Field("kundennummer"); f.Subject != "customer_id" {
				t.Errorf("kundennummer subject = %q, want customer_id", f.Subject)
			}
			for name, kind := range map[string]string{"email": "email", "telefon": "phone"} {
				if f := c.Field(name); f.Subject != kind {
					t.Errorf("%s subject = %q, want %q", name, f.Subject, kind)
				}
			}
		})
	}
}

func TestERPPack_SubListItems(t *testing.T) {
	p, err := Pack("erp-marketplace")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		collection, list string
		items            map[string]Operator // only checked for lists anonymized item by item
		mustHave         []string
	}{
		{"orders", "positionen", map[string]Operator{"artikel": OpKeep, "bezeichnung": OpKeep, "menge": OpKeep, "preis": OpKeep, "geschenknachricht": OpErase}, nil},
		{"invoices", "positionen", map[string]Operator{"artikel": OpKeep, "bezeichnung": OpKeep, "menge": OpKeep, "preis": OpKeep, "geschenknachricht": OpErase}, nil},
		{"delivery_notes", "positionen", map[string]Operator{"artikel": OpKeep, "bezeichnung": OpKeep, "menge": OpKeep, "preis": OpKeep, "geschenknachricht": OpErase}, nil},
		{"addresses", "weitere_kontakte", map[string]Operator{"bezeichnung": OpKeep, "kontakt": OpClear}, nil},
		{"addresses", "lieferadressen", nil, []string{"name", "strasse", "plz", "ort", "land", "telefon", "email"}},
		{"addresses", "weitere_ansprechpartner", nil, []string{"name", "telefon", "email"}},
	}
	for _, tt := range tests {
		t.Run(tt.collection+"."+tt.list, func(t *testing.T) {
			f := p.Collection(tt.collection).Field(tt.list)
			if f == nil || f.Type != TypeList {
				t.Fatalf("%s is not a list: %+v", tt.list, f)
			}
			got := map[string]Operator{}
			for _, it := range f.Items {
				got[it.Name] = it.Anonymize
			}
			if tt.items != nil {
				if diff := cmp.Diff(tt.items, got); diff != "" {
					t.Errorf("item operators (-want +pack):\n%s", diff)
				}
			}
			for _, name := range tt.mustHave {
				if _, ok := got[name]; !ok {
					t.Errorf("item field %s missing", name)
				}
			}
		})
	}
}

func TestERPPack_Rules(t *testing.T) {
	p, err := Pack("erp-marketplace")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"orders", "delivery_notes", "invoices", "addresses"} {
		t.Run(name, func(t *testing.T) {
			c := p.Collection(name)
			if c.Switchable {
				t.Error("switchable; the marketplace protection switches itself on (X1)")
			}
			a := c.Rule("anonymize")
			if a == nil || a.Basis != "shipped_at" || a.When == nil || !slices.Equal(a.When.Origin, []string{"amazon"}) ||
				a.Period.Default.String() != "30d" || a.Period.Max.String() != "30d" {
				t.Errorf("anonymize rule = %+v, want Amazon records 30d after shipped_at (X2)", a)
			}
			if f := c.Field("shipped_at"); f == nil || f.Type != TypeTimestamp || f.IsPII() {
				t.Errorf("shipped_at must be a plain timestamp: %+v", f)
			}
			d := c.Rule("delete")
			if d == nil || d.Basis != "created_at" || d.Period.Default.String() != "10y" {
				t.Errorf("delete rule = %+v, want 10y after created_at", d)
			}
		})
	}
	t.Run("archived_documents", func(t *testing.T) {
		c := p.Collection("archived_documents")
		h := c.Rule("hold")
		if h == nil || h.Action != lethe.ActionHold || h.Period.Default.String() != "10y" ||
			h.Reason != "Retention of invoicing documents under AO, UStG and HGB" {
			t.Errorf("hold rule = %+v (X9)", h)
		}
		if c.Rule("anonymize") != nil {
			t.Error("archived documents are exempt from the marketplace anonymization (X9)")
		}
		if f := c.Field("document"); f == nil || !f.IsPII() || f.Anonymize != OpKeep {
			t.Errorf("document = %+v, want encrypted and kept", f)
		}
	})
}

func concat(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}
