package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lethe-privacy/lethe/tlsserve"
)

// server is a running throwaway PostgreSQL.
type server struct {
	dir    string // temporary folder: data/ and server.log
	port   int
	cmd    *exec.Cmd
	exited chan struct{} // closed when the server process has ended
}

// startServer initializes a cluster in a new temporary folder and starts
// a server on it. A port taken between choosing and binding it is retried
// with another one.
func startServer() (*server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	cred, err := credential()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "lethe-pgtest-")
	if err != nil {
		return nil, err
	}
	if err := chown(dir, cred); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	data := filepath.Join(dir, "data")
	// --no-sync only skips initdb's final flush of the template files: a
	// throwaway cluster needs no power-loss safety for them. The server
	// itself runs with fsync on.
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres",
		"--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions")
	if out, err := run(initdb, dir, cred); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %w: %s", err, lastLines(out, 5))
	}
	if err := serverCertificate(dir, cred); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	var lastErr error
	for range 3 {
		port, err := freePort()
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		s := &server{dir: dir, port: port, exited: make(chan struct{})}
		if lastErr = s.launch(bin, cred); lastErr == nil {
			return s, nil
		}
	}
	os.RemoveAll(dir)
	return nil, lastErr
}

// launch starts the server process and waits until it accepts connections.
func (s *server) launch(bin string, cred *syscall.Credential) error {
	logPath := filepath.Join(s.dir, "server.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer logFile.Close() // the child holds its own descriptor
	s.cmd = exec.Command(filepath.Join(bin, "postgres"), "-D", filepath.Join(s.dir, "data"),
		"-p", strconv.Itoa(s.port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=",
		"-c", "max_connections=200",
		"-c", "synchronous_commit=on",
		"-c", "fsync=on",
		// TLS is on, so that tests can ask for verify-full; the DSNs
		// handed out say sslmode=disable, and a test that wants TLS
		// asks for it (TLSDSN).
		"-c", "ssl=on",
		"-c", "ssl_cert_file="+filepath.Join(s.dir, tlsserve.SelfSignedCert),
		"-c", "ssl_key_file="+filepath.Join(s.dir, tlsserve.SelfSignedKey),
	)
	s.cmd.Dir = s.dir
	s.cmd.Stdout = logFile
	s.cmd.Stderr = logFile
	s.cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: cred,
		// A test binary killed by a timeout or ^C cannot run Main's stop:
		// the kernel then sends the server SIGQUIT (immediate shutdown),
		// so no server outlives its tests.
		Pdeathsig: syscall.SIGQUIT,
	}
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	go func() {
		s.cmd.Wait()
		close(s.exited)
	}()

	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, s.dsn("postgres"))
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return nil
		}
		select {
		case <-s.exited:
			log, _ := os.ReadFile(logPath)
			return fmt.Errorf("postgres exited at start: %s", lastLines(log, 5))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.cmd.Process.Kill()
			<-s.exited
			return fmt.Errorf("postgres did not accept connections within 30s: %w", err)
		}
	}
}

// dsn is the connection string of one database on the server.
func (s *server) dsn(database string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, database)
}

// stop shuts the server down (SIGINT: fast shutdown, which ends open
// sessions) and removes its folder.
func (s *server) stop() error {
	var err error
	s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.exited:
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
		err = errors.New("postgres ignored fast shutdown for 20s and was killed")
	}
	return errors.Join(err, os.RemoveAll(s.dir))
}

// binDir finds the folder holding initdb and postgres: pg_config's
// answer, else the newest Debian install under /usr/lib/postgresql, else
// PATH.
func binDir() (string, error) {
	has := func(dir string) bool {
		for _, name := range []string{"initdb", "postgres"} {
			if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.IsDir() {
				return false
			}
		}
		return true
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		if dir := strings.TrimSpace(string(out)); has(dir) {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, dir := range dirs {
		if has(dir) {
			return dir, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil && has(filepath.Dir(real)) {
			return filepath.Dir(real), nil
		}
		if has(filepath.Dir(p)) {
			return filepath.Dir(p), nil
		}
	}
	return "", errors.New("initdb and postgres not found (pg_config --bindir, /usr/lib/postgresql/*/bin, PATH)")
}

// version reads the major version out of /usr/lib/postgresql/N/bin.
func version(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

// credential is nil for an ordinary user. PostgreSQL refuses to run as
// root, so under root (containers, CI) the server runs as the postgres
// system user that Debian's package creates.
func credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root and no postgres user to run the server as: %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("user postgres: %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

// chown hands the server's folder to the user it runs as.
func chown(dir string, cred *syscall.Credential) error {
	if cred == nil {
		return nil
	}
	return os.Chown(dir, int(cred.Uid), int(cred.Gid))
}

// run runs a command in dir as cred and returns its combined output.
func run(cmd *exec.Cmd, dir string, cred *syscall.Credential) ([]byte, error) {
	var out bytes.Buffer
	cmd.Dir = dir
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	err := cmd.Run()
	return out.Bytes(), err
}

// serverCertificate writes a self-signed certificate for 127.0.0.1 into
// dir, owned by the server's user: PostgreSQL refuses a key file that
// others may read.
func serverCertificate(dir string, cred *syscall.Credential) error {
	cert, key, err := tlsserve.SelfSigned(dir, "127.0.0.1", time.Now())
	if err != nil {
		return err
	}
	for _, f := range []string{cert, key} {
		if err := chown(f, cred); err != nil {
			return err
		}
	}
	return nil
}

// freePort asks the kernel for a free port on the loopback address.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// lastLines keeps the end of a log for an error message.
func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
