package main

import (
	"context"
	"encoding/json"
	"io"
	"os/user"
	"text/tabwriter"

	"github.com/lethe-privacy/lethe/engine"
)

// printJSON writes v as indented JSON, the form every --json output takes.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// newTable is the column layout of every human listing.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
}

// operator names the person at the command line in audit entries, as the
// API names a key ("key:<prefix>") or the admin: "cli:<os user>". The CLI
// reads the data without a server, so the audit trail is all that tells
// its actions from the API's.
func operator() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "cli:" + u.Username
	}
	return "cli"
}

// asOperator returns ctx carrying the operator as the caller, so that the
// engine's read entries (manager log) name them as they name an API key.
func asOperator(ctx context.Context) context.Context {
	return engine.WithCaller(ctx, engine.Caller{Actor: operator()})
}
