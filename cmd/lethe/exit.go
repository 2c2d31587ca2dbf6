package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/keyring"
)

// Exit codes. A script tells from the code alone whether to fix its
// command line (2), its input (3), look elsewhere (4), retry later (5) or
// restore the master key (6); 1 is everything else, a failure while
// running. The master key has a code of its own: it is neither bad usage
// nor bad input, and unlike "unavailable" retrying does not help.
const (
	exitFailure     = 1
	exitUsage       = 2
	exitInvalid     = 3
	exitNotFound    = 4
	exitUnavailable = 5
	exitMasterKey   = 6
)

// exitCodesHelp is the exit-code table of the root command's --help.
const exitCodesHelp = `Exit codes:
  0  success
  1  failure while running (a failed request job, a broken audit chain, ...)
  2  usage: unknown command or flag, missing argument, bad flag value
  3  invalid input, or input the data refuses (already exists, legal hold,
     collection switched off); field errors print as "field: reason"
  4  not found: tenant, collection, record, key, request, or no Lethe data
     in the folder or database named
  5  unavailable: the database cannot serve now, or the disk is full;
     nothing was written, try again later
  6  master key: the key file is missing or is not the key the data was
     created with; nothing was changed`

var (
	// errUsage marks a command line that cannot run as given.
	errUsage = errors.New("usage")
	// errKey marks a master key that is missing or unreadable.
	errKey = errors.New("master key")
)

// exitCode is the one place errors become exit codes.
func exitCode(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, keyring.ErrWrongMasterKey), errors.Is(err, errKey):
		return exitMasterKey
	case errors.Is(err, errUsage):
		return exitUsage
	case errors.Is(err, lethe.ErrInvalid), errors.Is(err, lethe.ErrConflict),
		errors.Is(err, lethe.ErrHeld), errors.Is(err, lethe.ErrDisabled):
		return exitInvalid
	case errors.Is(err, lethe.ErrNotFound):
		return exitNotFound
	case errors.Is(err, lethe.ErrUnavailable), errors.Is(err, lethe.ErrStorageFull):
		return exitUnavailable
	}
	return exitFailure
}

// message is err as the one line main prints: the lines of a joined error
// (several field errors, say) become one, separated by "; ".
func message(err error) string {
	var parts []string
	for _, l := range strings.Split(err.Error(), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, "; ")
}

// usageError is a command line cobra refused before the command ran
// (unknown flag or command, missing argument or required flag).
type usageError struct {
	err  error
	path string // the command, for the --help hint
}

func (e *usageError) Error() string {
	msg := e.err.Error()
	// cobra suggests on lines of their own: "\n\nDid you mean this?\n\tsweep\n".
	if i := strings.Index(msg, "\n\nDid you mean this?\n"); i >= 0 {
		msg = fmt.Sprintf("%s; did you mean %s?", msg[:i], strings.Join(strings.Fields(msg[i+len("\n\nDid you mean this?\n"):]), " or "))
	}
	return fmt.Sprintf("%s (see \"%s --help\")", msg, e.path)
}

func (e *usageError) Unwrap() []error { return []error{e.err, errUsage} }

// markUsage wraps the RunE of cmd and its subcommands so that run can
// tell an error of the command's own work from one cobra returned before
// the command began: the latter is a usage error, whatever its text.
func markUsage(cmd *cobra.Command, began *bool) {
	if run := cmd.RunE; run != nil {
		cmd.RunE = func(c *cobra.Command, args []string) error {
			*began = true
			return run(c, args)
		}
	}
	for _, sub := range cmd.Commands() {
		markUsage(sub, began)
	}
}

// kindError is a message that matches a sentinel error (errors.Is) without
// beginning with the sentinel's own text ("not found: ...").
type kindError struct {
	msg  string
	kind error
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

// withKind formats a message that errors.Is matches against kind.
func withKind(kind error, format string, a ...any) error {
	return &kindError{msg: fmt.Sprintf(format, a...), kind: kind}
}
