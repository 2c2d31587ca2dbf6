package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/audit"
)

// errAuditBroken: verification found a broken chain (exit code 1).
var errAuditBroken = errors.New("audit trail broken")

func auditCmd(env envFunc) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Verify and read the audit logs",
	}
	cmd.AddCommand(auditVerifyCmd(env), auditTailCmd(env))
	return cmd
}

func auditVerifyCmd(env envFunc) *cobra.Command {
	var df dataFlags
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check every audit chain; name the first broken entry of each",
		Long: `Check every audit chain (one per tenant and log): each entry's hash, seq
continuity and link to the previous entry, the signatures of the
checkpoints and chain heads, and that each chain starts at seq 1 or at the
signed checkpoint retention left as its anchor.

Prints "ok" and exits 0 when every chain verifies; otherwise prints the
first broken entry of each broken chain (tenant, log, seq, reason) and
exits 1. Nothing is written.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
			o, err := df.open(ctx, false, log)
			if err != nil {
				return err
			}
			defer o.Close()
			rep, err := o.eng.VerifyAudit(ctx)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			for _, b := range rep.Breaks {
				fmt.Fprintf(out, "BROKEN tenant=%s log=%s seq=%d: %s\n", b.Tenant, b.Log, b.Seq, b.Reason)
			}
			if len(rep.Breaks) > 0 {
				return fmt.Errorf("%w: %d of %d chains fail verification (first: %v)", errAuditBroken, len(rep.Breaks), rep.Chains, rep.Breaks[0])
			}
			fmt.Fprintf(out, "ok: %d chains, %d entries verified\n", rep.Chains, rep.Entries)
			return nil
		},
	}
	df.register(cmd, env)
	return cmd
}

func auditTailCmd(env envFunc) *cobra.Command {
	var (
		df     dataFlags
		tenant string
		logArg string
		n      int
	)
	cmd := &cobra.Command{
		Use:   "tail",
		Short: "Print the last entries of the audit logs, sealed parts decrypted",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if n < 1 || n > audit.MaxLimit {
				return fmt.Errorf("%w: -n: want 1 to %d", errUsage, audit.MaxLimit)
			}
			if logArg != "" {
				if _, err := audit.ParseLog(logArg); err != nil {
					return fmt.Errorf("%w: --log: %v", errUsage, err)
				}
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
			o, err := df.open(ctx, false, log)
			if err != nil {
				return err
			}
			defer o.Close()
			chains, err := o.eng.AuditChains(ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TENANT\tLOG\tSEQ\tTIME\tACTOR\tEVENT\tDATA")
			for _, c := range chains {
				if (tenant != "" && c.Tenant != tenant) || (logArg != "" && string(c.Log) != logArg) || c.Count == 0 {
					continue
				}
				after := max(c.Last-int64(n), 0)
				entries, _, err := o.eng.AuditLog(ctx, lethe.AuditQuery{Tenant: c.Tenant, Log: c.Log, AfterSeq: after, Limit: n})
				if err != nil {
					return err
				}
				for _, e := range entries {
					fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\n", c.Tenant, c.Log, e.Seq, e.Time.Format("2006-01-02T15:04:05.000Z"), e.Actor, e.Event, compactJSON(e.Data))
				}
			}
			return tw.Flush()
		},
	}
	df.register(cmd, env)
	cmd.Flags().StringVar(&tenant, "tenant", "", "only this tenant (\"_system\" for server events and failed logins)")
	cmd.Flags().StringVar(&logArg, "log", "", "only this log: runtime, manager or security")
	cmd.Flags().IntVarP(&n, "n", "n", 20, "entries per chain")
	return cmd
}

// compactJSON prints entry data on one line.
func compactJSON(m map[string]any) string {
	var b strings.Builder
	enc := jsonEncoder(&b)
	if err := enc.Encode(m); err != nil {
		return "?"
	}
	return strings.TrimSpace(b.String())
}

func jsonEncoder(b *strings.Builder) *json.Encoder {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	return enc
}
