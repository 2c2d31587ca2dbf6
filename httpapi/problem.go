package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/session"
)

// Problem is an RFC 9457 problem details object.
type Problem struct {
	Type     string         `json:"type"`
	Title    string         `json:"title"`
	Status   int            `json:"status"`
	Detail   string         `json:"detail,omitempty"`
	Instance string         `json:"instance,omitempty"`
	Errors   []ProblemField `json:"errors,omitempty"`
	// retryAfter is the Retry-After header of a 429, in seconds.
	retryAfter string
}

// ProblemField names one invalid input field.
type ProblemField struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// problemFor maps an error to its problem: the one place where domain
// errors become status codes. Unexpected errors are logged (they never
// carry PII: the engine wraps ids and names, not values) and answered
// without their text.
func problemFor(err error, log *slog.Logger, r *http.Request) Problem {
	p := Problem{Instance: r.URL.Path}
	var fe *lethe.FieldError
	var mbe *http.MaxBytesError
	var ce *lethe.ConflictError
	var me *methodError
	var le *limitError
	switch {
	case errors.As(err, &le):
		p.Status, p.Type, p.Title = http.StatusTooManyRequests, "urn:lethe:problem:rate-limited", "Too many requests"
		p.retryAfter = le.retryAfter()
		p.Detail = le.what + "; retry after " + p.retryAfter + " s"
	case errors.As(err, &me):
		p.Status, p.Type, p.Title = http.StatusMethodNotAllowed, "urn:lethe:problem:method-not-allowed", "Method not allowed"
		p.Detail = fmt.Sprintf("%s is not served on %s; use %s (see /v1/openapi.json)", me.method, r.URL.Path, strings.Join(me.allow, ", "))
	case errors.Is(err, errNoRoute):
		p.Status, p.Type, p.Title = http.StatusNotFound, "urn:lethe:problem:not-found", "Not found"
		p.Detail = fmt.Sprintf("no route %s %s; see /v1/openapi.json", r.Method, r.URL.Path)
	case errors.As(err, &mbe):
		p.Status, p.Type, p.Title = http.StatusRequestEntityTooLarge, "urn:lethe:problem:too-large", "Request body too large"
		p.Detail = fmt.Sprintf("the body is larger than this server's limit of %s; split it "+
			"(a batch into smaller batches), or raise the limit with lethe serve --max-body BYTES", byteSize(mbe.Limit))
	case errors.As(err, &fe):
		p.Status, p.Type, p.Title = http.StatusUnprocessableEntity, "urn:lethe:problem:invalid", "Invalid input"
		p.Errors = fieldErrors(err)
		p.Detail = fieldDetail(fe, len(p.Errors))
	case errors.Is(err, errMalformed):
		p.Status, p.Type, p.Title = http.StatusBadRequest, "urn:lethe:problem:malformed", "Malformed request"
		p.Detail = err.Error()
	case errors.Is(err, lethe.ErrInvalid):
		p.Status, p.Type, p.Title = http.StatusUnprocessableEntity, "urn:lethe:problem:invalid", "Invalid input"
		p.Detail = err.Error()
		p.Errors = fieldErrors(err)
	case errors.Is(err, session.ErrRefused):
		// A chat's session token: say why (expired, bad signature, another
		// tenant's), which tells a forger nothing a JWT decoder does not.
		p.Status, p.Type, p.Title = http.StatusUnauthorized, "urn:lethe:problem:session-refused", "Session token refused"
		p.Detail = err.Error()
	case errors.Is(err, lethe.ErrUnauthorized):
		p.Status, p.Type, p.Title = http.StatusUnauthorized, "urn:lethe:problem:unauthorized", "Unauthorized"
		p.Detail = "a valid bearer token is required"
	case errors.Is(err, lethe.ErrForbidden):
		p.Status, p.Type, p.Title = http.StatusForbidden, "urn:lethe:problem:forbidden", "Forbidden"
		p.Detail = err.Error()
	case errors.Is(err, lethe.ErrNotFound):
		p.Status, p.Type, p.Title = http.StatusNotFound, "urn:lethe:problem:not-found", "Not found"
		p.Detail = err.Error()
	case errors.Is(err, lethe.ErrDisabled):
		p.Status, p.Type, p.Title = http.StatusConflict, "urn:lethe:problem:collection-disabled", "Collection disabled"
		p.Detail = err.Error()
	case errors.Is(err, lethe.ErrHeld):
		p.Status, p.Type, p.Title = http.StatusConflict, "urn:lethe:problem:legal-hold", "Under legal hold"
		p.Detail = err.Error()
	case errors.As(err, &ce):
		p.Status, p.Type, p.Title = http.StatusConflict, "urn:lethe:problem:conflict", "Conflict"
		p.Detail = ce.What
	case errors.Is(err, lethe.ErrConflict):
		// A conflict nobody named: its text may be a driver's.
		log.Warn("unnamed conflict", "method", r.Method, "path", r.URL.Path, "err", err)
		p.Status, p.Type, p.Title = http.StatusConflict, "urn:lethe:problem:conflict", "Conflict"
		p.Detail = "the data changed meanwhile; read it again and retry"
	case errors.Is(err, lethe.ErrStorageFull):
		p.Status, p.Type, p.Title = http.StatusInsufficientStorage, "urn:lethe:problem:storage-full", "Storage full"
		p.Detail = "the disk is full; nothing was written"
	case errors.Is(err, lethe.ErrUnavailable):
		p.Status, p.Type, p.Title = http.StatusServiceUnavailable, "urn:lethe:problem:unavailable", "Unavailable"
		p.Detail = "try again shortly"
	case errors.Is(err, lethe.ErrLeaseLost):
		p.Status, p.Type, p.Title = http.StatusServiceUnavailable, "urn:lethe:problem:unavailable", "Unavailable"
		p.Detail = "another instance took the work over; try again shortly"
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away: nobody reads this answer, and it is not
		// a server fault (499, the convention for "client closed").
		p.Status, p.Type, p.Title = statusClientClosed, "urn:lethe:problem:client-closed", "Client closed the request"
	case errors.Is(err, context.DeadlineExceeded):
		p.Status, p.Type, p.Title = http.StatusServiceUnavailable, "urn:lethe:problem:unavailable", "Unavailable"
		p.Detail = "the request took too long; try again shortly"
	case errors.Is(err, lethe.ErrCrypto):
		log.Error("stored data failed to decrypt", "path", r.URL.Path, "err", err)
		p.Status, p.Type, p.Title = http.StatusInternalServerError, "urn:lethe:problem:integrity", "Stored data failed to decrypt"
	default:
		log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		p.Status, p.Type, p.Title = http.StatusInternalServerError, "urn:lethe:problem:internal", "Internal error"
	}
	return p
}

// byteSize writes a body limit as an operator sets it and a person reads
// it: "1048576 bytes (1 MiB)".
func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d bytes (%d MiB)", n, n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d bytes (%d KiB)", n, n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// statusClientClosed answers a request whose client disconnected first.
const statusClientClosed = 499

// fieldDetail sums invalid fields up: the first in full, and how many more
// the problem's errors list (the engine reports them all at once, in path
// order).
func fieldDetail(first *lethe.FieldError, n int) string {
	if n <= 1 {
		return first.Error()
	}
	return fmt.Sprintf("%s (and %d more invalid fields, listed in errors)", first.Error(), n-1)
}

// fieldErrors collects every FieldError joined into err, in its order.
func fieldErrors(err error) []ProblemField {
	var out []ProblemField
	var walk func(error)
	walk = func(err error) {
		if err == nil {
			return
		}
		if fe, ok := err.(*lethe.FieldError); ok {
			out = append(out, ProblemField{Field: fe.Field, Reason: fe.Reason})
			return
		}
		switch x := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range x.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			walk(x.Unwrap())
		}
	}
	walk(err)
	return out
}

func writeProblem(w http.ResponseWriter, p Problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	if p.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="lethe"`)
	}
	if p.retryAfter != "" {
		w.Header().Set("Retry-After", p.retryAfter)
	}
	w.WriteHeader(p.Status)
	json.NewEncoder(w).Encode(p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
