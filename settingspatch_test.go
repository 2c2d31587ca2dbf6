package lethe

import (
	"reflect"
	"testing"
)

func TestSettingsPatch_ChangesOnlyWhatItNames(t *testing.T) {
	on, off := true, false
	d30, d90 := MustDuration("30d"), MustDuration("90d")
	kunde := "Kunde"
	base := &Settings{
		Enabled:      &on,
		Periods:      map[string]Duration{"delete": MustDuration("1y"), "anonymize": MustDuration("7d")},
		Placeholder:  "Gast",
		DropMetadata: []string{"ip"},
	}
	tests := []struct {
		name  string
		patch SettingsPatch
		want  *Settings
	}{
		{"empty patch keeps everything", SettingsPatch{}, base},
		{"one period changes, the other stays", SettingsPatch{Periods: map[string]*Duration{"anonymize": &d30}},
			&Settings{Enabled: &on, Periods: map[string]Duration{"delete": MustDuration("1y"), "anonymize": d30}, Placeholder: "Gast", DropMetadata: []string{"ip"}}},
		{"a null period goes back to the default", SettingsPatch{Periods: map[string]*Duration{"delete": nil}},
			&Settings{Enabled: &on, Periods: map[string]Duration{"anonymize": MustDuration("7d")}, Placeholder: "Gast", DropMetadata: []string{"ip"}}},
		{"periods null resets all, then the named ones apply", SettingsPatch{ResetPeriods: true, Periods: map[string]*Duration{"delete": &d90}},
			&Settings{Enabled: &on, Periods: map[string]Duration{"delete": d90}, Placeholder: "Gast", DropMetadata: []string{"ip"}}},
		{"all periods null leave none", SettingsPatch{Periods: map[string]*Duration{"delete": nil, "anonymize": nil}},
			&Settings{Enabled: &on, Placeholder: "Gast", DropMetadata: []string{"ip"}}},
		{"enabled false", SettingsPatch{SetEnabled: true, Enabled: &off},
			&Settings{Enabled: &off, Periods: base.Periods, Placeholder: "Gast", DropMetadata: []string{"ip"}}},
		{"enabled null goes back to the collection's default", SettingsPatch{SetEnabled: true},
			&Settings{Periods: base.Periods, Placeholder: "Gast", DropMetadata: []string{"ip"}}},
		{"placeholder set", SettingsPatch{SetPlaceholder: true, Placeholder: &kunde},
			&Settings{Enabled: &on, Periods: base.Periods, Placeholder: "Kunde", DropMetadata: []string{"ip"}}},
		{"placeholder null", SettingsPatch{SetPlaceholder: true},
			&Settings{Enabled: &on, Periods: base.Periods, DropMetadata: []string{"ip"}}},
		{"drop_metadata replaced as a whole", SettingsPatch{SetDropMetadata: true, DropMetadata: []string{"user_agent", "referrer"}},
			&Settings{Enabled: &on, Periods: base.Periods, Placeholder: "Gast", DropMetadata: []string{"user_agent", "referrer"}}},
		{"drop_metadata null", SettingsPatch{SetDropMetadata: true},
			&Settings{Enabled: &on, Periods: base.Periods, Placeholder: "Gast"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := base.Clone()
			got := tt.patch.Apply(base)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Apply = %+v, want %+v", got, tt.want)
			}
			if !reflect.DeepEqual(base, before) {
				t.Errorf("Apply changed its input to %+v", base)
			}
		})
	}
	if got := (&SettingsPatch{Periods: map[string]*Duration{"delete": &d30}}).Apply(nil); !reflect.DeepEqual(got, &Settings{Periods: map[string]Duration{"delete": d30}}) {
		t.Errorf("Apply(nil) = %+v", got)
	}
}
