package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lethe-privacy/lethe/httpapi"
)

// httpTarget is the HTTP API served on a loopback port, and a client
// that keeps its connections alive between requests.
type httpTarget struct {
	base   string
	token  string
	client *http.Client
	srv    *http.Server
	done   chan error
}

// startHTTP serves the API on 127.0.0.1 with a fresh API key of
// ChatTenant, as "lethe serve" would.
func startHTTP(ctx context.Context, env *Env) (*httpTarget, error) {
	token, err := env.Engine.CreateAPIKey(ctx, "bench", ChatTenant, nil)
	if err != nil {
		return nil, fmt.Errorf("bench: api key: %w", err)
	}
	return serveHTTP(env, token)
}

// serveHTTP serves env's engine on a loopback port for clients that
// present token (an API key stored in env's database).
func serveHTTP(env *Env, token string) (*httpTarget, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("bench: listen: %w", err)
	}
	srv := &http.Server{
		// No Limits: the benchmark measures the API, and its 50 clients
		// on one key and one address go faster than lethe serve's
		// default rate limits (httpapi.DefaultLimits) let through.
		Handler:           httpapi.New(httpapi.Config{Engine: env.Engine, Limits: httpapi.Limits{}}),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	t := &httpTarget{
		base:  "http://" + ln.Addr().String(),
		token: token,
		client: &http.Client{
			Timeout: 30 * time.Second,
			Transport: &http.Transport{
				// Enough idle connections that every client keeps its own.
				MaxIdleConns:        256,
				MaxIdleConnsPerHost: 256,
				IdleConnTimeout:     time.Minute,
			},
		},
		srv:  srv,
		done: make(chan error, 1),
	}
	go func() { t.done <- srv.Serve(ln) }()
	return t, nil
}

// close shuts the server down.
func (t *httpTarget) close() error {
	t.client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := t.srv.Shutdown(ctx)
	if serr := <-t.done; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}

// do sends one request and reads the whole answer, so that the
// connection goes back to the pool for reuse.
func (t *httpTarget) do(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, t.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+t.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// createLoad is the outcome of one concurrency level.
type createLoad struct {
	ok, errors int64
	took       time.Duration
}

// httpEntryBase numbers the entries created over HTTP apart from the
// ingested ones, so that lookups find exactly one record per e-mail.
const httpEntryBase = 50_000_000

// createOverHTTP runs clients concurrent clients for d, each creating one
// prize draw entry per request, and counts what was stored.
func (t *httpTarget) createOverHTTP(ctx context.Context, clients int, d time.Duration, next *atomic.Int64) createLoad {
	return createOverHTTP(ctx, []*httpTarget{t}, clients, d, next)
}

// createOverHTTP is httpTarget.createOverHTTP with the clients spread
// evenly over several servers (client i sends to targets[i%len(targets)]).
func createOverHTTP(ctx context.Context, targets []*httpTarget, clients int, d time.Duration, next *atomic.Int64) createLoad {
	path := "/v1/tenants/" + ChatTenant + "/collections/" + EntryCollection + "/records"
	var ok, failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for c := range clients {
		t := targets[c%len(targets)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) && ctx.Err() == nil {
				i := int(next.Add(1)) + httpEntryBase
				body, _ := json.Marshal(map[string]any{"fields": PrizeEntry(i)})
				status, _, err := t.do(ctx, http.MethodPost, path, body)
				if err != nil || status != http.StatusCreated {
					failed.Add(1)
					continue
				}
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	return createLoad{ok: ok.Load(), errors: failed.Load(), took: time.Since(start)}
}

// findSubject looks an e-mail up through GET /subjects and returns how
// many records it found.
func (t *httpTarget) findSubject(ctx context.Context, email string) (int, error) {
	status, body, err := t.do(ctx, http.MethodGet, "/v1/tenants/"+ChatTenant+"/subjects?email="+url.QueryEscape(email), nil)
	if err != nil {
		return 0, err
	}
	if status != http.StatusOK {
		return 0, fmt.Errorf("GET /subjects: status %d: %s", status, body)
	}
	var out struct {
		Count int `json:"count"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return 0, fmt.Errorf("GET /subjects: %w", err)
	}
	return out.Count, nil
}

// httpCreate measures single-record creates over HTTP at each
// concurrency level. Their baseline is the raw batch insert rate.
func (r *runner) httpCreate(ctx context.Context) error {
	var next atomic.Int64
	for _, c := range r.cfg.HTTPClients {
		r.progress(fmt.Sprintf("create over HTTP: %d clients", c))
		l := r.http.createOverHTTP(ctx, c, r.cfg.HTTPDuration, &next)
		if err := ctx.Err(); err != nil {
			return err
		}
		if l.ok == 0 {
			return fmt.Errorf("%w: no record created over HTTP with %d clients (%d errors)", errMismatch, c, l.errors)
		}
		r.httpCreated += int(l.ok)
		rps := rate(int(l.ok), l.took)
		switch c {
		case 1:
			r.res.HTTPCreateC1RPS, r.res.HTTPCreateC1Errors = rps, l.errors
			r.res.HTTPCreateC1Ratio = ratio(rps, r.res.IngestBatchBaselineRPS)
		case 8:
			r.res.HTTPCreateC8RPS, r.res.HTTPCreateC8Errors = rps, l.errors
			r.res.HTTPCreateC8Ratio = ratio(rps, r.res.IngestBatchBaselineRPS)
		case 50:
			r.res.HTTPCreateC50RPS, r.res.HTTPCreateC50Errors = rps, l.errors
			r.res.HTTPCreateC50Ratio = ratio(rps, r.res.IngestBatchBaselineRPS)
		}
	}
	return nil
}
