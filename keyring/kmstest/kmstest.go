// Package kmstest runs a real AWS KMS emulator (github.com/nsmithuk/local-kms)
// for tests, reachable on loopback only.
//
// local-kms listens on every interface and has no option to bind one, so
// it runs in its own network namespace (unshare -n), where "every
// interface" is that namespace's loopback alone. A bridge process in the
// namespace (this test binary, started again) forwards a Unix socket,
// which file permissions guard and which crosses namespaces, to it; the
// test process forwards a 127.0.0.1 listener to the socket. The KMS
// client under test speaks plain AWS JSON-over-HTTP to that listener.
//
// The binary is $LETHE_LOCAL_KMS, else local-kms on PATH. Without it (or
// without unshare) tests skip, loudly; with LETHE_REQUIRE_KMS=1 they fail.
package kmstest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// bridgeEnv, set in the environment of the re-started test binary, makes
// it the bridge inside the namespace instead of running tests.
const bridgeEnv = "LETHE_KMSTEST_BRIDGE"

func init() {
	if sock := os.Getenv(bridgeEnv); sock != "" {
		os.Exit(runBridge(sock))
	}
}

// Region is the region the emulator answers as.
const Region = "eu-west-1"

// Server is a running emulator with the keys it was seeded with.
type Server struct {
	// Endpoint is the loopback URL to give as the awskms endpoint.
	Endpoint string
	// Keys are the ids of the AES keys it holds (seeded, distinct).
	Keys []string

	ln    net.Listener
	sock  string
	mu    sync.Mutex
	down  bool
	conns map[net.Conn]bool
}

// URL is the awskms:// master key URL of Keys[i].
func (s *Server) URL(i int) string {
	return "awskms://" + s.Keys[i] + "?region=" + Region + "&endpoint=" + s.Endpoint
}

// Binary finds local-kms, or skips (fails under LETHE_REQUIRE_KMS=1).
func Binary(t testing.TB) string {
	t.Helper()
	p := os.Getenv("LETHE_LOCAL_KMS")
	if p == "" {
		var err error
		if p, err = exec.LookPath("local-kms"); err != nil {
			unavailable(t, "local-kms not found ($LETHE_LOCAL_KMS or PATH; .ci/run installs it)")
		}
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		unavailable(t, "unshare (util-linux) not found: local-kms cannot be kept off the network")
	}
	return p
}

func unavailable(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("LETHE_REQUIRE_KMS") == "1" {
		t.Fatalf("LETHE_REQUIRE_KMS=1 but %s", msg)
	}
	t.Skipf("SKIPPING the AWS KMS emulator test: %s", msg)
}

// Start runs an emulator seeded with n AES keys and sets dummy AWS
// credentials in the environment (so the test cannot run in parallel).
// It stops with the test.
func Start(t testing.TB, n int) *Server {
	t.Helper()
	bin := Binary(t)
	dir, err := os.MkdirTemp("", "kms") // short: a socket path has ~108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s := &Server{sock: filepath.Join(dir, "kms.sock")}
	var seed strings.Builder
	seed.WriteString("Keys:\n  Symmetric:\n    Aes:\n")
	for range n {
		id := uuid()
		s.Keys = append(s.Keys, id)
		fmt.Fprintf(&seed, "      - Metadata:\n          KeyId: %s\n        BackingKeys:\n          - %s\n", id, randHex(32))
	}
	seedPath := filepath.Join(dir, "seed.yaml")
	if err := os.WriteFile(seedPath, []byte(seed.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"-n", self}
	if os.Geteuid() != 0 {
		args = []string{"-r", "-n", self} // a user namespace grants the network one
	}
	cmd := exec.Command("unshare", args...)
	cmd.Env = append(os.Environ(), bridgeEnv+"="+s.sock, "LETHE_KMSTEST_BIN="+bin,
		"KMS_DATA_PATH="+filepath.Join(dir, "data"), "KMS_SEED_PATH="+seedPath, "KMS_REGION="+Region, "PORT=4599")
	stdin, err := cmd.StdinPipe() // the bridge ends when it closes
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		unavailable(t, "unshare -n: "+err.Error())
	}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	if err := waitKMS(s.sock, 20*time.Second); err != nil {
		unavailable(t, fmt.Sprintf("emulator did not come up: %v\n%s", err, logs.String()))
	}
	s.ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.ln.Close() })
	s.Endpoint = "http://" + s.ln.Addr().String()
	go s.serve()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "lethe-test", "AWS_SECRET_ACCESS_KEY": "lethe-test", "AWS_SESSION_TOKEN": "",
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": filepath.Join(dir, "none"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "none"), "AWS_PROFILE": "", "AWS_ENDPOINT_URL": "", "AWS_ENDPOINT_URL_KMS": "",
	} {
		t.Setenv(k, v)
	}
	return s
}

// SetDown makes the emulator unreachable (open connections are cut and
// new ones dropped at once, as by a host that is down) or reachable again.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
	if down {
		for c := range s.conns {
			c.Close()
		}
	}
}

func (s *Server) serve() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		down := s.down
		if !down {
			if s.conns == nil {
				s.conns = map[net.Conn]bool{}
			}
			s.conns[c] = true
		}
		s.mu.Unlock()
		if down {
			c.Close()
			continue
		}
		go func() {
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
			}()
			u, err := net.Dial("unix", s.sock)
			if err != nil {
				c.Close()
				return
			}
			pipe(c, u)
		}()
	}
}

// waitKMS waits until a request through the socket gets an answer.
func waitKMS(sock string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		c, err := net.Dial("unix", sock)
		if err == nil {
			c.SetDeadline(time.Now().Add(2 * time.Second))
			_, err = io.WriteString(c, "GET / HTTP/1.0\r\n\r\n")
			if err == nil {
				var b [16]byte
				var n int
				n, err = c.Read(b[:])
				if n > 0 && strings.HasPrefix(string(b[:n]), "HTTP/") {
					c.Close()
					return nil
				}
			}
			c.Close()
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// runBridge runs inside the new network namespace: it brings loopback up,
// starts local-kms there, and forwards the Unix socket to it until its
// standard input closes (the test ended or died).
func runBridge(sock string) int {
	if err := loopbackUp(); err != nil {
		fmt.Fprintln(os.Stderr, "kmstest bridge: loopback:", err)
		return 1
	}
	kms := exec.Command(os.Getenv("LETHE_KMSTEST_BIN"))
	kms.Stdout, kms.Stderr = os.Stderr, os.Stderr
	if err := kms.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "kmstest bridge: start local-kms:", err)
		return 1
	}
	defer func() { kms.Process.Kill(); kms.Wait() }()
	ln, err := net.Listen("unix", sock)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kmstest bridge:", err)
		return 1
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				k, err := net.Dial("tcp", "127.0.0.1:"+os.Getenv("PORT"))
				if err != nil {
					c.Close()
					return
				}
				pipe(c, k)
			}()
		}
	}()
	io.Copy(io.Discard, os.Stdin)
	return 0
}

// loopbackUp sets IFF_UP on lo, which a new namespace starts without.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

func pipe(a, b net.Conn) {
	go func() { io.Copy(a, b); a.Close(); b.Close() }()
	io.Copy(b, a)
	a.Close()
	b.Close()
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func uuid() string {
	b := make([]byte, 16)
	rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
