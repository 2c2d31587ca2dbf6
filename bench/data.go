package bench

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/lethe-privacy/lethe/engine"
)

// The benchmark's tenants and collections. Prize draw entries (chatbot
// pack) carry five personal fields, two of them identifiers (e-mail and
// phone), and are deleted 60 days after creation; marketplace orders
// (erp-marketplace pack) carry fourteen personal fields and order lines,
// and are anonymized 30 days after shipment when they come from Amazon.
const (
	ChatTenant      = "bench-chat"
	ChatPack        = "chatbot"
	EntryCollection = "prize_draw_entries"
	// EntryPeriod is the prize draw entries' default retention.
	EntryPeriod = 60 * 24 * time.Hour

	ShopTenant      = "bench-shop"
	ShopPack        = "erp-marketplace"
	OrderCollection = "orders"
	// OrderAnonymizeAfter is how long after shipment an Amazon order keeps
	// its personal data.
	OrderAnonymizeAfter = 30 * 24 * time.Hour
	OrderOrigin         = "amazon"
)

// BatchSize is the records of one engine Put and of one raw transaction.
const BatchSize = 1000

var (
	firstNames = [...]string{"Anna", "Ben", "Clara", "David", "Emma", "Felix", "Greta", "Hannes", "Ida", "Jonas", "Klara", "Lukas"}
	lastNames  = [...]string{"Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann"}
	streets    = [...]string{"Hauptstraße", "Bahnhofstraße", "Gartenweg", "Lindenallee", "Schulstraße", "Am Markt"}
	cities     = [...]string{"Berlin", "Hamburg", "München", "Köln", "Leipzig", "Dresden"}
)

// scramble maps 0..1e8-1 onto itself in an order unrelated to i (the
// multiplier is odd and not a multiple of 5, so coprime to 1e8). Real
// identifiers do not arrive in sorted order: numbered ones would make the
// raw baseline's identifier index append at its end, a best case that the
// engine's keyed hashes, random by design, never see.
func scramble(i int) int { return int(uint64(i%100_000_000) * 2_654_435_761 % 100_000_000) }

// EntryEmail is the e-mail address of entry i, already normalized
// (lower case), so that the raw baseline indexes what the engine hashes.
func EntryEmail(i int) string { return fmt.Sprintf("entrant%08d@example.org", scramble(i)) }

// EntryPhone is the phone number of entry i in E.164: a German mobile
// number, which the engine's normalization accepts as possible.
func EntryPhone(i int) string { return fmt.Sprintf("+49151%08d", scramble(i)) }

// PrizeEntry returns the fields of prize draw entry i.
func PrizeEntry(i int) map[string]any {
	return map[string]any{
		"prize_draw": "summer-2026",
		"selected":   i%50 == 0,
		"email":      EntryEmail(i),
		"first_name": firstNames[i%len(firstNames)],
		"last_name":  lastNames[i%len(lastNames)],
		"postal_address": fmt.Sprintf("%s %d, %05d %s", streets[i%len(streets)], i%200+1,
			10000+i%89999, cities[i%len(cities)]),
		"phone": EntryPhone(i),
	}
}

// OrderEmail is the e-mail address of order i.
func OrderEmail(i int) string { return fmt.Sprintf("buyer%08d@example.com", scramble(i)) }

// Order returns the fields of marketplace order i, shipped at shipped.
func Order(i int, shipped time.Time) map[string]any {
	first, last := firstNames[i%len(firstNames)], lastNames[i%len(lastNames)]
	street := fmt.Sprintf("%s %d", streets[i%len(streets)], i%200+1)
	return map[string]any{
		"belegnr":               fmt.Sprintf("AU-%08d", i),
		"datum":                 shipped.Add(-48 * time.Hour).UTC().Format("2006-01-02"),
		"projekt":               "AMAZON",
		"kundennummer":          fmt.Sprintf("K%08d", scramble(i)),
		"plz":                   fmt.Sprintf("%05d", 10000+i%89999),
		"ort":                   cities[i%len(cities)],
		"land":                  "DE",
		"lieferplz":             fmt.Sprintf("%05d", 10000+i%89999),
		"lieferort":             cities[i%len(cities)],
		"lieferland":            "DE",
		"shipped_at":            shipped.UTC().Format(time.RFC3339),
		"typ":                   "herr",
		"name":                  first + " " + last,
		"ansprechpartner":       first + " " + last,
		"strasse":               street,
		"telefon":               fmt.Sprintf("+49171%07d", scramble(i)%10_000_000),
		"anschreiben":           "Sehr geehrter Herr " + last,
		"email":                 OrderEmail(i),
		"liefername":            first + " " + last,
		"lieferansprechpartner": first + " " + last,
		"lieferstrasse":         street,
		"rechnung_vorname":      first,
		"rechnung_name":         last,
		"rechnung_strasse":      street,
		"rechnung_email":        OrderEmail(i),
		"positionen": []any{
			map[string]any{"artikel": "A-1001", "bezeichnung": "Teekanne 1,2 l", "menge": 1.0, "preis": 24.9, "geschenknachricht": "Alles Gute zum Geburtstag, " + first + "!"},
			map[string]any{"artikel": "A-2040", "bezeichnung": "Teesieb", "menge": 2.0, "preis": 4.5},
		},
	}
}

// PrizeEntries returns n new entries numbered from first, created at
// created (zero: now).
func PrizeEntries(first, n int, created time.Time) []engine.NewRecord {
	out := make([]engine.NewRecord, n)
	for j := range out {
		out[j] = engine.NewRecord{CreatedAt: created, Fields: PrizeEntry(first + j)}
	}
	return out
}

// OrderShipped is when order i ships in a run whose orders start
// shipping at base: one millisecond apart, so that they fall due in
// number order and a raw baseline knows which orders its next batch holds.
func OrderShipped(base time.Time, i int) time.Time {
	return base.Add(time.Duration(i) * time.Millisecond)
}

// Orders returns n new Amazon orders numbered from first, each created and
// shipped at OrderShipped(base, i).
func Orders(first, n int, base time.Time) []engine.NewRecord {
	out := make([]engine.NewRecord, n)
	for j := range out {
		at := OrderShipped(base, first+j)
		out[j] = engine.NewRecord{Origin: OrderOrigin, CreatedAt: at, Fields: Order(first+j, at)}
	}
	return out
}

// RawEntries returns the plaintext rows of entries first..first+n, as an
// application without Lethe would store them: every field in the plain
// JSON column, identifiers indexed as their normalized text, planned for
// deletion EntryPeriod after created.
func RawEntries(first, n int, created time.Time) []RawRow {
	out := make([]RawRow, n)
	for j := range out {
		i := first + j
		out[j] = RawRow{
			Tenant: ChatTenant, Collection: EntryCollection, ID: newID(),
			Created: created, Plain: mustJSON(PrizeEntry(i)),
			Action: "delete", Rule: "delete", Due: created.Add(EntryPeriod),
			Subjects: []RawSubject{
				{Kind: "email", Field: "email", Value: []byte(EntryEmail(i))},
				{Kind: "phone", Field: "phone", Value: []byte(EntryPhone(i))},
			},
		}
	}
	return out
}

// RawOrders returns the plaintext rows of orders first..first+n, each
// created and shipped at OrderShipped(base, i) and planned for
// anonymization OrderAnonymizeAfter later.
func RawOrders(first, n int, base time.Time) []RawRow {
	out := make([]RawRow, n)
	for j := range out {
		i := first + j
		at := OrderShipped(base, i)
		f := Order(i, at)
		out[j] = RawRow{
			Tenant: ShopTenant, Collection: OrderCollection, ID: newID(), Origin: OrderOrigin,
			Created: at, Plain: mustJSON(f),
			Action: "anonymize", Rule: "anonymize", Due: at.Add(OrderAnonymizeAfter),
			Subjects: []RawSubject{
				{Kind: "customer_id", Field: "kundennummer", Value: []byte(f["kundennummer"].(string))},
				{Kind: "phone", Field: "telefon", Value: []byte(f["telefon"].(string))},
				{Kind: "email", Field: "email", Value: []byte(OrderEmail(i))},
				{Kind: "email", Field: "rechnung_email", Value: []byte(OrderEmail(i))},
			},
		}
	}
	return out
}

// AnonymizedOrder is the plain JSON raw order i holds once anonymized.
func AnonymizedOrder(base time.Time, i int) string {
	return mustJSON(anonymizedOrder(Order(i, OrderShipped(base, i))))
}

// anonymizedOrder is what the erp-marketplace pack leaves of an order:
// the kept fields, names replaced by a placeholder, order lines without
// their gift message.
func anonymizedOrder(f map[string]any) map[string]any {
	out := map[string]any{}
	for _, k := range []string{"belegnr", "datum", "projekt", "kundennummer", "plz", "ort", "land",
		"lieferplz", "lieferort", "lieferland", "shipped_at"} {
		out[k] = f[k]
	}
	out["name"] = "Anonymous"
	out["liefername"] = "Anonymous"
	var lines []any
	for _, l := range f["positionen"].([]any) {
		m := map[string]any{}
		for k, v := range l.(map[string]any) {
			if k != "geschenknachricht" {
				m[k] = v
			}
		}
		lines = append(lines, m)
	}
	out["positionen"] = lines
	return out
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // the generators above build JSON-safe values only
	}
	return string(b)
}
