package console

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/retention"
)

// dpRow is one line of the data-protection table (C16): one collection,
// with the periods the tenant chose, not only the pack's defaults.
type dpRow struct {
	No                 int
	Name, Title        string
	Function, Required string
	Enabled            bool
	Expiry             []string
	Personal           []string // encrypted fields
	Plain              []string // personal, not encrypted
}

// dpText holds the table's fixed words in one language. Titles and
// descriptions come from the policy packs, which are written in English.
type dpText struct {
	Lang, Title, Intro, No, Collection, Required, Function, Expiry, Personal, Encrypted, NotEncrypted, Off, None, AlwaysOn string
	Verb                                                                                                                   map[lethe.Action]string
	After, For, At, From, Basis                                                                                            string
	Units                                                                                                                  map[byte][2]string
}

var dpTexts = map[string]dpText{
	"en": {Lang: "en", Title: "Personal data and retention", Intro: "Generated from this tenant's configuration: the collections of its packs with the periods it chose. Encrypted fields are sealed with AES-256-GCM at rest; every collection expires automatically.",
		No: "No.", Collection: "Name", Required: "Required", Function: "Function", Expiry: "Automatic expiry", Personal: "Personal data contained",
		Encrypted: "Encrypted", NotEncrypted: "Not encrypted", Off: "switched off", None: "none", AlwaysOn: "always",
		Verb:  map[lethe.Action]string{lethe.ActionDelete: "Deleted", lethe.ActionAnonymize: "Anonymized", lethe.ActionHold: "Held"},
		After: "after", For: "for", At: "at", From: "for records from", Basis: "counted from",
		Units: map[byte][2]string{'s': {"second", "seconds"}, 'm': {"minute", "minutes"}, 'h': {"hour", "hours"}, 'd': {"day", "days"}, 'y': {"year", "years"}}},
	"de": {Lang: "de", Title: "Personenbezogene Daten und Speicherdauer", Intro: "Aus der Konfiguration dieses Mandanten erzeugt: die Speicherarten seiner Pakete mit den gewählten Fristen. Verschlüsselte Felder sind im Ruhezustand mit AES-256-GCM versiegelt; jede Speicherart verfällt automatisch.",
		No: "Nr.", Collection: "Bezeichnung", Required: "Erforderlich", Function: "Funktionalität", Expiry: "Automatischer Verfall", Personal: "Enthaltene personenbezogene Daten",
		Encrypted: "Verschlüsselt", NotEncrypted: "Nicht verschlüsselt", Off: "abgeschaltet", None: "keine", AlwaysOn: "immer",
		Verb:  map[lethe.Action]string{lethe.ActionDelete: "Gelöscht", lethe.ActionAnonymize: "Anonymisiert", lethe.ActionHold: "Aufbewahrt"},
		After: "nach", For: "für", At: "am Zeitpunkt", From: "für Daten von", Basis: "ab",
		Units: map[byte][2]string{'s': {"Sekunde", "Sekunden"}, 'm': {"Minute", "Minuten"}, 'h': {"Stunde", "Stunden"}, 'd': {"Tag", "Tagen"}, 'y': {"Jahr", "Jahren"}}},
}

func (t dpText) duration(d lethe.Duration) string {
	u := t.Units[d.Unit]
	if d.N == 1 {
		return "1 " + u[0]
	}
	return fmt.Sprintf("%d %s", d.N, u[1])
}

// dataProtection renders the table from the tenant's packs and settings,
// so that what it says is what the engine enforces for this tenant.
func (h *Handler) dataProtection(w http.ResponseWriter, r *http.Request, v *viewer) {
	tenant, err := h.tenantFor(r, v)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	tx, ok := dpTexts[language(r.Context())]
	if !ok {
		tx = dpTexts[langEN]
	}
	cs, err := h.eng.Collections(r.Context(), tenant)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	rows := make([]dpRow, 0, len(cs))
	for i, c := range cs {
		s, err := h.eng.Settings(r.Context(), tenant, c.Name)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		row := dpRow{No: i + 1, Name: c.Name, Title: c.Title, Function: c.Description, Required: c.Requirement, Enabled: retention.Enabled(c, s)}
		if row.Required == "" && !c.Switchable {
			row.Required = tx.AlwaysOn
		}
		for _, rule := range c.Rules {
			d := retention.Period(rule, s)
			var p string
			switch {
			case rule.Action == lethe.ActionHold:
				p = tx.For + " " + tx.duration(d)
			case d.IsZero():
				p = tx.At + " " + rule.Basis
			default:
				p = tx.After + " " + tx.duration(d) + " (" + tx.Basis + " " + rule.Basis + ")"
			}
			if rule.When != nil && len(rule.When.Origin) > 0 {
				p += " " + tx.From + " " + strings.Join(rule.When.Origin, ", ")
			}
			row.Expiry = append(row.Expiry, tx.Verb[rule.Action]+" "+p)
		}
		for _, f := range c.Fields {
			switch {
			case f.IsPII():
				row.Personal = append(row.Personal, f.Name)
			case f.Personal:
				row.Plain = append(row.Plain, f.Name)
			}
		}
		rows = append(rows, row)
	}
	h.render(w, r, http.StatusOK, "dataprotection", v, map[string]any{"Tenant": tenant, "Rows": rows, "T": tx})
}
