package httpapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
)

// Safe retries (Idempotency-Key). A POST sent with the header runs once:
// its answer is kept for engine.IdempotencyTTL (24 h), sealed with the
// tenant's data key (the system tenant's for POST /v1/tenants and POST
// /v1/sweeps, which have none), and a retry by the same principal with
// the same key, method, path and body gets it again, status, body and
// Location alike, marked by "Idempotent-Replayed: true". The same key
// with another request is refused (422 naming Idempotency-Key); a retry
// while the first request still runs gets 409.
//
// Only successful answers are kept. A request that failed changed
// nothing (the engine writes all or nothing), and many failures depend on
// the moment (a full disk, a collection switched off, an unknown tenant
// created since): its key is released and a retry runs anew.
//
// A kept answer outlives any erasure of the next 24 hours, so it holds
// no personal data: a record create sent with a key answers ids, states
// and plans (records.go), and the answers of a read (subjects/search) and
// of a new key (its secret) are never kept (notKept).
//
// The rule lives here once: withIdempotency wraps every POST of the
// routing table but notKept's, and the OpenAPI document gets the header
// on the same POSTs (addIdempotencyKey).

// idempotencyHeader is the request header (draft-ietf-httpapi-idempotency-key-header).
const idempotencyHeader = "Idempotency-Key"

// keptHeaders are the response headers a replay repeats.
var keptHeaders = []string{"Content-Type", "Location"}

// notKept are the POST routes whose answers are never kept, with the
// reason: a read repeats safely without a key (and a kept copy would
// outlive an erasure and skip the read's audit entry), and a new API
// key's secret is shown once and stored as a hash only. The header is
// ignored on a read and refused on key creation, so that a client that
// counts on it learns that a retry creates a second key.
var notKept = map[string]struct {
	refuse bool
	reason string
}{
	"POST /v1/tenants/{tenant}/subjects/search": {false, "a read: a retry repeats it"},
	"POST /v1/tenants/{tenant}/keys":            {true, "a new key's secret is shown once and never kept; list the tenant's keys to see whether a lost answer created one"},
	// A session token carries sealed personal data, which must not
	// outlive an erasure in a kept answer; minting keeps no state, so a
	// retry simply mints another. The chat's own calls repeat safely by
	// design (one opening per session; variables replaced).
	"POST /v1/tenants/{tenant}/sessions":           {false, "stateless: a retry mints another token"},
	"POST /v1/tenants/{tenant}/sessions/verify":    {false, "a read: a retry repeats it"},
	"POST /v1/tenants/{tenant}/sessions/open":      {false, "one opening per session: a retry changes nothing"},
	"POST /v1/tenants/{tenant}/sessions/variables": {false, "a retry stores the same variables again"},
}

// withIdempotency wraps the handler of every POST route but notKept's.
func withIdempotency(rs []route) []route {
	for i := range rs {
		if rs[i].method != http.MethodPost {
			continue
		}
		if nk, ok := notKept[rs[i].method+" "+rs[i].pattern]; ok {
			if nk.refuse {
				rs[i].handle = refuseIdempotencyKey(rs[i].handle, nk.reason)
			}
			continue
		}
		rs[i].handle = idempotent(rs[i].handle)
	}
	return rs
}

// refuseIdempotencyKey answers 422 to a request that sends the header.
func refuseIdempotencyKey(h handler, reason string) handler {
	return func(s *Server, w http.ResponseWriter, r *http.Request, p engine.Principal) error {
		if r.Header.Get(idempotencyHeader) != "" {
			return &lethe.FieldError{Field: idempotencyHeader, Reason: "not taken here: " + reason}
		}
		return h(s, w, r, p)
	}
}

type handler = func(s *Server, w http.ResponseWriter, r *http.Request, p engine.Principal) error

func idempotent(h handler) handler {
	return func(s *Server, w http.ResponseWriter, r *http.Request, p engine.Principal) error {
		values := r.Header.Values(idempotencyHeader)
		if len(values) == 0 {
			return h(s, w, r, p)
		}
		if len(values) > 1 {
			return &lethe.FieldError{Field: idempotencyHeader, Reason: "send the header once"}
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return err
			}
			return fmt.Errorf("%w: read body: %v", errMalformed, err)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		call, kept, err := s.eng.BeginIdempotent(r.Context(), engine.IdempotentRequest{
			Tenant: r.PathValue("tenant"), Principal: p.Name, Key: values[0],
			Method: r.Method, Path: r.URL.RequestURI(), Body: body,
		})
		if err != nil {
			return err
		}
		if kept != nil {
			for _, k := range keptHeaders {
				for _, v := range kept.Header[k] {
					w.Header().Add(k, v)
				}
			}
			w.Header().Set("Cache-Control", "no-store")
			w.Header().Set("Idempotent-Replayed", "true")
			w.WriteHeader(kept.Status)
			w.Write(kept.Body)
			return nil
		}
		rec := &recorder{header: http.Header{}, w: w}
		defer func() {
			// A panic answers 500 (see wrap): the key is given up first.
			if v := recover(); v != nil {
				call.Release(r.Context())
				panic(v)
			}
		}()
		err = h(s, rec, r, p)
		if err != nil || rec.status < 200 || rec.status > 299 {
			if rerr := call.Release(r.Context()); rerr != nil {
				s.log.Error("idempotency: release key", "path", r.URL.Path, "err", rerr)
			}
			if err != nil {
				return err
			}
			rec.sendTo(w)
			return nil
		}
		a := engine.Answer{Status: rec.status, Header: map[string][]string{}, Body: rec.body.Bytes()}
		for _, k := range keptHeaders {
			if vs := rec.header.Values(k); len(vs) > 0 {
				a.Header[k] = vs
			}
		}
		if err := call.Finish(r.Context(), a); err != nil {
			// The request ran: its answer goes out. The key stays in
			// progress until its lock runs out, so a retry meanwhile
			// gets 409 rather than running a second time.
			s.log.Error("idempotency: keep answer", "path", r.URL.Path, "err", err)
		}
		rec.sendTo(w)
		return nil
	}
}

// recorder holds a handler's answer until it is kept. Unwrap gives the
// real writer to http.ResponseController, so that a long handler (a sweep
// on demand) can still lift its write deadline.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
	w      http.ResponseWriter
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.w }

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

// sendTo writes the held answer to w.
func (r *recorder) sendTo(w http.ResponseWriter) {
	for k, vs := range r.header {
		w.Header()[k] = vs
	}
	if r.status == 0 {
		r.status = http.StatusOK
	}
	w.WriteHeader(r.status)
	w.Write(r.body.Bytes())
}

// addIdempotencyKey documents the header on every POST of the OpenAPI
// document, with the answers it adds (409 while the first request runs,
// 422 for a key reused with another request).
func addIdempotencyKey(doc map[string]any) {
	comps := doc["components"].(map[string]any)
	params, _ := comps["parameters"].(map[string]any)
	if params == nil {
		params = map[string]any{}
		comps["parameters"] = params
	}
	params["IdempotencyKey"] = map[string]any{
		"name": idempotencyHeader, "in": "header", "required": false,
		"description": "Makes a retry safe: the same principal sending the same request (method, path, body) with the same key within 24 hours gets the first successful answer again (status, body and Location, with `Idempotent-Replayed: true`) instead of running it twice. The same key with another request answers 422; a retry while the first request runs answers 409. Failed requests are not kept: their retry runs anew. 1 to 255 visible ASCII characters; a UUID is a good key.",
		"schema":      map[string]any{"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
	}
	for path, item := range doc["paths"].(map[string]any) {
		op, _ := item.(map[string]any)["post"].(map[string]any)
		if op == nil {
			continue
		}
		if _, ok := notKept["POST "+path]; ok {
			continue
		}
		ps, _ := op["parameters"].([]any)
		op["parameters"] = append(ps, map[string]any{"$ref": "#/components/parameters/IdempotencyKey"})
		res := op["responses"].(map[string]any)
		for _, code := range []string{"409", "422"} {
			if res[code] == nil {
				res[code] = map[string]any{"$ref": "#/components/responses/Problem"}
			}
		}
	}
}
