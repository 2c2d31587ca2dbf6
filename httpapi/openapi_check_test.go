package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

// This file holds the test suite's OpenAPI response checker: every test
// server of the package is wrapped in CheckResponses, so that every
// response the suite receives is held to the published document, strictly
// (undocumented status codes, content types, fields and missing required
// fields all fail the test). A test that needs a new answer documents it.

// CheckResponses wraps an API handler so that each response it gives is
// validated against the document served at /v1/openapi.json; a mismatch
// fails t, naming the request, its route, the status and where in the body
// (a JSON pointer) the answer departs from the document. Responses pass
// through unchanged, streamed as the handler writes them.
func CheckResponses(t testing.TB, h http.Handler) http.Handler {
	c, err := loadChecker()
	if err != nil {
		t.Fatalf("OpenAPI checker: %v", err)
	}
	// Each distinct mismatch is reported once: a test that writes a
	// thousand records of one wrong shape reads one line about it.
	var mu sync.Mutex
	seen := map[string]bool{}
	return c.wrap(h, func(err error) {
		mu.Lock()
		defer mu.Unlock()
		key := err.Error()
		var ce *checkError
		if errors.As(err, &ce) {
			key = ce.key()
		}
		if !seen[key] {
			seen[key] = true
			t.Errorf("OpenAPI: %v", err)
		}
	})
}

// responseChecker holds the loaded document and a router that finds the
// route of a request the way the server does.
type responseChecker struct {
	doc     *openapi3.T
	problem *openapi3.Schema
	mux     *http.ServeMux
}

var (
	checkerOnce sync.Once
	checker     *responseChecker
	checkerErr  error
)

// loadChecker loads and validates the document once per test binary.
func loadChecker() (*responseChecker, error) {
	checkerOnce.Do(func() { checker, checkerErr = newChecker() })
	return checker, checkerErr
}

func newChecker() (*responseChecker, error) {
	raw, err := openAPIDocument()
	if err != nil {
		return nil, err
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(raw)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("the document is not valid OpenAPI: %w", err)
	}
	ps := doc.Components.Schemas["Problem"]
	if ps == nil || ps.Value == nil {
		return nil, errors.New("components.schemas.Problem is missing")
	}
	openapi3filter.RegisterBodyDecoder("application/zip", openapi3filter.FileBodyDecoder)
	c := &responseChecker{doc: doc, problem: ps.Value, mux: http.NewServeMux()}
	for _, rt := range routes() {
		c.mux.HandleFunc(rt.method+" "+rt.pattern, func(w http.ResponseWriter, r *http.Request) {
			m := r.Context().Value(matchKey{}).(*match)
			m.pattern = rt.pattern
			m.params = map[string]string{}
			for _, name := range wildcards(rt.pattern) {
				m.params[name] = r.PathValue(name)
			}
		})
	}
	return c, nil
}

type matchKey struct{}

// match is what the router found for a request.
type match struct {
	pattern string
	params  map[string]string
}

var wildcard = regexp.MustCompile(`\{([A-Za-z_]+)(?:\.\.\.)?\}`)

func wildcards(pattern string) []string {
	var out []string
	for _, m := range wildcard.FindAllStringSubmatch(pattern, -1) {
		out = append(out, m[1])
	}
	return out
}

// wrap returns h with every response checked; report receives each
// mismatch.
func (c *responseChecker) wrap(h http.Handler, report func(error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tw := &teeWriter{ResponseWriter: w}
		h.ServeHTTP(tw, r)
		if tw.status == 0 {
			tw.status = http.StatusOK
			tw.header = w.Header().Clone()
		}
		if r.Context().Err() != nil {
			return // the client left: nobody reads the answer
		}
		if err := c.check(r, tw.status, tw.header, tw.body.Bytes()); err != nil {
			report(err)
		}
	})
}

// check validates one response to r.
func (c *responseChecker) check(r *http.Request, status int, header http.Header, body []byte) error {
	where := r.Method + " " + r.URL.Path
	if r.URL.Path == "/metrics" && status == http.StatusOK {
		return nil // Prometheus text, not part of the API document
	}
	m := &match{}
	c.mux.ServeHTTP(discard{}, r.Clone(context.WithValue(r.Context(), matchKey{}, m)))
	if m.pattern != "" {
		where += " (route " + r.Method + " " + m.pattern + ")"
	}
	fail := func(format string, args ...any) error {
		return &checkError{request: where, route: m.pattern, status: status, reason: fmt.Sprintf(format, args...), body: body}
	}
	ct := header.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	if len(body) > 0 && ct == "" {
		return fail("a body without a Content-Type")
	}
	if status >= 400 {
		if mt != "application/problem+json" {
			return fail("an error answered as %q, want application/problem+json", ct)
		}
		if err := c.checkProblem(status, body); err != nil {
			return fail("%v", err)
		}
	}
	if m.pattern == "" {
		// No route: the catch-all 404, a 405, and nothing else; /metrics
		// (outside the document) refuses a missing or wrong metrics token
		// with a 401 as well.
		metricsRefused := r.URL.Path == "/metrics" && (status == http.StatusUnauthorized || status == http.StatusTooManyRequests)
		if status != http.StatusNotFound && status != http.StatusMethodNotAllowed && !metricsRefused {
			return fail("a path outside the route table answered other than 404 or 405")
		}
		return nil
	}
	pathItem := c.doc.Paths.Value(m.pattern)
	if pathItem == nil || pathItem.GetOperation(r.Method) == nil {
		if r.Method == http.MethodHead && pathItem != nil && pathItem.Get != nil {
			return nil
		}
		return fail("the route is not in the document")
	}
	op := pathItem.GetOperation(r.Method)
	if ref := op.Responses.Status(status); ref != nil && ref.Value != nil && len(ref.Value.Content) == 0 && len(body) > 0 {
		return fail("a body where the document has none")
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request:    r,
			PathParams: m.params,
			Route:      &routers.Route{Spec: c.doc, Path: m.pattern, PathItem: pathItem, Method: r.Method, Operation: op},
		},
		Status:  status,
		Header:  header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(r.Context(), in); err != nil {
		return fail("%s", explain(err))
	}
	return nil
}

// checkError is one response that departs from the document.
type checkError struct {
	request, route string
	status         int
	reason         string
	body           []byte
}

func (e *checkError) Error() string {
	return fmt.Sprintf("%s: status %d: %s\n  body: %.300s", e.request, e.status, e.reason, e.body)
}

// key identifies the mismatch apart from the request's path values.
func (e *checkError) key() string { return fmt.Sprintf("%s %d %s", e.route, e.status, e.reason) }

// checkProblem holds an error body to the Problem schema and to its own
// status, whatever the route.
func (c *responseChecker) checkProblem(status int, body []byte) error {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("problem body is not JSON: %v", err)
	}
	if err := c.problem.VisitJSON(v, openapi3.EnableJSONSchema2020(), openapi3.MultiErrors(), openapi3.VisitAsResponse()); err != nil {
		return fmt.Errorf("problem body does not match components.schemas.Problem: %s", explain(err))
	}
	if p, _ := v.(map[string]any); p["status"] != float64(status) {
		return fmt.Errorf("problem status %v differs from the HTTP status", p["status"])
	}
	return nil
}

// explain writes a validation error with the JSON pointer of each
// mismatch in front, one per line.
func explain(err error) string {
	var lines []string
	var walk func(error)
	walk = func(err error) {
		var me openapi3.MultiError
		var se *openapi3.SchemaError
		switch {
		case errors.As(err, &me):
			for _, e := range me {
				walk(e)
			}
		case errors.As(err, &se):
			if strings.HasPrefix(se.Reason, "at '") {
				lines = append(lines, se.Reason) // the JSON Schema 2020-12 validator names the place itself
				break
			}
			lines = append(lines, fmt.Sprintf("at '/%s': %s", strings.Join(se.JSONPointer(), "/"), se.Reason))
		default:
			lines = append(lines, err.Error())
		}
	}
	var re *openapi3filter.ResponseError
	if errors.As(err, &re) {
		if re.Err == nil {
			return re.Reason
		}
		lines = append(lines, re.Reason)
		walk(re.Err)
		return strings.Join(lines, "\n  ")
	}
	walk(err)
	return strings.Join(lines, "\n  ")
}

// teeWriter passes a response through and keeps a copy of it.
type teeWriter struct {
	http.ResponseWriter
	status int
	header http.Header
	body   bytes.Buffer
}

func (w *teeWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
		w.header = w.ResponseWriter.Header().Clone()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *teeWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	w.body.Write(b)
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *teeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}

var _ io.Writer = discard{}
