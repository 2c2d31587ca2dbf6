package soak

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// client talks to the server under soak, keeping one idle connection per
// concurrent caller.
type client struct {
	base  string
	admin string
	key   string // the run tenant's API key, once set up
	http  *http.Client

	metricsURL, metricsToken string // see Config.MetricsURL
}

func newClient(base, admin string, conns int) *client {
	return &client{
		base:  strings.TrimSuffix(base, "/"),
		admin: admin,
		http: &http.Client{
			Timeout: 30 * time.Second,
			Transport: &http.Transport{
				MaxIdleConns:        conns,
				MaxIdleConnsPerHost: conns,
				IdleConnTimeout:     time.Minute,
			},
		},
	}
}

func (c *client) close() { c.http.CloseIdleConnections() }

// do sends one request and reads the whole answer, so the connection
// returns to the pool.
func (c *client) do(ctx context.Context, token, method, path string, body any) (int, []byte, error) {
	return c.doURL(ctx, token, method, c.base+path, body)
}

// doURL is do for a full URL (the metrics listener's).
func (c *client) doURL(ctx context.Context, token, method, url string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// must is do for the set-up steps, which have to succeed.
func (c *client) must(ctx context.Context, want int, token, method, path string, body any) ([]byte, error) {
	status, b, err := c.do(ctx, token, method, path, body)
	if err != nil {
		return nil, fmt.Errorf("soak: %s %s: %w", method, path, err)
	}
	if status != want {
		return nil, fmt.Errorf("soak: %s %s: status %d, want %d: %.300s", method, path, status, want, b)
	}
	return b, nil
}

// setup creates the run's tenant with the chatbot pack, an API key for it
// (the default roles: reader, writer, requests) and, as the admin, switches prize draw entries on (they are off by default). It
// returns the collection's retention period, read from the plan of a
// first record: created_at now minus the period plus d falls due in d.
func (c *client) setup(ctx context.Context, tenant string) (time.Duration, error) {
	if _, err := c.must(ctx, 201, c.admin, "POST", "/v1/tenants", map[string]any{"id": tenant, "packs": []string{soakPack}}); err != nil {
		return 0, err
	}
	b, err := c.must(ctx, 201, c.admin, "POST", "/v1/tenants/"+tenant+"/keys", nil)
	if err != nil {
		return 0, err
	}
	var k struct {
		Key string `json:"key"`
	}
	if err := json.Unmarshal(b, &k); err != nil || k.Key == "" {
		return 0, fmt.Errorf("soak: no API key in %.200s", b)
	}
	c.key = k.Key
	if _, err := c.must(ctx, 200, c.admin, "PUT", "/v1/tenants/"+tenant+"/settings/"+soakCollection, map[string]any{"enabled": true}); err != nil {
		return 0, err
	}
	created := time.Now().UTC().Truncate(time.Second)
	due, status, err := c.create(ctx, tenant, "probe", created, entryFields(999, 0))
	if err != nil || status != 201 {
		return 0, fmt.Errorf("soak: first record: status %d, %v", status, err)
	}
	if !due.After(created) {
		return 0, fmt.Errorf("soak: %s is not planned for deletion (due %v)", soakCollection, due)
	}
	return due.Sub(created), nil
}

func (c *client) recordsPath(tenant string) string {
	return "/v1/tenants/" + tenant + "/collections/" + soakCollection + "/records"
}

// create writes one record and returns its planned due time.
func (c *client) create(ctx context.Context, tenant, id string, created time.Time, fields map[string]any) (time.Time, int, error) {
	body := map[string]any{"id": id, "fields": fields}
	if !created.IsZero() {
		body["created_at"] = created.UTC().Format(time.RFC3339Nano)
	}
	status, b, err := c.do(ctx, c.key, "POST", c.recordsPath(tenant), body)
	if err != nil || status != 201 {
		return time.Time{}, status, err
	}
	var rec struct {
		ID   string `json:"id"`
		Plan struct {
			DueAt time.Time `json:"due_at"`
		} `json:"plan"`
	}
	if err := json.Unmarshal(b, &rec); err != nil || rec.ID != id || rec.Plan.DueAt.IsZero() {
		return time.Time{}, status, fmt.Errorf("soak: create %s answered %.200s", id, b)
	}
	return rec.Plan.DueAt, status, nil
}

// get reads one record; only the status matters.
func (c *client) get(ctx context.Context, tenant, id string) (int, error) {
	status, _, err := c.do(ctx, c.key, "GET", c.recordsPath(tenant)+"/"+id, nil)
	return status, err
}

// metric reads one sample of the server's Prometheus metrics: the line
// that starts with name (labels included).
func (c *client) metric(ctx context.Context, name string) (float64, bool, error) {
	status, b, err := c.doURL(ctx, c.metricsToken, "GET", c.metricsURL, nil)
	if err != nil {
		return 0, false, err
	}
	if status != 200 {
		return 0, false, fmt.Errorf("soak: GET %s: status %d", c.metricsURL, status)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v, err == nil, err
		}
	}
	return 0, false, sc.Err()
}

// lag reads the sweep lag gauge: how long the oldest overdue record has
// outlived its due time.
func (c *client) lag(ctx context.Context) (time.Duration, error) {
	v, ok, err := c.metric(ctx, "lethe_sweep_lag_seconds")
	if err != nil {
		return 0, err
	}
	if !ok || v < 0 {
		return 0, fmt.Errorf("soak: the server reported no sweep lag")
	}
	return time.Duration(v * float64(time.Second)), nil
}

// sweptTotal is the sweeper's delete count so far (0 before its first
// sweep, when the counter has no sample yet).
func (c *client) sweptTotal(ctx context.Context) (int64, error) {
	v, _, err := c.metric(ctx, `lethe_sweep_records_total{action="delete"}`)
	return int64(v), err
}
