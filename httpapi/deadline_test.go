package httpapi

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// serveWithWriteTimeout serves h on loopback behind an http.Server whose
// WriteTimeout is 300 ms, with h wrapped as wrap() wraps handlers.
func serveWithWriteTimeout(t *testing.T, h func(s *Server, w http.ResponseWriter)) string {
	t.Helper()
	s := &Server{writeTimeout: 300 * time.Millisecond}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{WriteTimeout: s.writeTimeout, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h(s, &statusWriter{ResponseWriter: w})
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

func get(t *testing.T, url string) (string, error) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return string(b), err
}

func TestStreaming_ADownloadOutlastsTheWriteTimeoutWhileItProgresses(t *testing.T) {
	url := serveWithWriteTimeout(t, func(s *Server, w http.ResponseWriter) {
		pw := s.streaming(w)
		for range 8 {
			pw.Write([]byte(strings.Repeat("x", 1000) + "\n"))
			http.NewResponseController(w).Flush()
			time.Sleep(100 * time.Millisecond)
		}
	})
	body, err := get(t, url)
	if err != nil || len(body) != 8*1001 {
		t.Fatalf("an 800 ms download under a 300 ms write timeout: %d bytes, %v; want all 8,008", len(body), err)
	}
	// The control: the same download without the progress deadline is
	// cut off, so the test above shows the mechanism, not a lenient server.
	url = serveWithWriteTimeout(t, func(s *Server, w http.ResponseWriter) {
		for range 8 {
			w.Write([]byte(strings.Repeat("x", 1000) + "\n"))
			http.NewResponseController(w).Flush()
			time.Sleep(100 * time.Millisecond)
		}
	})
	if body, err := get(t, url); err == nil && len(body) == 8*1001 {
		t.Fatal("the download without progress deadlines was not cut off: the control does not control")
	}
}

func TestLiftWriteDeadline_ALongSweepStillGetsItsAnswer(t *testing.T) {
	url := serveWithWriteTimeout(t, func(s *Server, w http.ResponseWriter) {
		restore := s.liftWriteDeadline(w)
		time.Sleep(600 * time.Millisecond) // the sweep
		restore()
		io.WriteString(w, "done")
	})
	if body, err := get(t, url); err != nil || body != "done" {
		t.Fatalf("a 600 ms sweep under a 300 ms write timeout: %q, %v; want its answer", body, err)
	}
}
