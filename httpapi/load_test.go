package httpapi_test

import (
	"bytes"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestAPI_FiftyConcurrentClients: 50 keep-alive clients create records as
// fast as they can; every answer must be a 201 and every acknowledged record
// must be in the database afterwards.
func TestAPI_FiftyConcurrentClients(t *testing.T) {
	ts := newServer(t)
	key := ts.tenant("bot", "chatbot")
	d := 10 * time.Second
	if testing.Short() {
		d = 2 * time.Second
	}
	const clients = 50
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		acked    = map[string]bool{}
		failures atomic.Int64
		firstErr atomic.Value
	)
	deadline := time.Now().Add(d)
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline); i++ {
				id := fmt.Sprintf("c%02d-%06d", c, i)
				body := fmt.Sprintf(`{"id":%q,"fields":{"email":"user%d.%d@example.com","ip_address":"192.0.2.%d"}}`, id, c, i, i%250)
				req, _ := http.NewRequest("POST", ts.url+"/v1/tenants/bot/collections/marketing_consents/records", bytes.NewReader([]byte(body)))
				req.Header.Set("Authorization", "Bearer "+key)
				res, err := client.Do(req)
				if err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != 201 {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("%d %s", res.StatusCode, b))
					continue
				}
				mu.Lock()
				acked[id] = true
				mu.Unlock()
			}
		}(c)
	}
	wg.Wait()
	if n := failures.Load(); n > 0 {
		t.Errorf("%d failed requests; first: %v", n, firstErr.Load())
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(ts.dir, "lethe.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT id FROM records WHERE tenant = 'bot' AND collection = 'marketing_consents'`)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]bool{}
	for rows.Next() {
		var id string
		rows.Scan(&id)
		stored[id] = true
	}
	rows.Close()
	missing := 0
	for id := range acked {
		if !stored[id] {
			missing++
		}
	}
	if missing > 0 || len(stored) != len(acked) {
		t.Errorf("%d acknowledged records missing; %d stored, %d acknowledged", missing, len(stored), len(acked))
	}
	t.Logf("%d clients for %s: %d records acknowledged and stored (%.0f/s), 0 lost", clients, d, len(acked), float64(len(acked))/d.Seconds())
}
