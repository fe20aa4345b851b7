package outage

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// missing skips t because a tool is not installed, or fails it when CI is
// set (CI must not skip silently).
func missing(t testing.TB, what string, err error) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not available (CI is set, so this is an error): %v", what, err)
	}
	t.Skipf("skipping: %s is not available: %v", what, err)
}

// freePort returns a loopback port nothing listens on (at the moment).
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// syncBuffer collects a child's output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// child is a server process that can be stopped and started again with
// the same command line.
type child struct {
	t    testing.TB
	name string
	argv []string
	cred *syscall.Credential // nil: as this process's user
	out  *syncBuffer

	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

func (c *child) launch() {
	c.t.Helper()
	cmd := exec.Command(c.argv[0], c.argv[1:]...)
	cmd.Stdout, cmd.Stderr = c.out, c.out
	cmd.Env = append(os.Environ(), "LC_ALL=C", "LANG=C")
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("start %s: %v", c.name, err)
	}
	c.cmd, c.done = cmd, make(chan struct{})
	go func(done chan struct{}) { cmd.Wait(); close(done) }(c.done)
}

// running reports whether the process was started and has not exited.
func (c *child) running() bool {
	if c.cmd == nil {
		return false
	}
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// signal sends sig to the process (by its PID) and waits until it exits.
func (c *child) signal(sig syscall.Signal) {
	c.t.Helper()
	if !c.running() {
		c.t.Fatalf("%s is not running:\n%s", c.name, c.out.String())
	}
	if err := c.cmd.Process.Signal(sig); err != nil {
		c.t.Fatalf("signal %s (pid %d): %v", c.name, c.cmd.Process.Pid, err)
	}
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		c.cmd.Process.Kill()
		<-c.done
		c.t.Fatalf("%s did not stop on %v in 30s:\n%s", c.name, sig, c.out.String())
	}
}

// waitReady polls ready until it succeeds, the process exits or 30s pass.
func (c *child) waitReady(ready func(context.Context) error) {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := ready(ctx)
		cancel()
		if err == nil {
			return
		}
		if !c.running() {
			c.t.Fatalf("%s exited before it was ready (%v):\n%s", c.name, err, c.out.String())
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s not ready in 30s (%v):\n%s", c.name, err, c.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ---- PostgreSQL ----

// pgServer is a private PostgreSQL cluster on a free loopback port.
type pgServer struct {
	child
	port int
}

// postgresBin returns the directory of the newest installed PostgreSQL's
// binaries.
func postgresBin(t testing.TB) string {
	t.Helper()
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	var ok []string
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			ok = append(ok, d)
		}
	}
	if len(ok) == 0 {
		missing(t, "PostgreSQL's initdb (/usr/lib/postgresql/*/bin/initdb)", os.ErrNotExist)
	}
	slices.SortFunc(ok, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return va - vb
	})
	return ok[len(ok)-1]
}

// startPostgres makes a new cluster (initdb, trust authentication) in a
// temporary directory and starts it. initdb and postgres refuse to run as
// root: when the tests run as root, they run as the postgres user, which
// owns the directory. The server is stopped and the directory removed
// when t ends.
func startPostgres(t *testing.T) *pgServer {
	t.Helper()
	bin := postgresBin(t)
	base, err := os.MkdirTemp("", "uapid-outage-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	data, sock := filepath.Join(base, "data"), filepath.Join(base, "sock")
	if err := os.Mkdir(sock, 0o700); err != nil {
		t.Fatal(err)
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			missing(t, "the postgres user (initdb refuses to run as root)", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		for _, p := range []string{base, sock} {
			if err := os.Chown(p, uid, gid); err != nil {
				t.Fatal(err)
			}
		}
	}
	initdb := &child{t: t, name: "initdb", cred: cred, out: &syncBuffer{},
		argv: []string{filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust",
			"-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"}}
	initdb.launch()
	select {
	case <-initdb.done:
	case <-time.After(60 * time.Second):
		initdb.cmd.Process.Kill()
		t.Fatalf("initdb did not finish in 60s:\n%s", initdb.out.String())
	}
	if code := initdb.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("initdb exited with %d:\n%s", code, initdb.out.String())
	}
	p := &pgServer{port: freePort(t)}
	p.child = child{t: t, name: "postgres", cred: cred, out: &syncBuffer{},
		argv: []string{filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(p.port), "-k", sock,
			"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=60",
			"-c", "shared_buffers=16MB", "-c", "logging_collector=off"}}
	p.start()
	t.Cleanup(func() {
		if p.running() {
			p.cmd.Process.Signal(syscall.SIGINT)
			select {
			case <-p.done:
			case <-time.After(30 * time.Second):
				p.cmd.Process.Kill()
				<-p.done
			}
		}
	})
	return p
}

// DSN is the URL uapid connects with.
func (p *pgServer) DSN() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
}

// start starts the postmaster on the cluster and waits until it accepts
// connections.
func (p *pgServer) start() {
	p.t.Helper()
	p.launch()
	p.waitReady(func(ctx context.Context) error {
		c, err := pgx.Connect(ctx, p.DSN())
		if err != nil {
			return err
		}
		return c.Close(ctx)
	})
}

// stop is a fast shutdown (SIGINT to the postmaster): client connections
// are ended, the cluster is left consistent. It returns when the
// postmaster has exited.
func (p *pgServer) stop() { p.signal(syscall.SIGINT) }

// ---- Redis ----

// redisServer is a private redis-server on a free loopback port that
// appends every write to its append-only file and syncs it before
// answering, so that an acknowledged write survives a restart.
type redisServer struct {
	child
	port int
}

func startRedis(t *testing.T) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		missing(t, "redis-server", err)
	}
	r := &redisServer{port: freePort(t)}
	r.child = child{t: t, name: "redis-server", out: &syncBuffer{},
		argv: []string{bin, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--dir", t.TempDir(),
			"--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no"}}
	r.start()
	t.Cleanup(func() {
		if r.running() {
			r.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-r.done:
			case <-time.After(30 * time.Second):
				r.cmd.Process.Kill()
				<-r.done
			}
		}
	})
	return r
}

// URL is the URL uapid connects with.
func (r *redisServer) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

// start starts redis-server and waits until it answers (after loading its
// append-only file).
func (r *redisServer) start() {
	r.t.Helper()
	r.launch()
	r.waitReady(func(ctx context.Context) error {
		c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", r.port), MaxRetries: -1})
		defer c.Close()
		return c.Ping(ctx).Err()
	})
}

// stop sends SIGTERM (redis-server syncs its files and exits) and waits.
func (r *redisServer) stop() { r.signal(syscall.SIGTERM) }
