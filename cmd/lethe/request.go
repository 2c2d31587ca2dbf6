package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
)

func requestCmd(env envFunc) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "request",
		Short: "Run and inspect data-subject and data-origin requests",
		Long: `Run export, erase, anonymize and export_then_anonymize requests for one
subject, one origin or a whole tenant, show their state, write their
receipts and exports, and verify a receipt.`,
	}
	cmd.AddCommand(requestCreateCmd(env), requestShowCmd(env), requestReceiptCmd(env), requestExportCmd(env), requestVerifyCmd(env))
	return cmd
}

func quietLog(cmd *cobra.Command) *slog.Logger {
	return slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func requestCreateCmd(env envFunc) *cobra.Command {
	var (
		df      dataFlags
		tenant  string
		typ     string
		subject []string
		origin  string
		all     bool
		dryRun  bool
		wait    bool
	)
	cmd := &cobra.Command{
		Use:   "create --tenant T --type TYPE (--subject KIND=VALUE... | --origin O | --all) [--dry-run]",
		Short: "Submit a request and run it to its end",
		Long: `Submit a request and run it in this process until it is done, then print
the job as JSON; exits 1 when the job failed. An identical request still
pending or running (say, in a server on the same data) is joined instead of
repeated; --wait then waits for it to end. Interrupted, the job resumes where
its last batch ended on the next run or server start.

On a terminal, progress is drawn on standard error; standard output holds
the JSON alone.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			in := engine.RequestInput{Type: lethe.RequestType(typ), Origin: origin, Tenant: all, DryRun: dryRun}
			if len(subject) > 0 {
				in.Subject = map[string]string{}
				for _, kv := range subject {
					k, v, ok := strings.Cut(kv, "=")
					if !ok || k == "" {
						return fmt.Errorf("%w: --subject %q: want KIND=VALUE, e.g. email=a@example.com", errUsage, kv)
					}
					in.Subject[k] = v
				}
			}
			return withData(cmd, &df, func(ctx context.Context, o *opened) error {
				job, _, err := o.eng.SubmitRequest(ctx, operator(), tenant, in)
				if err != nil {
					return err
				}
				f := newJobFollower(o, tenant, job.ID, newJobBar(cmd.ErrOrStderr(), job.ID))
				if job, err = f.run(ctx, wait); err != nil {
					return err
				}
				return endJob(cmd, job)
			})
		},
	}
	df.register(cmd, env)
	cmd.Flags().StringVar(&tenant, "tenant", "", "tenant id (required)")
	cmd.Flags().StringVar(&typ, "type", "", "export, erase, anonymize or export_then_anonymize (required)")
	cmd.Flags().StringArrayVar(&subject, "subject", nil, "an identifier of the subject, KIND=VALUE (repeatable)")
	cmd.Flags().StringVar(&origin, "origin", "", "every record of this origin, e.g. amazon")
	cmd.Flags().BoolVar(&all, "all", false, "every record of the tenant")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "change nothing; report what would change")
	cmd.Flags().BoolVar(&wait, "wait", false, "when another instance runs the job, wait until it is done or failed")
	cmd.Flags().BoolVar(&wait, "follow", false, "the same as --wait")
	cmd.MarkFlagRequired("tenant")
	cmd.MarkFlagRequired("type")
	return cmd
}

// printJob writes a job as the API shows it, minus the receipt (see
// "request receipt").
func printJob(w io.Writer, j *lethe.Request) error {
	counts := engine.RequestCounts(j)
	colls := make([]string, 0, len(counts))
	for c := range counts {
		colls = append(colls, c)
	}
	sort.Strings(colls)
	out := map[string]any{
		"id": j.ID, "tenant": j.Tenant, "type": j.Type, "scope": j.Scope, "dry_run": j.DryRun, "state": j.State,
		"progress": map[string]int64{"processed": j.Processed, "total": j.Total}, "counts": counts,
	}
	if j.Error != "" {
		out["error"] = j.Error
	}
	if j.ExportChunks > 0 {
		out["export_expires_at"] = j.ExportExpiresAt
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// endJob prints the job and fails when the job failed, so that a script
// sees it in the exit code.
func endJob(cmd *cobra.Command, job *lethe.Request) error {
	if err := printJob(cmd.OutOrStdout(), job); err != nil {
		return err
	}
	if job.State == lethe.RequestFailed {
		return fmt.Errorf("request %s failed: %s", job.ID, job.Error)
	}
	return nil
}

func requestShowCmd(env envFunc) *cobra.Command {
	var (
		df     dataFlags
		tenant string
		follow bool
	)
	cmd := &cobra.Command{
		Use:   "show ID --tenant T [--follow]",
		Short: "Show a request job's state, progress and counts",
		Long: `Show a request job's state, progress and counts as JSON.

With --follow (or --wait) it waits until the job is done or failed, drawing
its progress on standard error when that is a terminal, and exits 1 when
the job failed. A job no server works on is worked on here meanwhile, as a
server's runner would (with any other job waiting in the data).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withData(cmd, &df, func(ctx context.Context, o *opened) error {
				if !follow {
					job, err := o.eng.Request(ctx, tenant, args[0])
					if err != nil {
						return err
					}
					return printJob(cmd.OutOrStdout(), job)
				}
				if _, err := o.eng.Request(ctx, tenant, args[0]); err != nil {
					return err
				}
				job, err := newJobFollower(o, tenant, args[0], newJobBar(cmd.ErrOrStderr(), args[0])).run(ctx, true)
				if err != nil {
					return err
				}
				return endJob(cmd, job)
			})
		},
	}
	df.register(cmd, env)
	cmd.Flags().StringVar(&tenant, "tenant", "", "tenant id (required)")
	cmd.Flags().BoolVar(&follow, "follow", false, "wait until the job is done or failed, showing its progress")
	cmd.Flags().BoolVar(&follow, "wait", false, "the same as --follow")
	cmd.MarkFlagRequired("tenant")
	return cmd
}

func requestReceiptCmd(env envFunc) *cobra.Command {
	var out string
	cmd := jobCmd(env, "receipt ID --tenant T [-o FILE]", "Write a finished request's signed receipt",
		func(cmd *cobra.Command, job *lethe.Request) error {
			if len(job.Receipt) == 0 {
				return fmt.Errorf("request %s is %s: %w: a receipt exists once it is done", job.ID, job.State, lethe.ErrNotFound)
			}
			return writeOut(cmd, out, func(w io.Writer) error { _, err := w.Write(append(job.Receipt, '\n')); return err })
		})
	cmd.Flags().StringVarP(&out, "output", "o", "", "file to write (default standard output)")
	return cmd
}

// jobCmd builds a request subcommand that loads one request job (the ID
// argument, of --tenant) and hands it to run.
func jobCmd(env envFunc, use, short string, run func(*cobra.Command, *lethe.Request) error) *cobra.Command {
	var (
		df     dataFlags
		tenant string
	)
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := df.open(cmd.Context(), false, quietLog(cmd))
			if err != nil {
				return err
			}
			defer o.Close()
			job, err := o.eng.Request(cmd.Context(), tenant, args[0])
			if err != nil {
				return err
			}
			return run(cmd, job)
		},
	}
	df.register(cmd, env)
	cmd.Flags().StringVar(&tenant, "tenant", "", "tenant id (required)")
	cmd.MarkFlagRequired("tenant")
	return cmd
}

func requestExportCmd(env envFunc) *cobra.Command {
	var (
		df     dataFlags
		tenant string
		format string
		out    string
	)
	cmd := &cobra.Command{
		Use:   "export ID --tenant T [--format json|zip] -o FILE",
		Short: "Write a request's export (personal data: the download is audited)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return fmt.Errorf("%w: -o FILE is required: an export is personal data and is not written to a terminal", errUsage)
			}
			o, err := df.open(cmd.Context(), false, quietLog(cmd))
			if err != nil {
				return err
			}
			defer o.Close()
			x, err := o.eng.OpenExport(asOperator(cmd.Context()), operator(), tenant, args[0], format)
			if err != nil {
				return err
			}
			return writeOut(cmd, out, func(w io.Writer) error { return x.WriteTo(cmd.Context(), w) })
		},
	}
	df.register(cmd, env)
	cmd.Flags().StringVar(&tenant, "tenant", "", "tenant id (required)")
	cmd.Flags().StringVar(&format, "format", "zip", "json or zip")
	cmd.Flags().StringVarP(&out, "output", "o", "", "file to write (required)")
	cmd.MarkFlagRequired("tenant")
	return cmd
}

// writeOut writes to standard output, or to a file atomically: a temp file
// in the same folder, fsync, rename, fsync of the folder, so that a crash
// never leaves half a receipt or export under the final name.
func writeOut(cmd *cobra.Command, path string, fn func(io.Writer) error) error {
	if path == "" || path == "-" {
		return fn(cmd.OutOrStdout())
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".lethe-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := os.Chmod(tmp, 0o600); err != nil {
		f.Close()
		return err
	}
	if err := fn(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("fsync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}

func requestVerifyCmd(env envFunc) *cobra.Command {
	var (
		df        dataFlags
		publicKey string
	)
	cmd := &cobra.Command{
		Use:   "verify RECEIPT-FILE (--public-key FILE|URL | --data DIR)",
		Short: "Verify a request receipt with its tenant's public key or the data",
		Long: `Verify a receipt written by "lethe request receipt" or downloaded from the
API. Prints "valid" and exits 0 when its signature matches; exits non-zero
with the reason when the receipt was altered, truncated or is not from
this data.

With --public-key, nothing but the receipt and the tenant's public keys is
needed: a JWKS file (saved from GET /v1/receipt-keys?tenant=T) or that
URL itself (the receipt's tenant is added when the URL names none). No
data folder, no master key. Receipts made before Ed25519 signing (alg
HMAC-SHA256) verify only with --data.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			var rc *engine.Receipt
			if publicKey != "" {
				if cmd.Flags().Changed("data") {
					return fmt.Errorf("use --public-key or --data, not both: %w", lethe.ErrInvalid)
				}
				rc, err = verifyWithPublicKey(cmd.Context(), b, publicKey)
			} else {
				var o *opened
				if o, err = df.open(cmd.Context(), false, quietLog(cmd)); err != nil {
					return err
				}
				defer o.Close()
				rc, err = o.eng.VerifyReceipt(cmd.Context(), b)
			}
			if err != nil {
				if errors.Is(err, engine.ErrReceiptInvalid) {
					return fmt.Errorf("%s: %w", args[0], err)
				}
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "valid: %s request %s of tenant %s, finished %s\n", rc.Type, rc.RequestID, rc.Tenant, rc.FinishedAt.Format(time.RFC3339))
			return nil
		},
	}
	df.register(cmd, env)
	cmd.Flags().StringVar(&publicKey, "public-key", "", "verify with the tenant's public keys alone: a JWKS file, or the URL of a server's /v1/receipt-keys")
	return cmd
}

func verifyWithPublicKey(ctx context.Context, receipt []byte, src string) (*engine.Receipt, error) {
	tenant, err := engine.ReceiptTenant(receipt)
	if err != nil {
		return nil, err
	}
	set, err := loadKeySet(ctx, src, tenant)
	if err != nil {
		return nil, err
	}
	return engine.VerifyReceiptPublic(receipt, set, tenant)
}

// startRequestRunner runs request jobs in the background until the
// returned stop function is called; stop waits for the runner to end.
func startRequestRunner(ctx context.Context, o *opened, log *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		o.eng.NewRequestRunner().Run(ctx, time.Second)
	}()
	log.Debug("request runner started")
	return func() {
		cancel()
		wg.Wait()
	}
}
