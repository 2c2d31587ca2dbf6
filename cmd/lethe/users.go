package main

import (
	"bufio"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lethe-privacy/lethe/console"
	"github.com/lethe-privacy/lethe/engine"
)

func usersCmd(env envFunc) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "users",
		Short: "Add, list and remove web console users",
		Long: `Add, list and remove the users who sign in to the web console at
/console/ of "lethe serve". A user is the global admin (every tenant, and
the console's user page) or, for one tenant, a manager or a read-only
auditor. Passwords are stored as argon2id hashes only. Adding and removing
are recorded in the tenant's security log (the system log for admins)
under the actor "cli:<user>".`,
	}
	cmd.AddCommand(usersAddCmd(env), usersListCmd(env), usersRemoveCmd(env))
	return cmd
}

func usersAddCmd(env envFunc) *cobra.Command {
	var (
		df     dataFlags
		role   string
		tenant string
	)
	cmd := &cobra.Command{
		Use:   "add NAME --role admin|manager|auditor [--tenant ID]",
		Short: "Add a console user; the password is read from LETHE_CONSOLE_PASSWORD or the first line of stdin",
		Long: `Add a console user. The password (12 characters or more) comes from
$LETHE_CONSOLE_PASSWORD or, without it, the first line of standard input,
so that it is never on the command line where other users could read it.`,
		Example: "  printf '%s\\n' \"$PW\" | lethe users add mia --role manager --tenant shop",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pw := env("LETHE_CONSOLE_PASSWORD")
			if pw == "" {
				line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
				if err != nil && line == "" {
					return fmt.Errorf("%w: no password: set LETHE_CONSOLE_PASSWORD or pipe it on stdin", errUsage)
				}
				pw = strings.TrimRight(line, "\r\n")
			}
			hash, err := console.HashPassword(pw)
			if err != nil {
				return fmt.Errorf("%w: %v", errUsage, err)
			}
			return withData(cmd, &df, func(ctx context.Context, o *opened) error {
				u := engine.ConsoleUser{Name: strings.ToLower(args[0]), Tenant: tenant, Role: engine.ConsoleRole(role), Hash: hash}
				if err := o.eng.AddConsoleUser(ctx, operator(), u); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "added console user %s (%s)\n", u.Name, describeUser(u))
				return nil
			})
		},
	}
	df.register(cmd, env)
	cmd.Flags().StringVar(&role, "role", "", "admin (global), manager or auditor (of --tenant)")
	cmd.Flags().StringVar(&tenant, "tenant", "", "the tenant of a manager or auditor")
	return cmd
}

func describeUser(u engine.ConsoleUser) string {
	if u.Tenant == "" {
		return string(u.Role)
	}
	return string(u.Role) + " of " + u.Tenant
}

func usersListCmd(env envFunc) *cobra.Command {
	var (
		df     dataFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List console users (never their password hashes)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withData(cmd, &df, func(ctx context.Context, o *opened) error {
				us, err := o.eng.ConsoleUsers(ctx)
				if err != nil {
					return err
				}
				type userJSON struct {
					Name    string    `json:"name"`
					Role    string    `json:"role"`
					Tenant  string    `json:"tenant,omitempty"`
					Created time.Time `json:"created_at"`
				}
				out := make([]userJSON, len(us))
				for i, u := range us {
					out[i] = userJSON{u.Name, string(u.Role), u.Tenant, u.Created.UTC()}
				}
				if asJSON {
					return printJSON(cmd.OutOrStdout(), map[string]any{"users": out})
				}
				tw := newTable(cmd.OutOrStdout())
				fmt.Fprintln(tw, "NAME\tROLE\tTENANT\tCREATED")
				for _, u := range out {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Name, u.Role, u.Tenant, u.Created.Format(time.RFC3339))
				}
				return tw.Flush()
			})
		},
	}
	df.register(cmd, env)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print {\"users\": [...]} as JSON")
	return cmd
}

func usersRemoveCmd(env envFunc) *cobra.Command {
	var df dataFlags
	cmd := &cobra.Command{
		Use:   "remove NAME",
		Short: "Remove a console user; its open sessions end at their next request",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withData(cmd, &df, func(ctx context.Context, o *opened) error {
				if err := o.eng.RemoveConsoleUser(ctx, operator(), strings.ToLower(args[0])); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "removed console user %s\n", args[0])
				return nil
			})
		},
	}
	df.register(cmd, env)
	return cmd
}
