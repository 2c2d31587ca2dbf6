// Command lethe runs and operates the Lethe PII lifecycle engine.
//
//	lethe serve            the HTTP API, the scheduler and the sweeper
//	lethe sweep            run a sweep now (or --dry-run)
//	lethe policy check     validate a policy file
//	lethe policy doc       print the data-protection table of a pack
//	lethe request          submit and follow data-subject and origin requests
//	lethe tenants          create, list and show tenants
//	lethe keys             create, list and revoke a tenant's API keys
//	lethe records          put, get, patch, delete and list records
//	lethe audit            verify and tail the audit logs
//	lethe bench            measure Lethe against raw SQL on this machine
//	lethe soak             load a server and check every acknowledged write
//	lethe backup           create, list, verify, restore and prune encrypted backups
//
// Every command has --help. Errors are one line on stderr and a non-zero
// exit code: 2 usage, 3 invalid input, 4 not found, 5 unavailable, 6 master
// key, 1 anything else (exit.go, and the root command's --help).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "lethe: %s\n", message(err))
		os.Exit(exitCode(err))
	}
}

// run is main without the process: tests call it with their own arguments,
// output and environment.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	root := &cobra.Command{
		Use:   "lethe",
		Short: "Lethe holds personal data encrypted and deletes or anonymizes it on time",
		Long: `Lethe is a PII lifecycle engine. It stores an application's personal data
encrypted, knows for each record how long it may live and what must then
happen (delete, or anonymize field by field, per tenant settings), does it on
time by itself, and answers export and erasure requests with an audit trail.

Start it with "lethe serve": with no flags it keeps its data in ./lethe-data
and listens on 127.0.0.1:8080. The tenants, keys, records and request
commands work on the same data (--data or --database-url) without a server,
audited as the API would be, under the actor "cli:<user>".

` + exitCodesHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	env := envFunc(getenv)
	root.AddCommand(serveCmd(env), sweepCmd(env), policyCmd(), benchCmd(env), auditCmd(env), requestCmd(env))
	root.AddCommand(soakCmd(env), tenantsCmd(env), keysCmd(env), recordsCmd(env))
	root.AddCommand(backupCmd(env))
	root.AddCommand(usersCmd(env))
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return &usageError{err: err, path: c.CommandPath()} })
	var began bool
	markUsage(root, &began)
	c, err := root.ExecuteContextC(ctx)
	if err != nil && !began && !errors.Is(err, errUsage) {
		path := "lethe"
		if c != nil {
			path = c.CommandPath()
		}
		return &usageError{err: err, path: path}
	}
	return err
}

// envFunc reads configuration from the environment; passed in, never read
// deep inside.
type envFunc func(string) string

func (e envFunc) or(key, def string) string {
	if v := e(key); v != "" {
		return v
	}
	return def
}
