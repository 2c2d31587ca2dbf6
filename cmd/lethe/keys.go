package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lethe-privacy/lethe"
)

func keysCmd(env envFunc) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "A tenant's API keys; master and data key rotation",
		Long: `Create, list and revoke the API keys of a tenant, as the API's
/v1/tenants/{tenant}/keys does, without a server. A key reaches its tenant
alone. Only its hash is stored: the key is printed once, when it is made.
Every change is audited in the tenant's security log under the actor
"cli:<user>".

These commands open the data folder themselves: whoever can read it and
the master key is an operator, and acts as superuser (any tenant, any
role, as lethe serve --admin-superuser grants the admin token).

rotate, rewrap, status and destroy manage the encryption keys instead: the
master key and each tenant's data key (see "lethe keys rotate --help").`,
	}
	cmd.AddCommand(keysCreateCmd(env), keysListCmd(env), keysRevokeCmd(env))
	cmd.AddCommand(keyRotationCmds(env)...)
	return cmd
}

// keyJSON is an API key as "keys list" shows it: never its secret.
type keyJSON struct {
	Prefix    string    `json:"prefix"`
	CreatedAt time.Time `json:"created_at"`
	Revoked   bool      `json:"revoked"`
	Roles     []string  `json:"roles"`
}

func keysCreateCmd(env envFunc) *cobra.Command {
	var (
		df     dataFlags
		tenant string
		roles  []string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "create --tenant T [--role R]...",
		Short: "Make a new API key for a tenant and print it (once)",
		Long: `Make a new API key for a tenant and print it on standard output: this is
the only time it can be read. Revoke it by its prefix, the part after "lk_"
up to the next "_".

--role names what the key may do, once per role: admin (tenant, keys,
settings; no PII), reader (records, subjects, plan, stats), writer
(create, change, delete records), requests (submit and follow requests,
exports, receipts), auditor (the audit logs alone). Without --role the key
gets reader, writer and requests.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withData(cmd, &df, func(ctx context.Context, o *opened) error {
				var named []string // nil: the default roles
				if cmd.Flags().Changed("role") {
					named = roles
				}
				key, err := o.eng.CreateAPIKey(ctx, operator(), tenant, named)
				if err != nil {
					return err
				}
				granted := keyRoles(ctx, o, tenant, keyPrefix(key))
				if asJSON {
					return printJSON(cmd.OutOrStdout(), map[string]any{"key": key, "tenant": tenant, "prefix": keyPrefix(key), "roles": granted})
				}
				fmt.Fprintln(cmd.OutOrStdout(), key)
				fmt.Fprintf(cmd.ErrOrStderr(), "API key for tenant %s with roles %s, shown once; revoke it with \"lethe keys revoke --tenant %s %s\"\n",
					tenant, strings.Join(granted, ","), tenant, keyPrefix(key))
				return nil
			})
		},
	}
	df.register(cmd, env)
	cmd.Flags().StringVar(&tenant, "tenant", "", "tenant id (required)")
	cmd.Flags().StringArrayVar(&roles, "role", nil, "a role of the key: admin, reader, writer, requests, auditor (repeat for several; default reader, writer, requests)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print {\"key\", \"tenant\", \"prefix\", \"roles\"} as JSON")
	cmd.MarkFlagRequired("tenant")
	return cmd
}

// keyRoles reads back the roles a new key was given, so that what is
// printed is what is stored.
func keyRoles(ctx context.Context, o *opened, tenant, prefix string) []string {
	ks, err := o.eng.APIKeys(ctx, tenant)
	if err != nil {
		return nil
	}
	for _, k := range ks {
		if k.Prefix == prefix {
			return roleList(k.Roles)
		}
	}
	return nil
}

func roleList(rs []lethe.Role) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r)
	}
	return out
}

// keyPrefix is the public part of a key "lk_<prefix>_<secret>".
func keyPrefix(key string) string {
	p, _, _ := strings.Cut(strings.TrimPrefix(key, "lk_"), "_")
	return p
}

func keysListCmd(env envFunc) *cobra.Command {
	var (
		df     dataFlags
		tenant string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "list --tenant T",
		Short: "List a tenant's API keys by prefix (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withData(cmd, &df, func(ctx context.Context, o *opened) error {
				ks, err := o.eng.APIKeys(ctx, tenant)
				if err != nil {
					return err
				}
				out := make([]keyJSON, len(ks))
				for i, k := range ks {
					out[i] = keyJSON{Prefix: k.Prefix, CreatedAt: k.CreatedAt.UTC(), Revoked: k.Revoked, Roles: roleList(k.Roles)}
				}
				if asJSON {
					return printJSON(cmd.OutOrStdout(), map[string]any{"keys": out})
				}
				tw := newTable(cmd.OutOrStdout())
				fmt.Fprintln(tw, "PREFIX\tCREATED\tREVOKED\tROLES")
				for _, k := range out {
					fmt.Fprintf(tw, "%s\t%s\t%v\t%s\n", k.Prefix, k.CreatedAt.Format(time.RFC3339), k.Revoked, strings.Join(k.Roles, ","))
				}
				return tw.Flush()
			})
		},
	}
	df.register(cmd, env)
	cmd.Flags().StringVar(&tenant, "tenant", "", "tenant id (required)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print {\"keys\": [...]} as JSON")
	cmd.MarkFlagRequired("tenant")
	return cmd
}

func keysRevokeCmd(env envFunc) *cobra.Command {
	var (
		df     dataFlags
		tenant string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "revoke PREFIX --tenant T",
		Short: "Revoke a tenant's API key by its prefix",
		Long: `Revoke a tenant's API key by its prefix (as "keys list" shows it; a whole
key is accepted too). The next request with the key is refused.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			prefix := args[0]
			if strings.HasPrefix(prefix, "lk_") {
				prefix = keyPrefix(prefix)
			}
			return withData(cmd, &df, func(ctx context.Context, o *opened) error {
				if err := o.eng.RevokeAPIKey(ctx, operator(), tenant, prefix); err != nil {
					return err
				}
				if asJSON {
					return printJSON(cmd.OutOrStdout(), map[string]any{"prefix": prefix, "tenant": tenant, "revoked": true})
				}
				fmt.Fprintf(cmd.OutOrStdout(), "revoked API key %s of tenant %s\n", prefix, tenant)
				return nil
			})
		},
	}
	df.register(cmd, env)
	cmd.Flags().StringVar(&tenant, "tenant", "", "tenant id (required)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	cmd.MarkFlagRequired("tenant")
	return cmd
}
