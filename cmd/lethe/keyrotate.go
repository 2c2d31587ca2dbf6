package main

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/lethe-privacy/lethe/engine"
)

// keyRotationCmds are the "lethe keys" subcommands for the master key and
// the tenants' data keys, beside the API-key ones in keys.go.
func keyRotationCmds(env envFunc) []*cobra.Command {
	return []*cobra.Command{keysRotateCmd(env), keysRewrapCmd(env), keysStatusCmd(env), keysDestroyCmd(env)}
}

// scopeFlags name what a key command acts on: --master or --tenant T.
type scopeFlags struct {
	master bool
	tenant string
}

func (s *scopeFlags) register(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&s.master, "master", false, "the master key (every wrapped tenant key)")
	cmd.Flags().StringVar(&s.tenant, "tenant", "", "a tenant's data key (every value sealed under it)")
}

func (s *scopeFlags) check() error {
	if s.master == (s.tenant != "") {
		return fmt.Errorf("%w: name exactly one of --master and --tenant T", errUsage)
	}
	return nil
}

func keysRotateCmd(env envFunc) *cobra.Command {
	var (
		df     dataFlags
		sc     scopeFlags
		noWait bool
		to     string
	)
	cmd := &cobra.Command{
		Use:   "rotate --master [--to URL] | --tenant T",
		Short: "Create a new master key or data key version and rewrap onto it",
		Long: `Create a new version of the master key (--master: a new line in the key
file, a new Vault transit key version) or of a tenant's data key (--tenant
T), which new writes use at once; older versions are retired: they open
what they sealed and seal nothing new. Then rewrap: every wrapped tenant
key (master) or every record value sealed under an older version (tenant)
is moved to the new one, online, while the server goes on serving. A
progress bar shows on a terminal. Progress is saved after every batch: an
interrupted rewrap resumes with "lethe keys rewrap", or by itself at the
next start of lethe serve. --no-wait only rotates (lethe serve, or "lethe
keys rewrap", then does the rewrap).

A cloud KMS master key (awskms://...) rotates inside its service, which
keeps old wraps opening without Lethe; to move to another key, name it
with --to (a key of the same service), and start later runs with
--master-key set to it. Until the rewrap has ended, both keys must stay
usable by Lethe's credentials.

A data key also rotates by itself before it has sealed 2^30 values (the
cap that keeps random GCM nonces far below NIST's 2^32), and is rewrapped
the same way. "lethe keys status" shows what each version still holds;
"lethe keys destroy" removes a version nothing uses.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := sc.check(); err != nil {
				return err
			}
			if to != "" && !sc.master {
				return fmt.Errorf("%w: --to names a new master key; it goes with --master", errUsage)
			}
			return withData(cmd, &df, func(ctx context.Context, o *opened) error {
				if sc.master {
					rotate := func() (string, error) { return o.eng.RotateMasterKey(ctx, operator()) }
					if to != "" {
						rotate = func() (string, error) { return o.eng.RotateMasterKeyTo(ctx, operator(), to) }
					}
					id, err := rotate()
					if err != nil {
						return err
					}
					// The erasure journal's key moves at once: a cloud
					// KMS master names only the new key at the next
					// start, which must open the journal to resume.
					if o.journal != nil {
						if err := o.journal.Rekey(ctx, o.kek); err != nil {
							return err
						}
					}
					fmt.Fprintf(cmd.ErrOrStderr(), "master key rotated: new writes use %s\n", id)
				} else {
					v, err := o.eng.RotateTenantKey(ctx, operator(), sc.tenant)
					if err != nil {
						return err
					}
					fmt.Fprintf(cmd.ErrOrStderr(), "data key of %s rotated: new writes use v%d\n", sc.tenant, v)
				}
				if noWait {
					return nil
				}
				return runRewrap(ctx, cmd, o, sc)
			})
		},
	}
	df.register(cmd, env)
	sc.register(cmd)
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "rotate only; leave the rewrap to lethe serve or lethe keys rewrap")
	cmd.Flags().StringVar(&to, "to", "", "with --master on a cloud KMS key: the URL of the key to move to (awskms://NEW_KEY?region=...)")
	return cmd
}

func keysRewrapCmd(env envFunc) *cobra.Command {
	var (
		df dataFlags
		sc scopeFlags
	)
	cmd := &cobra.Command{
		Use:   "rewrap --master | --tenant T",
		Short: "Move everything still on an older key version to the current one",
		Long: `Move every wrapped tenant key (--master) or every record value of a tenant
(--tenant T) still on an older key version to the current one, from where
an interrupted rewrap stopped. Running it when nothing is left is quick and
harmless.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := sc.check(); err != nil {
				return err
			}
			return withData(cmd, &df, func(ctx context.Context, o *opened) error {
				return runRewrap(ctx, cmd, o, sc)
			})
		},
	}
	df.register(cmd, env)
	sc.register(cmd)
	return cmd
}

// runRewrap rewraps with a bar on a terminal and prints the job as JSON.
func runRewrap(ctx context.Context, cmd *cobra.Command, o *opened, sc scopeFlags) error {
	bar := newRewrapBar(cmd.ErrOrStderr(), sc)
	var (
		job *engine.RewrapJob
		err error
	)
	if sc.master {
		job, err = o.eng.RewrapMasterKey(ctx, bar.update)
	} else {
		job, err = o.eng.RewrapTenant(ctx, sc.tenant, bar.update)
	}
	bar.finish()
	if err != nil {
		return err
	}
	return printJSON(cmd.OutOrStdout(), job)
}

// rewrapBar draws a rewrap's progress on a terminal (standard error only).
type rewrapBar struct{ bar *progressbar.ProgressBar }

func newRewrapBar(w io.Writer, sc scopeFlags) *rewrapBar {
	if !isTerminal(w) {
		return nil
	}
	what := "master key"
	if !sc.master {
		what = "data key of " + sc.tenant
	}
	return &rewrapBar{bar: progressbar.NewOptions64(-1, progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("rewrap "+what), progressbar.OptionShowCount(),
		progressbar.OptionSetElapsedTime(true), progressbar.OptionClearOnFinish())}
}

func (b *rewrapBar) update(j engine.RewrapJob) {
	if b == nil {
		return
	}
	if j.Total > 0 && b.bar.GetMax64() != j.Total {
		b.bar.ChangeMax64(j.Total)
	}
	b.bar.Set64(j.Done)
}

func (b *rewrapBar) finish() {
	if b != nil {
		b.bar.Finish()
	}
}

func keysStatusCmd(env envFunc) *cobra.Command {
	var (
		df     dataFlags
		tenant string
	)
	cmd := &cobra.Command{
		Use:   "status [--tenant T]",
		Short: "Show the key versions and what each still holds",
		Long: `Show the master key's versions with how many wrapped keys each wraps, or
with --tenant T the tenant's data key versions with how many record values
and audit entries each sealed, and the last rewrap's progress (JSON).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withData(cmd, &df, func(ctx context.Context, o *opened) error {
				if tenant == "" {
					st, err := o.eng.MasterKeyStatus(ctx)
					if err != nil {
						return err
					}
					return printJSON(cmd.OutOrStdout(), st)
				}
				st, err := o.eng.TenantKeyStatus(ctx, tenant)
				if err != nil {
					return err
				}
				return printJSON(cmd.OutOrStdout(), st)
			})
		},
	}
	df.register(cmd, env)
	cmd.Flags().StringVar(&tenant, "tenant", "", "a tenant's data keys instead of the master key")
	return cmd
}

func keysDestroyCmd(env envFunc) *cobra.Command {
	var (
		df      dataFlags
		sc      scopeFlags
		version string
	)
	cmd := &cobra.Command{
		Use:   "destroy (--master --version ID | --tenant T --version N)",
		Short: "Destroy an old key version that nothing uses any more",
		Long: `Destroy an old master key version (its id, as "lethe keys status" shows it)
or a tenant's retired data key version (its number), for good. Refused
while anything still uses it (run the rewrap first; audit entries keep
their data key version until they age out of their log) and for the
current version. With Vault, every version up to the one named goes.
Backups made before the master key's rotation hold their key wrapped
under the old version: destroying it makes them unrestorable on purpose
(they are shredded), so take a new backup after the rewrap first.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := sc.check(); err != nil {
				return err
			}
			if version == "" {
				return fmt.Errorf("%w: --version is required", errUsage)
			}
			return withData(cmd, &df, func(ctx context.Context, o *opened) error {
				if sc.master {
					if err := o.eng.DestroyMasterKey(ctx, operator(), version); err != nil {
						return err
					}
				} else {
					v, err := strconv.ParseUint(version, 10, 32)
					if err != nil || v == 0 {
						return fmt.Errorf("%w: --version %q: want a data key version number", errUsage, version)
					}
					if err := o.eng.DestroyTenantKey(ctx, operator(), sc.tenant, uint32(v)); err != nil {
						return err
					}
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "key version %s destroyed\n", version)
				return nil
			})
		},
	}
	df.register(cmd, env)
	sc.register(cmd)
	cmd.Flags().StringVar(&version, "version", "", "the version to destroy")
	return cmd
}
