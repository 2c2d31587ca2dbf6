package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
)

func recordsCmd(env envFunc) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "records",
		Short: "Put, get, patch, delete and list the records of a collection",
		Long: `Work on a tenant's records as the API's
/v1/tenants/{tenant}/collections/{collection}/records does, without a
server: PII is sealed before it reaches the disk, every write is planned,
every read of decrypted personal data is recorded in the tenant's manager
log and every deletion in its security log, under the actor "cli:<user>".

Record input is JSON in the API's shape, from a file or "-" for standard
input. --field NAME=VALUE is there for quick changes, but the command line
is visible to every user of the machine (ps) and stays in the shell
history: do not put personal data there; the command warns when you do.`,
	}
	cmd.AddCommand(recordsPutCmd(env), recordsGetCmd(env), recordsPatchCmd(env), recordsDeleteCmd(env), recordsListCmd(env))
	return cmd
}

// recordFlags are the flags that name a collection of a tenant.
type recordFlags struct {
	df         dataFlags
	tenant     string
	collection string
	asJSON     bool
}

func (f *recordFlags) register(cmd *cobra.Command, env envFunc) {
	f.df.register(cmd, env)
	cmd.Flags().StringVar(&f.tenant, "tenant", "", "tenant id (required)")
	cmd.Flags().StringVarP(&f.collection, "collection", "c", "", "collection, e.g. orders (required)")
	cmd.Flags().BoolVar(&f.asJSON, "json", false, "print JSON, as the API answers")
	cmd.MarkFlagRequired("tenant")
	cmd.MarkFlagRequired("collection")
}

func (f *recordFlags) ref(id string) lethe.RecordRef {
	return lethe.RecordRef{Tenant: f.tenant, Collection: f.collection, ID: id}
}

// recordJSON is a record as the API shows it.
type recordJSON struct {
	ID         string         `json:"id"`
	Collection string         `json:"collection"`
	Origin     string         `json:"origin,omitempty"`
	CreatedAt  time.Time      `json:"created_at"`
	UpdatedAt  time.Time      `json:"updated_at"`
	State      lethe.State    `json:"state"`
	Fields     map[string]any `json:"fields"`
	Plan       *recordPlan    `json:"plan,omitempty"`
}

type recordPlan struct {
	Action lethe.Action `json:"action"`
	Rule   string       `json:"rule"`
	DueAt  time.Time    `json:"due_at"`
}

func toRecordJSON(d *engine.Doc) recordJSON {
	rj := recordJSON{ID: d.ID, Collection: d.Collection, Origin: d.Origin, CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC(), State: d.State, Fields: d.Fields}
	if rj.Fields == nil {
		rj.Fields = map[string]any{}
	}
	if d.Plan.Planned() {
		rj.Plan = &recordPlan{Action: d.Plan.Action, Rule: d.Plan.Rule, DueAt: d.Plan.DueAt.UTC()}
	}
	return rj
}

// planText says what happens to a record next.
func planText(p *recordPlan) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf("%s %s", p.Action, p.DueAt.Format(time.RFC3339))
}

// printRecord writes one record, PII included: the operator asked for it,
// and the read is audited.
func printRecord(w io.Writer, d *engine.Doc, asJSON bool) error {
	rj := toRecordJSON(d)
	if asJSON {
		return printJSON(w, rj)
	}
	origin := rj.Origin
	if origin == "" {
		origin = "-"
	}
	fmt.Fprintf(w, "%s/%s\nstate:   %s\norigin:  %s\ncreated: %s\nupdated: %s\nnext:    %s\n",
		rj.Collection, rj.ID, rj.State, origin, rj.CreatedAt.Format(time.RFC3339), rj.UpdatedAt.Format(time.RFC3339), planText(rj.Plan))
	names := make([]string, 0, len(rj.Fields))
	for k := range rj.Fields {
		names = append(names, k)
	}
	sort.Strings(names)
	tw := newTable(w)
	for _, k := range names {
		fmt.Fprintf(tw, "  %s\t%s\n", k, valueText(rj.Fields[k]))
	}
	return tw.Flush()
}

// valueText prints a string as it is and anything else as compact JSON.
func valueText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "?"
	}
	return string(b)
}

func recordsPutCmd(env envFunc) *cobra.Command {
	var (
		rf        recordFlags
		ff        fieldFlags
		id        string
		origin    string
		createdAt string
	)
	cmd := &cobra.Command{
		Use:   "put --tenant T -c COLLECTION (FILE | - | --field NAME=VALUE...)",
		Short: "Store new records (one, or a batch stored all or nothing)",
		Long: `Store a new record, or a batch of them all or nothing. FILE (or "-" for
standard input) holds the API's body: {"id", "origin", "created_at",
"fields": {...}}, or {"records": [...]} for a batch.

Without a file, --field NAME=VALUE sets a field to a string and
--field-json NAME=JSON to any JSON value (a number, an object, a list);
--id, --origin and --created-at set the rest. Values on the command line
are visible to other users (ps) and kept in the shell history: give
personal data in a file or on standard input.`,
		Example: `  lethe records put --tenant shop -c orders order.json
  jq -n '{id:"A-1",origin:"amazon",fields:{email:"erika@example.com"}}' | lethe records put --tenant shop -c orders -
  lethe records put --tenant shop -c orders --id A-2 --field-json positionen='[{"sku":"X1","menge":2}]'`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var in putInput
			switch {
			case len(args) == 1 && (ff.given() || id != "" || origin != "" || createdAt != ""):
				return fmt.Errorf("%w: give a FILE or --field/--id/--origin/--created-at, not both", errUsage)
			case len(args) == 1:
				if err := readInput(args[0], cmd.InOrStdin(), &in); err != nil {
					return err
				}
			case !ff.given():
				return fmt.Errorf("%w: give a FILE, - for standard input, or --field NAME=VALUE", errUsage)
			default:
				fields, err := ff.fields()
				if err != nil {
					return err
				}
				in.recordIn = recordIn{ID: id, Origin: origin, CreatedAt: createdAt, Fields: fields}
			}
			recs, batch, err := in.newRecords()
			if err != nil {
				return err
			}
			return withData(cmd, &rf.df, func(ctx context.Context, o *opened) error {
				if ff.given() {
					if c, err := o.eng.Collection(ctx, rf.tenant, rf.collection); err == nil {
						warnPII(cmd.ErrOrStderr(), c, recs[0].Fields)
					}
				}
				docs, err := o.eng.Put(ctx, rf.tenant, rf.collection, recs)
				if err != nil {
					return err
				}
				return printPut(cmd.OutOrStdout(), docs, batch, rf.asJSON)
			})
		},
	}
	rf.register(cmd, env)
	cmd.Flags().StringArrayVar(&ff.plain, "field", nil, "NAME=VALUE, a string field (repeatable; visible in ps: not for personal data)")
	cmd.Flags().StringArrayVar(&ff.typed, "field-json", nil, "NAME=JSON, a field of any JSON value (repeatable)")
	cmd.Flags().StringVar(&id, "id", "", "record id (default: a new UUIDv7)")
	cmd.Flags().StringVar(&origin, "origin", "", "data origin, e.g. amazon")
	cmd.Flags().StringVar(&createdAt, "created-at", "", "RFC 3339 creation time, to import history")
	return cmd
}

// printPut answers as the API's POST does: the record, or {"records"} for
// a batch; human output names the record and its next step, or counts the
// batch.
func printPut(w io.Writer, docs []*engine.Doc, batch, asJSON bool) error {
	if asJSON {
		if !batch {
			return printJSON(w, toRecordJSON(docs[0]))
		}
		out := make([]recordJSON, len(docs))
		for i, d := range docs {
			out[i] = toRecordJSON(d)
		}
		return printJSON(w, map[string]any{"records": out})
	}
	if batch {
		fmt.Fprintf(w, "stored %d records in %s, %s to %s\n", len(docs), docs[0].Collection, docs[0].ID, docs[len(docs)-1].ID)
		return nil
	}
	rj := toRecordJSON(docs[0])
	fmt.Fprintf(w, "stored %s/%s (next: %s)\n", rj.Collection, rj.ID, planText(rj.Plan))
	return nil
}

func recordsGetCmd(env envFunc) *cobra.Command {
	var rf recordFlags
	cmd := &cobra.Command{
		Use:   "get ID --tenant T -c COLLECTION",
		Short: "Print a record with its personal data (the read is audited)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withData(cmd, &rf.df, func(ctx context.Context, o *opened) error {
				d, err := o.eng.Get(ctx, rf.ref(args[0]))
				if err != nil {
					return err
				}
				return printRecord(cmd.OutOrStdout(), d, rf.asJSON)
			})
		},
	}
	rf.register(cmd, env)
	return cmd
}

func recordsPatchCmd(env envFunc) *cobra.Command {
	var (
		rf recordFlags
		ff fieldFlags
	)
	cmd := &cobra.Command{
		Use:   "patch ID --tenant T -c COLLECTION (FILE | - | --field NAME=VALUE...)",
		Short: "Merge fields into a record; a changed basis re-plans it",
		Long: `Merge fields into a record, as the API's PATCH does: FILE (or "-" for
standard input) holds {"fields": {...}}; a field set to null is removed.
Setting a basis such as shipped_at re-plans the record. Without a file,
--field NAME=VALUE sets a string and --field-json NAME=JSON any JSON value
(--field-json NAME=null removes the field).`,
		Example: "  lethe records patch A-1 --tenant shop -c orders --field shipped_at=2026-11-20T10:00:00Z",
		Args:    cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var body struct {
				Fields map[string]any `json:"fields"`
			}
			switch {
			case len(args) == 2 && ff.given():
				return fmt.Errorf("%w: give a FILE or --field, not both", errUsage)
			case len(args) == 2:
				if err := readInput(args[1], cmd.InOrStdin(), &body); err != nil {
					return err
				}
				if body.Fields == nil {
					return &lethe.FieldError{Field: "fields", Reason: "send {\"fields\": {...}} with the fields to change"}
				}
			case !ff.given():
				return fmt.Errorf("%w: give a FILE, - for standard input, or --field NAME=VALUE", errUsage)
			default:
				var err error
				if body.Fields, err = ff.fields(); err != nil {
					return err
				}
			}
			return withData(cmd, &rf.df, func(ctx context.Context, o *opened) error {
				if ff.given() {
					if c, err := o.eng.Collection(ctx, rf.tenant, rf.collection); err == nil {
						warnPII(cmd.ErrOrStderr(), c, body.Fields)
					}
				}
				d, err := o.eng.Patch(ctx, rf.ref(args[0]), body.Fields)
				if err != nil {
					return err
				}
				return printRecord(cmd.OutOrStdout(), d, rf.asJSON)
			})
		},
	}
	rf.register(cmd, env)
	cmd.Flags().StringArrayVar(&ff.plain, "field", nil, "NAME=VALUE, a string field (repeatable; visible in ps: not for personal data)")
	cmd.Flags().StringArrayVar(&ff.typed, "field-json", nil, "NAME=JSON, any JSON value; null removes the field (repeatable)")
	return cmd
}

func recordsDeleteCmd(env envFunc) *cobra.Command {
	var rf recordFlags
	cmd := &cobra.Command{
		Use:   "delete ID --tenant T -c COLLECTION",
		Short: "Erase a record now, unless a legal hold keeps it",
		Long: `Erase a record now. A record under legal hold (an invoice in its ten
years, say) is kept and the command says until when (exit code 3). The
erasure and its security-log entry commit together.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withData(cmd, &rf.df, func(ctx context.Context, o *opened) error {
				if err := o.eng.Delete(ctx, operator(), rf.ref(args[0])); err != nil {
					return err
				}
				if rf.asJSON {
					return printJSON(cmd.OutOrStdout(), map[string]any{"id": args[0], "collection": rf.collection, "deleted": true})
				}
				fmt.Fprintf(cmd.OutOrStdout(), "deleted %s/%s\n", rf.collection, args[0])
				return nil
			})
		},
	}
	rf.register(cmd, env)
	return cmd
}
