package policy

import (
	"cmp"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/lethe-privacy/lethe"
)

// Error is one problem in a policy, located in its file. A policy author
// fixes files by line, so every problem the loader finds carries the line
// and column of the offending key or value; a policy checked in code
// (Validate) has no file position and reports Line 0.
type Error struct {
	File   string
	Line   int // 1-based; 0 when unknown
	Column int // 1-based; 0 when unknown
	Msg    string
}

func (e *Error) Error() string {
	switch {
	case e.Line > 0 && e.Column > 0:
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

// Is makes every policy Error match lethe.ErrInvalid, so that callers (the
// CLI's exit code, the API's status) need not know this type.
func (e *Error) Is(target error) bool { return target == lethe.ErrInvalid }

// joinSorted joins the errors in file order, so that a long report reads
// top to bottom like the file it describes.
func joinSorted(errs []error) error {
	slices.SortStableFunc(errs, func(a, b error) int {
		var ea, eb *Error
		if !errors.As(a, &ea) || !errors.As(b, &eb) {
			return 0
		}
		return cmp.Or(cmp.Compare(ea.Line, eb.Line), cmp.Compare(ea.Column, eb.Column))
	})
	return errors.Join(errs...)
}

// yamlLine matches the position yaml.v3 puts into its syntax errors; it
// gives a line but no column.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError turns a yaml.v3 syntax error into an Error. yaml.v3 reports
// lines only, so the column is left unknown.
func syntaxError(file string, err error) error {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: file, Line: line, Msg: "syntax error: " + m[2]}
	}
	return &Error{File: file, Msg: "syntax error: " + strings.TrimPrefix(msg, "yaml: ")}
}
