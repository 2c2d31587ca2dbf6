package lethe

// SettingsPatch changes some of a collection's settings and leaves the
// others as they are (PATCH of the settings resource). For each part, a
// false Set* leaves it alone; a set part with a nil value goes back to the
// policy's default.
type SettingsPatch struct {
	SetEnabled bool
	Enabled    *bool

	// Periods merges per rule: a rule named with a period chooses it, a
	// rule named with nil goes back to its default, rules not named keep
	// their choice. ResetPeriods drops every choice first ("periods":
	// null).
	ResetPeriods bool
	Periods      map[string]*Duration

	SetPlaceholder bool
	Placeholder    *string

	SetDropMetadata bool
	DropMetadata    []string // nil with SetDropMetadata: none
}

// Apply returns the settings with the patch applied; s is not changed (a
// nil s stands for no settings).
func (p *SettingsPatch) Apply(s *Settings) *Settings {
	out := s.Clone()
	if out == nil {
		out = &Settings{}
	}
	if p.SetEnabled {
		out.Enabled = nil
		if p.Enabled != nil {
			v := *p.Enabled
			out.Enabled = &v
		}
	}
	if p.ResetPeriods {
		out.Periods = nil
	}
	for name, d := range p.Periods {
		if d == nil {
			delete(out.Periods, name)
			continue
		}
		if out.Periods == nil {
			out.Periods = make(map[string]Duration)
		}
		out.Periods[name] = *d
	}
	if len(out.Periods) == 0 {
		out.Periods = nil
	}
	if p.SetPlaceholder {
		out.Placeholder = ""
		if p.Placeholder != nil {
			out.Placeholder = *p.Placeholder
		}
	}
	if p.SetDropMetadata {
		out.DropMetadata = append([]string(nil), p.DropMetadata...)
	}
	if len(out.DropMetadata) == 0 {
		out.DropMetadata = nil
	}
	return out
}
