package retention

import (
	"errors"
	"strings"
	"testing"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/policy"
)

// settingsCollection: a bot's message store whose deletion period the tenant
// chooses among 7d, 30d and 60d (O4, O7).
// Names are replaced by the tenant's placeholder, metadata keys dropped.
func settingsCollection(switchable bool) *policy.Collection {
	return &policy.Collection{
		Name:       "messages",
		Switchable: switchable,
		Fields: []*policy.Field{
			{Name: "text", Type: policy.TypeText, PII: true},
			{Name: "contacts", Type: policy.TypeList, Anonymize: policy.OpEach, Items: []*policy.Field{
				{Name: "name", Type: policy.TypeString, PII: true, Anonymize: policy.OpPlaceholder},
			}},
			{Name: "metadata", Type: policy.TypeObject, Anonymize: policy.OpDropKeys, Keys: []string{"ip"}},
		},
		Rules: []*policy.Rule{
			{Action: lethe.ActionDelete, Basis: "created_at",
				Period: policy.Period{Default: dur("30d"), Options: []lethe.Duration{dur("60d"), dur("7d"), dur("5y")}, Max: dur("3y")}},
			{Action: lethe.ActionAnonymize, Basis: "created_at",
				Period: policy.Period{Default: dur("7d"), Options: []lethe.Duration{dur("1d"), dur("30d")}}},
			{Name: "invoicing", Action: lethe.ActionHold, Basis: "created_at", Period: policy.Period{Default: dur("10y")}},
		},
	}
}

func TestValidateSettings(t *testing.T) {
	long := strings.Repeat("ä", MaxPlaceholder)
	tests := []struct {
		name       string
		switchable bool
		s          *lethe.Settings
		want       map[string]string // field -> reason
	}{
		{"nil settings", false, nil, nil},
		{"empty settings", false, &lethe.Settings{}, nil},
		{"allowed option", false, &lethe.Settings{Periods: map[string]lethe.Duration{"delete": dur("60d"), "anonymize": dur("1d")}}, nil},
		{"the default", false, &lethe.Settings{Periods: map[string]lethe.Duration{"delete": dur("30d")}}, nil},
		{"an option written in another unit", false, &lethe.Settings{Periods: map[string]lethe.Duration{"delete": dur("1440h")}}, nil},
		{"anonymize after delete", false, &lethe.Settings{Periods: map[string]lethe.Duration{"anonymize": dur("30d"), "delete": dur("7d")}},
			map[string]string{"periods.delete": "anonymize period 30d must be shorter than delete period 7d: records would be deleted before they are anonymized"}},
		{"anonymize at the moment of deletion", false, &lethe.Settings{Periods: map[string]lethe.Duration{"anonymize": dur("30d")}},
			map[string]string{"periods.anonymize": "anonymize period 30d must be shorter than delete period 30d: records would be deleted before they are anonymized"}},
		{"the same period in another unit", false, &lethe.Settings{Periods: map[string]lethe.Duration{"delete": dur("168h"), "anonymize": dur("7d")}},
			map[string]string{"periods.delete": "anonymize period 7d must be shorter than delete period 168h: records would be deleted before they are anonymized"}},
		{"a shorter anonymize period", false, &lethe.Settings{Periods: map[string]lethe.Duration{"delete": dur("60d"), "anonymize": dur("30d")}}, nil},
		{"fixed legal hold at its default", false, &lethe.Settings{Periods: map[string]lethe.Duration{"invoicing": dur("10y")}}, nil},
		{"disallowed period lists the options", false, &lethe.Settings{Periods: map[string]lethe.Duration{"delete": dur("45d")}},
			map[string]string{"periods.delete": "period 45d is not allowed; choose one of 7d, 30d, 60d"}},
		{"above the maximum, though listed", false, &lethe.Settings{Periods: map[string]lethe.Duration{"delete": dur("5y")}},
			map[string]string{"periods.delete": "period 5y is above the maximum 3y"}},
		{"legal hold cannot be shortened", false, &lethe.Settings{Periods: map[string]lethe.Duration{"invoicing": dur("1y")}},
			map[string]string{"periods.invoicing": "period 1y is not allowed; the period of this rule is fixed at 10y"}},
		{"unknown rule", false, &lethe.Settings{Periods: map[string]lethe.Duration{"purge": dur("30d")}},
			map[string]string{"periods.purge": `unknown rule "purge"; rules are delete, anonymize, invoicing`}},
		{"disabling a required collection", false, &lethe.Settings{Enabled: boolp(false)},
			map[string]string{"enabled": "collection messages is required and cannot be switched off"}},
		{"enabling a required collection", false, &lethe.Settings{Enabled: boolp(true)}, nil},
		{"disabling a switchable collection", true, &lethe.Settings{Enabled: boolp(false)}, nil},
		{"placeholder at the limit", false, &lethe.Settings{Placeholder: long}, nil},
		{"reset placeholder", false, &lethe.Settings{Placeholder: ""}, nil},
		{"placeholder too long", false, &lethe.Settings{Placeholder: long + "x"},
			map[string]string{"placeholder": "placeholder is 201 characters long; at most 200 are allowed"}},
		{"drop_metadata keys", false, &lethe.Settings{DropMetadata: []string{"ip", "user_agent"}}, nil},
		{"empty drop_metadata key", false, &lethe.Settings{DropMetadata: []string{"ip", " "}},
			map[string]string{"drop_metadata[1]": "metadata key must not be empty"}},
		{"several errors at once", false, &lethe.Settings{
			Enabled:      boolp(false),
			Periods:      map[string]lethe.Duration{"delete": dur("45d"), "anonymize": dur("2d"), "purge": dur("1d")},
			DropMetadata: []string{""},
		}, map[string]string{
			"enabled":           "collection messages is required and cannot be switched off",
			"periods.delete":    "period 45d is not allowed; choose one of 7d, 30d, 60d",
			"periods.anonymize": "period 2d is not allowed; choose one of 1d, 7d, 30d",
			"periods.purge":     `unknown rule "purge"; rules are delete, anonymize, invoicing`,
			"drop_metadata[0]":  "metadata key must not be empty",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkFieldErrors(t, ValidateSettings(settingsCollection(tt.switchable), tt.s), tt.want)
		})
	}
}

// TestValidateSettings_RefusesWhatACollectionCannotUse: a placeholder or
// drop_metadata keys on a collection that has no field to use them, and
// rules it does not have.
func TestValidateSettings_RefusesWhatACollectionCannotUse(t *testing.T) {
	bare := &policy.Collection{Name: "notes", Fields: []*policy.Field{{Name: "text", Type: policy.TypeText, PII: true}},
		Rules: []*policy.Rule{{Action: lethe.ActionDelete, Period: policy.Period{Default: dur("30d")}}}}
	tests := []struct {
		name string
		s    *lethe.Settings
		want map[string]string
	}{
		{"placeholder where no field takes it", &lethe.Settings{Placeholder: "Kunde"},
			map[string]string{"placeholder": "collection notes has no field anonymized by placeholder, so the text would never be used"}},
		{"drop_metadata where no field drops keys", &lethe.Settings{DropMetadata: []string{"ip"}},
			map[string]string{"drop_metadata": "collection notes has no field anonymized by drop_keys, so no metadata key would be dropped"}},
		{"all at once on a bare collection", &lethe.Settings{Enabled: boolp(false), Placeholder: "Kunde", DropMetadata: []string{"ip"},
			Periods: map[string]lethe.Duration{"anonymize": dur("7d")}},
			map[string]string{
				"enabled":           "collection notes is required and cannot be switched off",
				"placeholder":       "collection notes has no field anonymized by placeholder, so the text would never be used",
				"drop_metadata":     "collection notes has no field anonymized by drop_keys, so no metadata key would be dropped",
				"periods.anonymize": `unknown rule "anonymize"; rules are delete`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkFieldErrors(t, ValidateSettings(bare, tt.s), tt.want)
		})
	}
}

// checkFieldErrors compares an errors.Join of *lethe.FieldError with the
// wanted field -> reason map (nil: no error).
func checkFieldErrors(t *testing.T, err error, want map[string]string) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("ValidateSettings = %v, want nil", err)
		}
		return
	}
	if !errors.Is(err, lethe.ErrInvalid) {
		t.Fatalf("ValidateSettings = %v, want an error matching ErrInvalid", err)
	}
	got := map[string]string{}
	for _, e := range unjoin(err) {
		var fe *lethe.FieldError
		if !errors.As(e, &fe) {
			t.Fatalf("error %v is not a *lethe.FieldError", e)
		}
		got[fe.Field] = fe.Reason
	}
	if len(got) != len(want) {
		t.Errorf("got %d errors %v, want %d", len(got), got, len(want))
	}
	for f, r := range want {
		if got[f] != r {
			t.Errorf("%s: reason %q, want %q", f, got[f], r)
		}
	}
}

// unjoin splits an errors.Join result into its parts.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func TestEnabled(t *testing.T) {
	tests := []struct {
		name                         string
		switchable, enabledByDefault bool
		s                            *lethe.Settings
		want                         bool
	}{
		{"required, no settings", false, false, nil, true},
		{"required, switched off anyway", false, false, &lethe.Settings{Enabled: boolp(false)}, true},
		{"switchable, default on", true, true, nil, true},
		{"switchable, default off", true, false, &lethe.Settings{}, false},
		{"switchable, tenant switched on", true, false, &lethe.Settings{Enabled: boolp(true)}, true},
		{"switchable, tenant switched off", true, true, &lethe.Settings{Enabled: boolp(false)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &policy.Collection{Switchable: tt.switchable, EnabledByDefault: tt.enabledByDefault}
			if got := Enabled(c, tt.s); got != tt.want {
				t.Errorf("Enabled = %v, want %v", got, tt.want)
			}
		})
	}
}
