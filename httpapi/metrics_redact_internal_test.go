package httpapi

import (
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/lethe-privacy/lethe/engine"
	"github.com/lethe-privacy/lethe/redact"
)

// A sweep's residual counts add up in lethe_residual_pii_total by type.
func TestObserveSweep_ResidualPII(t *testing.T) {
	m := newMetrics(nil)
	res := &engine.SweepResult{Residual: []engine.ResidualCount{
		{Tenant: "a", Collection: "reviews", Type: redact.Email, Count: 2},
		{Tenant: "b", Collection: "notes", Type: redact.Email, Count: 1},
		{Tenant: "b", Collection: "notes", Type: redact.Phone, Count: 4},
	}}
	m.ObserveSweep(res, nil)
	m.ObserveSweep(&engine.SweepResult{}, nil)
	for typ, want := range map[string]float64{"EMAIL": 3, "PHONE": 4, "IBAN": 0} {
		var got dto.Metric
		if err := m.residual.WithLabelValues(typ).Write(&got); err != nil {
			t.Fatal(err)
		}
		if got.GetCounter().GetValue() != want {
			t.Errorf("lethe_residual_pii_total{type=%q} = %v, want %v", typ, got.GetCounter().GetValue(), want)
		}
	}
}
