package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
)

// tenantsSetKeyCmd is "lethe tenants set-key": a tenant's own master key.
func tenantsSetKeyCmd(env envFunc) *cobra.Command {
	var df dataFlags
	cmd := &cobra.Command{
		Use:   "set-key TENANT URL",
		Short: "Wrap a tenant's keys with a master key of its own (bring your own key)",
		Long: `Make URL the master key that wraps TENANT's keys, instead of the instance's:
a key the tenant holds in its own KMS or Vault (awskms://KEY_ID?region=R,
vault://HOST:PORT/MOUNT/KEY, or a key file file:///PATH it hands over). The
key must answer a wrap and an unwrap first, else nothing changes; then every
key of the tenant is rewrapped under it, online. Running it again with the
same URL finishes an interrupted move; with another URL it moves on to that
key. Credentials come from the environment, as for --master-key.

From then on, when the tenant's key cannot be used (revoked, deleted,
unreachable past the cache's grace), that tenant's calls fail, closed, and
/readyz names it under "tenant_master_keys_failing"; every other tenant
goes on. "lethe keys rotate --master" leaves the tenant's keys alone.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withData(cmd, &df, func(ctx context.Context, o *opened) error {
				n, err := o.eng.SetTenantMasterKey(ctx, operator(), args[0], args[1])
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "tenant %s: %d keys now wrapped by its own master key\n", args[0], n)
				return nil
			})
		},
	}
	df.register(cmd, env)
	return cmd
}
