package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/lethe-privacy/lethe/httpapi"
)

func sweepCmd(env envFunc) *cobra.Command {
	var (
		df     dataFlags
		dryRun bool
		until  string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "sweep",
		Short: "Apply every retention action due now (or show what is planned)",
		Long: `Apply every delete and anonymize action that is due now, in batches, each
batch one transaction with its audit entry. Safe to interrupt: the next sweep
takes up what is left.

With --dry-run nothing changes: it lists, per tenant, collection and day,
what would be deleted or anonymized up to --until (default now).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
			o, err := df.open(ctx, false, log)
			if err != nil {
				return err
			}
			defer o.Close()
			out := cmd.OutOrStdout()
			if dryRun {
				now := o.eng.Now()
				u := now
				if until != "" {
					if u, err = time.Parse(time.RFC3339, until); err != nil {
						return fmt.Errorf("%w: --until: want an RFC 3339 time such as 2027-01-01T00:00:00Z", errUsage)
					}
				}
				tenants, err := o.store.Tenants(ctx)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "TENANT\tCOLLECTION\tACTION\tDAY\tRECORDS")
				for _, t := range tenants {
					bs, err := o.eng.PlanSummary(ctx, t.ID, u)
					if err != nil {
						return err
					}
					for _, b := range bs {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", t.ID, b.Collection, b.Action, b.Day, b.Count)
					}
				}
				return tw.Flush()
			}
			res, err := o.eng.Sweep(ctx)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(httpapi.ToSweepJSON(res))
			}
			if res.Busy {
				fmt.Fprintln(out, "another Lethe instance is sweeping this database; nothing done (its lease runs out within 30s if it stopped)")
				return nil
			}
			fmt.Fprintf(out, "deleted %d, anonymized %d, re-planned %d in %d batches (%s)\n",
				res.Deleted, res.Anonymized, res.Replanned, res.Batches, res.Finished.Sub(res.Started).Round(time.Millisecond))
			for _, c := range res.Counts {
				fmt.Fprintf(out, "  %s/%s %s %d\n", c.Tenant, c.Collection, c.Action, c.Count)
			}
			return nil
		},
	}
	df.register(cmd, env)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "change nothing; list what is planned up to --until")
	cmd.Flags().StringVar(&until, "until", "", "with --dry-run: RFC 3339 horizon (default now)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}
