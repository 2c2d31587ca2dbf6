package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/lethe-privacy/lethe"
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
what would be deleted or anonymized up to --until (default now): an RFC 3339
time, or a duration from now such as 60d, as the API's ?until= takes.
With --json, either form prints JSON.`,
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
				u, err := parseUntil(until, o.eng.Now())
				if err != nil {
					return err
				}
				return printPlan(ctx, out, o, u, asJSON)
			}
			if until != "" {
				return fmt.Errorf("%w: --until goes with --dry-run", errUsage)
			}
			res, err := o.eng.Sweep(ctx)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(out, httpapi.ToSweepJSON(res))
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
	cmd.Flags().StringVar(&until, "until", "", "with --dry-run: horizon, RFC 3339 or a duration from now such as 60d (default now)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

// planJSON is the dry run of every tenant, each as the API's
// GET /v1/tenants/{tenant}/plan answers it.
type planJSON struct {
	Until   time.Time        `json:"until"`
	Total   int64            `json:"total"`
	Tenants []tenantPlanJSON `json:"tenants"`
}

type tenantPlanJSON struct {
	Tenant  string       `json:"tenant"`
	Total   int64        `json:"total"`
	Buckets []bucketJSON `json:"buckets"`
}

type bucketJSON struct {
	Collection string       `json:"collection"`
	Action     lethe.Action `json:"action"`
	Day        string       `json:"day"`
	Count      int64        `json:"count"`
}

// printPlan lists, per tenant, collection and day, what the sweeper
// would do up to until.
func printPlan(ctx context.Context, out io.Writer, o *opened, until time.Time, asJSON bool) error {
	tenants, err := listTenants(ctx, o)
	if err != nil {
		return err
	}
	p := planJSON{Until: until, Tenants: []tenantPlanJSON{}}
	for _, t := range tenants {
		bs, err := o.eng.PlanSummary(ctx, t.ID, until)
		if err != nil {
			return err
		}
		tp := tenantPlanJSON{Tenant: t.ID, Buckets: make([]bucketJSON, len(bs))}
		for i, b := range bs {
			tp.Buckets[i] = bucketJSON(b)
			tp.Total += b.Count
		}
		p.Total += tp.Total
		p.Tenants = append(p.Tenants, tp)
	}
	if asJSON {
		return printJSON(out, p)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tCOLLECTION\tACTION\tDAY\tRECORDS")
	for _, t := range p.Tenants {
		for _, b := range t.Buckets {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", t.Tenant, b.Collection, b.Action, b.Day, b.Count)
		}
	}
	return tw.Flush()
}
