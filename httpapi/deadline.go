package httpapi

import (
	"io"
	"net/http"
	"time"
)

// The http.Server's WriteTimeout bounds the whole answer, from the end of
// the request's headers. That suits an answer of a few kilobytes, but not
// an export download of gigabytes or a sweep on demand that runs for
// minutes; a WriteTimeout long enough for those would let a client that
// reads nothing hold a connection for as long. So the server keeps a
// short WriteTimeout, and these two handlers move the deadline
// themselves.

// progressWriter pushes the write deadline timeout past each write, so
// that a download may take as long as it needs while it makes progress,
// and a client that stops reading is cut off timeout after the write it
// stalled on.
type progressWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
}

// streaming returns w as a progressWriter when the server has a write
// timeout, else w itself.
func (s *Server) streaming(w http.ResponseWriter) io.Writer {
	if s.writeTimeout <= 0 {
		return w
	}
	return &progressWriter{w: w, rc: http.NewResponseController(w), timeout: s.writeTimeout}
}

func (p *progressWriter) Write(b []byte) (int, error) {
	// An error means the writer cannot set deadlines (a test recorder):
	// the server's own deadline stays, which is the safe side.
	_ = p.rc.SetWriteDeadline(time.Now().Add(p.timeout))
	return p.w.Write(b)
}

// liftWriteDeadline removes the write deadline while long work runs
// before the first byte of the answer, and returns the function that sets
// it again (timeout from then) for the answer itself.
func (s *Server) liftWriteDeadline(w http.ResponseWriter) (restore func()) {
	if s.writeTimeout <= 0 {
		return func() {}
	}
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	return func() { _ = rc.SetWriteDeadline(time.Now().Add(s.writeTimeout)) }
}
