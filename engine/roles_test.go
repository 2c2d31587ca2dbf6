package engine_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
)

// TestPrincipal_MayNeedsReachAndRole holds the rule of roles: a key acts
// on its own tenant alone and in the roles it holds; the admin token
// reaches every tenant and the routes outside any, but as admin only
// unless it is a superuser.
func TestPrincipal_MayNeedsReachAndRole(t *testing.T) {
	reader := engine.Principal{Tenant: "a", Roles: []lethe.Role{lethe.RoleReader}, Name: "key:r"}
	tests := []struct {
		name   string
		p      engine.Principal
		role   lethe.Role
		tenant string
		want   string // "" allowed, else a part of the refusal
	}{
		{"key in its role on its tenant", reader, lethe.RoleReader, "a", ""},
		{"key without the role", reader, lethe.RoleWriter, "a", "needs the writer role"},
		{"key on another tenant", reader, lethe.RoleReader, "b", `does not reach tenant "b"`},
		{"key outside any tenant", reader, lethe.RoleAdmin, "", "needs the admin token"},
		{"key with no tenant set", engine.Principal{Roles: lethe.AllRoles()}, lethe.RoleReader, "", "needs the admin token"},
		{"admin token administers any tenant", engine.AdminPrincipal(false), lethe.RoleAdmin, "b", ""},
		{"admin token outside any tenant", engine.AdminPrincipal(false), lethe.RoleAdmin, "", ""},
		{"admin token reads no PII", engine.AdminPrincipal(false), lethe.RoleReader, "a", "needs the reader role"},
		{"admin token reads no logs", engine.AdminPrincipal(false), lethe.RoleAuditor, "a", "needs the auditor role"},
		{"superuser reads PII", engine.AdminPrincipal(true), lethe.RoleReader, "a", ""},
		{"superuser reads logs", engine.AdminPrincipal(true), lethe.RoleAuditor, "b", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.May(tt.role, tt.tenant)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("May(%s, %q) = %v, want allowed", tt.role, tt.tenant, err)
			case tt.want != "" && (!errors.Is(err, lethe.ErrForbidden) || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("May(%s, %q) = %v, want forbidden: %s", tt.role, tt.tenant, err, tt.want)
			}
		})
	}
}

func TestPrincipal_MayGrantOnlyWhatItHolds(t *testing.T) {
	adm := engine.Principal{Tenant: "a", Roles: []lethe.Role{lethe.RoleAdmin, lethe.RoleAuditor}}
	if err := adm.MayGrant([]lethe.Role{lethe.RoleAuditor}); err != nil {
		t.Errorf("grant a held role: %v", err)
	}
	if err := adm.MayGrant([]lethe.Role{lethe.RoleAuditor, lethe.RoleReader}); !errors.Is(err, lethe.ErrForbidden) {
		t.Errorf("grant an unheld role: %v, want forbidden", err)
	}
	if err := engine.AdminPrincipal(false).MayGrant(lethe.AllRoles()); err != nil {
		t.Errorf("the admin token grants any role: %v", err)
	}
}

func TestParseRoles_OrdersAndRefuses(t *testing.T) {
	got, err := lethe.ParseRoles([]string{"auditor", "reader", "auditor"})
	if err != nil || len(got) != 2 || got[0] != lethe.RoleReader || got[1] != lethe.RoleAuditor {
		t.Fatalf("ParseRoles = %v, %v; want [reader auditor]", got, err)
	}
	for _, bad := range [][]string{nil, {}, {"reader", "Reader"}, {"root"}} {
		var fe *lethe.FieldError
		if _, err := lethe.ParseRoles(bad); !errors.As(err, &fe) {
			t.Errorf("ParseRoles(%q) = %v, want a field error", bad, err)
		}
	}
}
