package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
	"github.com/lethe-privacy/lethe/retention"
)

func tenantsCmd(env envFunc) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tenants",
		Short: "Create, list and show tenants",
		Long: `Create, list and show tenants on the data of --data or --database-url, as
the API's /v1/tenants does, without a server. Creating a tenant is audited
in its security log under the actor "cli:<user>".`,
	}
	cmd.AddCommand(tenantsCreateCmd(env), tenantsListCmd(env), tenantsShowCmd(env))
	cmd.AddCommand(tenantsSetKeyCmd(env))
	return cmd
}

// withData opens the data for one command, hands it to fn with a context
// that names the operator as the caller, and closes it again.
func withData(cmd *cobra.Command, df *dataFlags, fn func(ctx context.Context, o *opened) error) error {
	ctx := asOperator(cmd.Context())
	o, err := df.open(ctx, false, quietLog(cmd))
	if err != nil {
		return err
	}
	defer o.Close()
	return fn(ctx, o)
}

// tenantJSON is a tenant as the API shows it.
type tenantJSON struct {
	ID        string    `json:"id"`
	Packs     []string  `json:"packs"`
	CreatedAt time.Time `json:"created_at"`
}

func toTenantJSON(t *lethe.Tenant) tenantJSON {
	packs := t.Packs
	if packs == nil {
		packs = []string{}
	}
	return tenantJSON{ID: t.ID, Packs: packs, CreatedAt: t.CreatedAt.UTC()}
}

// listTenants returns every tenant, by id, paging through the engine's
// listing (the API's) to the end.
func listTenants(ctx context.Context, o *opened) ([]*lethe.Tenant, error) {
	var out []*lethe.Tenant
	next := ""
	for {
		page, err := o.eng.ListTenants(ctx, engine.MaxPageLimit, next)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Items...)
		if next = page.Next; next == "" {
			return out, nil
		}
	}
}

func tenantsCreateCmd(env envFunc) *cobra.Command {
	var (
		df     dataFlags
		packs  []string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "create ID --pack PACK...",
		Short: "Create a tenant using one or more packs",
		Long: `Create a tenant with its own data, blind-index and receipt keys, using the
named packs (chatbot, conversations, erp-marketplace) and, with --policy,
the collections of an application policy file.`,
		Example: "  lethe tenants create shop --pack erp-marketplace",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withData(cmd, &df, func(ctx context.Context, o *opened) error {
				t, err := o.eng.CreateTenant(ctx, operator(), args[0], packs)
				if err != nil {
					return err
				}
				if asJSON {
					return printJSON(cmd.OutOrStdout(), toTenantJSON(t))
				}
				fmt.Fprintf(cmd.OutOrStdout(), "created tenant %s (packs: %s)\n", t.ID, strings.Join(t.Packs, ", "))
				return nil
			})
		},
	}
	df.register(cmd, env)
	cmd.Flags().StringSliceVar(&packs, "pack", nil, "a pack the tenant uses (repeatable, or comma-separated)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the tenant as JSON")
	return cmd
}

func tenantsListCmd(env envFunc) *cobra.Command {
	var (
		df     dataFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List every tenant",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withData(cmd, &df, func(ctx context.Context, o *opened) error {
				ts, err := listTenants(ctx, o)
				if err != nil {
					return err
				}
				out := make([]tenantJSON, len(ts))
				for i, t := range ts {
					out[i] = toTenantJSON(t)
				}
				if asJSON {
					return printJSON(cmd.OutOrStdout(), map[string]any{"tenants": out})
				}
				tw := newTable(cmd.OutOrStdout())
				fmt.Fprintln(tw, "ID\tPACKS\tCREATED")
				for _, t := range out {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", t.ID, strings.Join(t.Packs, ","), t.CreatedAt.Format(time.RFC3339))
				}
				return tw.Flush()
			})
		},
	}
	df.register(cmd, env)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print {\"tenants\": [...]} as JSON")
	return cmd
}

// tenantCollectionJSON is one collection in "tenants show".
type tenantCollectionJSON struct {
	Name    string `json:"name"`
	Pack    string `json:"pack"`
	Enabled bool   `json:"enabled"`
}

func tenantsShowCmd(env envFunc) *cobra.Command {
	var (
		df     dataFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show a tenant, its collections and how many API keys it has",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withData(cmd, &df, func(ctx context.Context, o *opened) error {
				t, err := o.eng.Tenant(ctx, args[0])
				if err != nil {
					return err
				}
				cs, err := o.eng.Collections(ctx, t.ID)
				if err != nil {
					return err
				}
				colls := make([]tenantCollectionJSON, 0, len(cs))
				for _, c := range cs {
					st, err := o.eng.Settings(ctx, t.ID, c.Name)
					if err != nil {
						return err
					}
					colls = append(colls, tenantCollectionJSON{Name: c.Name, Pack: c.Pack, Enabled: retention.Enabled(c, st)})
				}
				keys, err := o.eng.APIKeys(ctx, t.ID)
				if err != nil {
					return err
				}
				active := 0
				for _, k := range keys {
					if !k.Revoked {
						active++
					}
				}
				tj := toTenantJSON(t)
				if asJSON {
					return printJSON(cmd.OutOrStdout(), struct {
						tenantJSON
						Collections []tenantCollectionJSON `json:"collections"`
						ActiveKeys  int                    `json:"active_keys"`
					}{tj, colls, active})
				}
				w := cmd.OutOrStdout()
				fmt.Fprintf(w, "tenant %s\npacks: %s\ncreated: %s\nactive API keys: %d\n\n",
					tj.ID, strings.Join(tj.Packs, ", "), tj.CreatedAt.Format(time.RFC3339), active)
				tw := newTable(w)
				fmt.Fprintln(tw, "COLLECTION\tPACK\tENABLED")
				for _, c := range colls {
					fmt.Fprintf(tw, "%s\t%s\t%v\n", c.Name, c.Pack, c.Enabled)
				}
				return tw.Flush()
			})
		},
	}
	df.register(cmd, env)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the tenant as JSON")
	return cmd
}
