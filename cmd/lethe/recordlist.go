package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
)

const (
	defaultListLimit = 100
	maxListLimit     = 1000
)

// recordQuery is one page of a collection's listing.
type recordQuery struct {
	Tenant, Collection string
	Origin             string      // "" for every origin
	State              lethe.State // "" for every state
	Cursor             string      // "" for the first page
	Limit              int
}

// listRecords returns a page of records, PII decrypted, and the cursor of
// the next page ("" after the last): the engine's listing, the API's too,
// which audits the page's reads as one entry.
func listRecords(ctx context.Context, o *opened, q recordQuery) ([]*engine.Doc, string, error) {
	page, err := o.eng.ListRecords(ctx, q.Tenant, q.Collection, engine.RecordFilter{Origin: q.Origin, State: q.State, Limit: q.Limit, Next: q.Cursor})
	if err != nil {
		return nil, "", err
	}
	return page.Items, page.Next, nil
}

func recordsListCmd(env envFunc) *cobra.Command {
	var (
		rf    recordFlags
		q     recordQuery
		state string
		all   bool
	)
	cmd := &cobra.Command{
		Use:   "list --tenant T -c COLLECTION [--origin O] [--state S] [--limit N] [--cursor C | --all]",
		Short: "List a collection's records page by page (each read is audited)",
		Long: `List a collection's records in id order, a page of --limit at a time, with
their personal data (every record read is recorded in the manager log).
The table shows each record's state and next step; --json prints
{"records": [...], "next": "..."} with the fields, as the API lists them.
When more follow, the next page's --cursor is printed (on standard error
in the table form); --all pages through to the end.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if q.Limit < 1 || q.Limit > maxListLimit {
				return fmt.Errorf("%w: --limit: want 1 to %d", errUsage, maxListLimit)
			}
			switch lethe.State(state) {
			case "", lethe.StateActive, lethe.StateAnonymized:
				q.State = lethe.State(state)
			default:
				return fmt.Errorf("%w: --state %q: want %s or %s", errUsage, state, lethe.StateActive, lethe.StateAnonymized)
			}
			if all && q.Cursor != "" {
				return fmt.Errorf("%w: give --cursor or --all, not both", errUsage)
			}
			q.Tenant, q.Collection = rf.tenant, rf.collection
			return withData(cmd, &rf.df, func(ctx context.Context, o *opened) error {
				var docs []*engine.Doc
				for {
					page, next, err := listRecords(ctx, o, q)
					if err != nil {
						return err
					}
					docs = append(docs, page...)
					q.Cursor = next
					if !all || next == "" {
						break
					}
				}
				return printList(cmd, docs, q.Cursor, rf.asJSON)
			})
		},
	}
	rf.register(cmd, env)
	cmd.Flags().StringVar(&q.Origin, "origin", "", "only records of this origin, e.g. amazon")
	cmd.Flags().StringVar(&state, "state", "", "only records in this state: active or anonymized")
	cmd.Flags().IntVar(&q.Limit, "limit", defaultListLimit, fmt.Sprintf("records per page (at most %d)", maxListLimit))
	cmd.Flags().StringVar(&q.Cursor, "cursor", "", "the next page, as the previous page printed it")
	cmd.Flags().BoolVar(&all, "all", false, "page through every record")
	return cmd
}

func printList(cmd *cobra.Command, docs []*engine.Doc, next string, asJSON bool) error {
	out := make([]recordJSON, len(docs))
	for i, d := range docs {
		out[i] = toRecordJSON(d)
	}
	if asJSON {
		v := struct {
			Records []recordJSON `json:"records"`
			Next    string       `json:"next,omitempty"`
		}{out, next}
		return printJSON(cmd.OutOrStdout(), v)
	}
	tw := newTable(cmd.OutOrStdout())
	fmt.Fprintln(tw, "ID\tORIGIN\tSTATE\tCREATED\tNEXT")
	for _, r := range out {
		origin := r.Origin
		if origin == "" {
			origin = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.ID, origin, r.State, r.CreatedAt.Format(time.RFC3339), planText(r.Plan))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if next != "" {
		fmt.Fprintf(cmd.ErrOrStderr(), "more records follow: --cursor %s\n", next)
	}
	return nil
}
