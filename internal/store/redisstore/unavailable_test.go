package redisstore_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/secretbox"
	"github.com/uapid/uapid/internal/store"
	"github.com/uapid/uapid/internal/store/redisstore"
	"github.com/uapid/uapid/internal/store/storetest"
)

// fakeServer listens on a local port and treats each connection with
// serve (which owns it); it stops when t ends.
func fakeServer(t *testing.T, serve func(c net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { serve(c) })
		}
	})
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return l.Addr().String()
}

// refusedAddr returns a local address where nothing listens.
func refusedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// storeAt returns a store on addr with the client settings of ParseURL's
// defaults (as Open makes it, without Open's check that the server
// answers).
func storeAt(t *testing.T, addr string) *redisstore.Store {
	t.Helper()
	cfg, err := redisstore.ParseURL("redis://:s3cr3tpw@" + addr + "/0")
	if err != nil {
		t.Fatal(err)
	}
	rdb := cfg.NewClient()
	t.Cleanup(func() { rdb.Close() })
	s, err := redisstore.New(rdb, redisstore.Options{Box: newBox(t, secretbox.NewKey())})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// calls returns every method of the store that talks to Redis.
func calls(s *redisstore.Store) map[string]func(ctx context.Context) error {
	ss, at := s.Sessions(), s.Attempts()
	r := storetest.NewSessionRecord("alice")
	k := store.AttemptKey{Kind: store.AttemptIP, Value: "192.0.2.1"}
	return map[string]func(ctx context.Context) error{
		"Ping":   s.Ping,
		"Create": func(ctx context.Context) error { return ss.Create(ctx, r) },
		"Get":    func(ctx context.Context) error { _, err := ss.Get(ctx, r.ID); return err },
		"ByLoginHash": func(ctx context.Context) error {
			_, err := ss.ByLoginHash(ctx, r.LoginHash)
			return err
		},
		"ByCookieHash": func(ctx context.Context) error {
			_, err := ss.ByCookieHash(ctx, r.LoginHash)
			return err
		},
		"Consume": func(ctx context.Context) error {
			_, err := ss.Consume(ctx, r.ID, newHash(), t0, t0.Add(time.Hour))
			return err
		},
		"Touch": func(ctx context.Context) error { return ss.Touch(ctx, r.ID, t0, t0.Add(time.Hour)) },
		"MarkTempCreated": func(ctx context.Context) error {
			_, err := ss.MarkTempCreated(ctx, r.ID)
			return err
		},
		"Delete": func(ctx context.Context) error { _, err := ss.Delete(ctx, r.ID); return err },
		"DeleteByAccount": func(ctx context.Context) error {
			_, err := ss.DeleteByAccount(ctx, "alice", "")
			return err
		},
		"List":        func(ctx context.Context) error { _, err := ss.List(ctx, ""); return err },
		"ListAccount": func(ctx context.Context) error { _, err := ss.List(ctx, "alice"); return err },
		"Sweep":       func(ctx context.Context) error { _, err := ss.Sweep(ctx, t0, 0); return err },
		"Failure": func(ctx context.Context) error {
			_, err := at.Failure(ctx, k, t0, time.Minute)
			return err
		},
		"Block": func(ctx context.Context) error {
			_, err := at.Block(ctx, k, 0, t0.Add(time.Minute), t0.Add(time.Hour))
			return err
		},
		"BlockedUntil": func(ctx context.Context) error {
			_, err := at.BlockedUntil(ctx, []store.AttemptKey{k}, t0)
			return err
		},
		"Trust":   func(ctx context.Context) error { return at.Trust(ctx, "alice", "192.0.2.1", t0) },
		"Trusted": func(ctx context.Context) error { _, err := at.Trusted(ctx, "alice", "192.0.2.1", t0); return err },
	}
}

// checkUnavailable runs every call at once and checks that each fails with
// store.ErrUnavailable within bound, without showing the password.
func checkUnavailable(t *testing.T, s *redisstore.Store, ctx context.Context, bound time.Duration) {
	t.Helper()
	var wg sync.WaitGroup
	for name, call := range calls(s) {
		wg.Go(func() {
			start := time.Now()
			err := call(ctx)
			took := time.Since(start)
			if !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("%s: %v, want ErrUnavailable", name, err)
			}
			if took > bound {
				t.Errorf("%s: failed after %v, want at most %v", name, took, bound)
			}
			if err != nil && strings.Contains(err.Error(), "s3cr3tpw") {
				t.Errorf("%s: error shows the password: %v", name, err)
			}
		})
	}
	wg.Wait()
}

// TestUnavailable: when Redis cannot be reached every method fails with an
// error that is store.ErrUnavailable, and within a few seconds.
func TestUnavailable(t *testing.T) {
	t.Parallel()
	t.Run("Refused", func(t *testing.T) {
		t.Parallel()
		checkUnavailable(t, storeAt(t, refusedAddr(t)), t.Context(), time.Second)
	})
	t.Run("ClosedAtOnce", func(t *testing.T) {
		t.Parallel()
		addr := fakeServer(t, func(c net.Conn) { c.Close() })
		checkUnavailable(t, storeAt(t, addr), t.Context(), time.Second)
	})
	t.Run("Silent", func(t *testing.T) {
		// A server that accepts and never answers: the read timeout
		// (DefaultIOTimeout) ends every call.
		t.Parallel()
		addr := fakeServer(t, func(c net.Conn) { io.Copy(io.Discard, c) })
		checkUnavailable(t, storeAt(t, addr), t.Context(), redisstore.DefaultIOTimeout+time.Second)
	})
	t.Run("SilentShortDeadline", func(t *testing.T) {
		// The caller's deadline ends the wait sooner.
		t.Parallel()
		addr := fakeServer(t, func(c net.Conn) { io.Copy(io.Discard, c) })
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		checkUnavailable(t, storeAt(t, addr), ctx, time.Second)
	})
	t.Run("Loading", func(t *testing.T) {
		// A server that answers every command with LOADING (as Redis does
		// while it reads its data set at start).
		t.Parallel()
		addr := fakeServer(t, func(c net.Conn) {
			buf := make([]byte, 64<<10)
			for {
				if _, err := c.Read(buf); err != nil {
					return
				}
				if _, err := io.WriteString(c, "-LOADING Redis is loading the dataset in memory\r\n"); err != nil {
					return
				}
			}
		})
		checkUnavailable(t, storeAt(t, addr), t.Context(), time.Second)
	})
}

// TestOpenUnreachable: Open of a server that cannot be reached fails with
// ErrUnavailable, a clear message and no password.
func TestOpenUnreachable(t *testing.T) {
	t.Parallel()
	addr := refusedAddr(t)
	start := time.Now()
	_, err := redisstore.Open(t.Context(), "redis://:s3cr3tpw@"+addr+"/0", newBox(t, secretbox.NewKey()))
	if err == nil || !errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), "cannot reach "+addr) ||
		strings.Contains(err.Error(), "s3cr3tpw") {
		t.Fatalf("Open of an unreachable server: %v", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("Open took %v", took)
	}
	// A canceled request is not an unavailable store.
	s := storeAt(t, fakeServer(t, func(c net.Conn) { io.Copy(io.Discard, c) }))
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(100*time.Millisecond, cancel)
	if _, err := s.Sessions().Get(ctx, "x"); errors.Is(err, store.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Errorf("Get with a canceled context: %v, want context.Canceled and not ErrUnavailable", err)
	}
}
