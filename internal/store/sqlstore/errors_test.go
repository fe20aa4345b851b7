package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uapid/uapid/internal/store"
	"github.com/uapid/uapid/internal/store/sqlstore/pgtest"
)

// TestUniqueViolationIsErrExists: a directory write refused by a unique
// constraint of its table is store.ErrExists with a message that names
// the value, on both dialects, and changes nothing.
func TestUniqueViolationIsErrExists(t *testing.T) {
	t.Parallel()
	forDialects(t, func(t *testing.T, dc *dialectCase) {
		t.Parallel()
		ctx := t.Context()
		db := dc.open(t)
		d := db.Directory()
		must(t, d.CreateAccount(ctx, store.Account{User: "alice", Domains: []string{"alice.test"}}))
		must(t, d.CreateAccount(ctx, store.Account{User: "bob", Domains: []string{"bob.test"}}))
		must(t, d.CreateMailbox(ctx, store.Mailbox{Address: "info@alice.test"}))
		h := hash32()
		must(t, d.CreateToken(ctx, store.Token{User: "alice", Name: "ci", Hash: h}))
		must(t, d.CreateToken(ctx, store.Token{User: "root", Name: "ci", Hash: h})) // another user: fine
		g0, err := d.Generation(ctx)
		must(t, err)

		for _, tc := range []struct {
			what string
			err  error
			msg  string
		}{
			{"CreateAccount of an existing user", d.CreateAccount(ctx, store.Account{User: "Alice"}),
				"the account “alice” already exists"},
			{"CreateAccount with a taken domain", d.CreateAccount(ctx, store.Account{User: "carol", Domains: []string{"carol.test", "ALICE.test"}}),
				"domain “alice.test” belongs to another account"},
			{"PutAccount with a taken domain", d.PutAccount(ctx, store.Account{User: "bob", Domains: []string{"bob.test", "alice.test"}}),
				"domain “alice.test” belongs to another account"},
			{"UpdateAccount to a taken domain", func() error {
				_, err := d.UpdateAccount(ctx, "bob", func(a *store.Account) error {
					a.Domains = append(a.Domains, "alice.test")
					return nil
				})
				return err
			}(), "domain “alice.test” belongs to another account"},
			{"CreateMailbox of an existing address", d.CreateMailbox(ctx, store.Mailbox{Address: "INFO@alice.test"}),
				"the mailbox “info@alice.test” already exists"},
			{"CreateToken with a taken name", d.CreateToken(ctx, store.Token{User: "alice", Name: "ci", Hash: hash32()}),
				"“alice” already has a token named “ci”"},
			{"CreateToken of root with a taken name", d.CreateToken(ctx, store.Token{User: "root", Name: "ci", Hash: hash32()}),
				"“root” already has a token named “ci”"},
			{"CreateToken with a taken secret", d.CreateToken(ctx, store.Token{User: "alice", Name: "ci2", Hash: h}),
				"another token of “alice” has the same secret"},
			{"PutToken with a taken secret", d.PutToken(ctx, store.Token{User: "alice", Name: "ci3", Hash: h}),
				"another token of “alice” has the same secret"},
		} {
			if !errors.Is(tc.err, store.ErrExists) {
				t.Errorf("%s: %v, want ErrExists", tc.what, tc.err)
				continue
			}
			if tc.err.Error() != tc.msg {
				t.Errorf("%s: message %q, want %q", tc.what, tc.err.Error(), tc.msg)
			}
		}
		if g, err := d.Generation(ctx); err != nil || g != g0 {
			t.Errorf("generation after refused writes = %d, %v; want %d", g, err, g0)
		}
		// Nothing of the refused writes is left.
		if _, err := d.GetAccount(ctx, "carol"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("carol was created: %v", err)
		}
		if bob, err := d.GetAccount(ctx, "bob"); err != nil || len(bob.Domains) != 1 {
			t.Errorf("bob changed: %+v, %v", bob, err)
		}
		if _, err := d.DomainOwner(ctx, "carol.test"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("carol.test was kept: %v", err)
		}
		if toks, err := d.ListTokens(ctx, "alice"); err != nil || len(toks) != 1 {
			t.Errorf("alice's tokens: %+v, %v", toks, err)
		}
		// The store works on (PostgreSQL: the failed transaction was
		// rolled back, its connection is fine).
		must(t, d.CreateAccount(ctx, store.Account{User: "carol", Domains: []string{"carol.test"}}))

		// Two handles creating one account at once: one wins, the other
		// hears ErrExists from the constraint.
		other := dc.reopen(t, db).Directory()
		for i := range 10 {
			user := fmt.Sprintf("race%d", i)
			var wg sync.WaitGroup
			errs := make([]error, 2)
			start := make(chan struct{})
			for j, x := range []*Directory{d, other} {
				wg.Go(func() {
					<-start
					errs[j] = x.CreateAccount(ctx, store.Account{User: user, Domains: []string{user + ".test"}})
				})
			}
			close(start)
			wg.Wait()
			ok := (errs[0] == nil) != (errs[1] == nil)
			for _, err := range errs {
				if err != nil && (!errors.Is(err, store.ErrExists) || err.Error() != "the account “"+user+"” already exists") {
					ok = false
				}
			}
			if !ok {
				t.Errorf("racing creations of %s: %v", user, errs)
			}
		}
	})
}

// TestSessionUniqueness: a session record that repeats another's id, login
// hash or cookie hash is ErrExists on both dialects; the security token is
// not a key (it is checked against the record a hash finds).
func TestSessionUniqueness(t *testing.T) {
	t.Parallel()
	forDialects(t, func(t *testing.T, dc *dialectCase) {
		t.Parallel()
		ctx := t.Context()
		s := dc.open(t).Sessions()
		a := newSession("alice")
		a.CookieHash = hash32()
		must(t, s.Create(ctx, a))
		for what, set := range map[string]func(r *store.Session){
			"id":          func(r *store.Session) { r.ID = a.ID },
			"login hash":  func(r *store.Session) { r.LoginHash = a.LoginHash },
			"cookie hash": func(r *store.Session) { r.CookieHash = a.CookieHash },
		} {
			r := newSession("alice")
			set(&r)
			if err := s.Create(ctx, r); !errors.Is(err, store.ErrExists) {
				t.Errorf("Create with the same %s: %v, want ErrExists", what, err)
			}
		}
		twin := newSession("alice")
		twin.Token = a.Token
		must(t, s.Create(ctx, twin))
		// Empty hashes are never "present".
		for range 3 {
			r := newSession("alice")
			r.LoginHash = nil
			must(t, s.Create(ctx, r))
			if got, err := s.Get(ctx, r.ID); err != nil || got.LoginHash != nil || got.CookieHash != nil {
				t.Errorf("record without hashes: %+v, %v", got, err)
			}
		}
		r := newSession("alice")
		r.LoginHash = []byte{}
		must(t, s.Create(ctx, r))
	})
}

// TestRebind: queries are written with "?"; PostgreSQL numbers them.
func TestRebind(t *testing.T) {
	t.Parallel()
	lite, pg := &DB{d: sqliteDialect}, &DB{d: postgresDialect}
	for _, tc := range []struct{ in, pg string }{
		{`SELECT 1`, `SELECT 1`},
		{`SELECT a FROM t WHERE b = ?`, `SELECT a FROM t WHERE b = $1`},
		{`INSERT INTO t (a, b, c) VALUES (?, ?, ?)`, `INSERT INTO t (a, b, c) VALUES ($1, $2, $3)`},
		{`?????????????`, `$1$2$3$4$5$6$7$8$9$10$11$12$13`},
		{`UPDATE t SET a = ? WHERE b = ? AND c > ? RETURNING d`, `UPDATE t SET a = $1 WHERE b = $2 AND c > $3 RETURNING d`},
	} {
		if got := lite.q(tc.in); got != tc.in {
			t.Errorf("SQLite q(%q) = %q, want it unchanged", tc.in, got)
		}
		for range 2 { // the second time from the cache
			if got := pg.q(tc.in); got != tc.pg {
				t.Errorf("PostgreSQL q(%q) = %q, want %q", tc.in, got, tc.pg)
			}
		}
	}
	// Concurrent use of the cache.
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 100 {
				in := fmt.Sprintf("SELECT ? + %d + ?", (i*j)%7)
				if got, want := pg.q(in), fmt.Sprintf("SELECT $1 + %d + $2", (i*j)%7); got != want {
					t.Errorf("q(%q) = %q", in, got)
					return
				}
			}
		})
	}
	wg.Wait()
	// The migration bookkeeping of PostgreSQL is written with "?" too.
	if got := pg.q(postgresDialect.recordSQL); strings.Contains(got, "?") || !strings.Contains(got, "$3") {
		t.Errorf("recordSQL rebinds to %q", got)
	}
}

// TestOpenPostgresErrorsHideThePassword: start-up errors never show the
// DSN's password, whatever is wrong with it.
func TestOpenPostgresErrorsHideThePassword(t *testing.T) {
	t.Parallel()
	port := closedPort(t)
	box := newBox(t, testKey(), nil)
	for _, dsn := range []string{
		fmt.Sprintf("postgres://u:s3cr3tpw@127.0.0.1:%d/x?sslmode=disable&connect_timeout=2", port),
		fmt.Sprintf("host=127.0.0.1 port=%d user=u password=s3cr3tpw dbname=x sslmode=disable", port),
		"postgres://u:s3cr3tpw@[::1/x",
		"postgres://u:s3cr3tpw@127.0.0.1/x?pool_max_conns=lots",
		"postgres://u:s3cr3tpw@127.0.0.1/x?sslmode=bogus",
		"host=127.0.0.1 password=s3cr3tpw sslmode=bogus",
		"postgres://u:s3cr3tpw@127.0.0.1:99999/x",
	} {
		_, err := OpenPostgres(t.Context(), dsn, Options{Box: box})
		if err == nil {
			t.Errorf("OpenPostgres(%q) succeeded", dsn)
			continue
		}
		if strings.Contains(err.Error(), "s3cr3tpw") {
			t.Errorf("the error shows the password: %v", err)
		}
	}
}

// closedPort returns a local TCP port that nothing listens on.
func closedPort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// TestOpenPostgresUnreachable: a server that refuses connections, or one
// that accepts them and never answers, fails OpenPostgres within the
// connect timeout (5 s at most, whatever the DSN asks), with a one-line
// error.
func TestOpenPostgresUnreachable(t *testing.T) {
	t.Parallel()
	box := newBox(t, testKey(), nil)
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// The subtests run after this function returned: clean up with t.
	t.Cleanup(func() { silent.Close() })
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c) // accepted, never answered
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	for _, tc := range []struct {
		name, dsn string
		within    time.Duration
	}{
		{"refused", fmt.Sprintf("postgres://postgres@127.0.0.1:%d/x?sslmode=disable", closedPort(t)), 2 * time.Second},
		{"refused, TLS preferred", fmt.Sprintf("postgres://postgres@127.0.0.1:%d/x", closedPort(t)), 2 * time.Second},
		{"silent", fmt.Sprintf("postgres://postgres@%s/x?sslmode=disable&connect_timeout=60", silent.Addr()), 7 * time.Second},
		{"silent, TLS preferred", fmt.Sprintf("postgres://postgres@%s/x", silent.Addr()), 7 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			_, err := OpenPostgres(context.Background(), tc.dsn, Options{Box: box})
			took := time.Since(start)
			if err == nil {
				t.Fatal("OpenPostgres succeeded")
			}
			if took > tc.within {
				t.Errorf("OpenPostgres took %v to fail, want less than %v", took, tc.within)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("the error has several lines: %q", err)
			}
			if !strings.Contains(err.Error(), "127.0.0.1") {
				t.Errorf("the error does not say which server: %v", err)
			}
			t.Logf("%v: %v", took.Round(time.Millisecond), err)
		})
	}
}

// TestPostgresPoolOption: pool_max_conns in a URL DSN caps the
// connections (and is not sent to the server).
func TestPostgresPoolOption(t *testing.T) {
	t.Parallel()
	schema := pgSchema(t)
	u, err := url.Parse(schema)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("pool_max_conns", "3")
	u.RawQuery = q.Encode()
	db := openPostgresAt(t, u.String(), nil)
	if n := db.SQL().Stats().MaxOpenConnections; n != 3 {
		t.Errorf("MaxOpenConnections = %d, want 3", n)
	}
	must(t, db.Ping(t.Context()))
	if db2 := openPostgresAt(t, schema, nil); db2.SQL().Stats().MaxOpenConnections != 16 {
		t.Errorf("default MaxOpenConnections = %d", db2.SQL().Stats().MaxOpenConnections)
	}
}

// unavailableOrNil fails t unless err is nil or store.ErrUnavailable.
func unavailableOrNil(t testing.TB, what string, err error) {
	t.Helper()
	if err != nil && !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("%s: %v, want nil or ErrUnavailable", what, err)
	}
}

// storeCalls are one call of each part of the store; each returns its
// error.
func storeCalls(db *DB, r store.Session) map[string]func(ctx context.Context) error {
	return map[string]func(ctx context.Context) error{
		"Ping": db.Ping,
		"Sessions.Get": func(ctx context.Context) error {
			_, err := db.Sessions().Get(ctx, r.ID)
			return err
		},
		"Sessions.Create": func(ctx context.Context) error {
			return db.Sessions().Create(ctx, newSession("alice"))
		},
		"Sessions.Touch": func(ctx context.Context) error {
			return db.Sessions().Touch(ctx, r.ID, t0, t0.Add(time.Minute))
		},
		"Sessions.Sweep": func(ctx context.Context) error {
			_, err := db.Sessions().Sweep(ctx, time.Unix(0, 0), 0)
			return err
		},
		"Directory.GetAccount": func(ctx context.Context) error {
			_, err := db.Directory().GetAccount(ctx, "alice")
			return err
		},
		"Directory.SetRootPasswordHash": func(ctx context.Context) error {
			return db.Directory().SetRootPasswordHash(ctx, "")
		},
		"Directory.Generation": func(ctx context.Context) error {
			_, err := db.Directory().Generation(ctx)
			return err
		},
		"Ledger.ListTempUsers": func(ctx context.Context) error {
			_, err := db.Ledger().ListTempUsers(ctx)
			return err
		},
		"Attempts.Failure": func(ctx context.Context) error {
			_, err := db.Attempts().Failure(ctx, store.AttemptKey{Kind: store.AttemptIP, Value: "192.0.2.9"}, t0, time.Minute)
			return err
		},
	}
}

// TestPostgresBackendsTerminated: when the server ends every connection
// of the store (a restart, a failover, an administrator), the store's
// calls answer ErrUnavailable or succeed on a new connection, and the
// store recovers by itself.
func TestPostgresBackendsTerminated(t *testing.T) {
	t.Parallel()
	dsn := pgtest.NewDatabase(t)
	db := openPostgresAt(t, pgtest.Schema(t, dsn), nil)
	ctx := t.Context()
	must(t, db.Directory().CreateAccount(ctx, store.Account{User: "alice", Domains: []string{"alice.test"}}))
	r := newSession("alice")
	must(t, db.Sessions().Create(ctx, r))
	var dbName string
	must(t, db.SQL().QueryRowContext(ctx, `SELECT current_database()`).Scan(&dbName))
	admin, err := pgx.Connect(ctx, pgtest.AdminDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	calls := storeCalls(db, r)
	for round := range 3 {
		// Fill the pool with several connections, then end them all.
		fillPool(t, db, 6)
		var n int
		if err := admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, dbName).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Fatal("no connection to terminate")
		}
		time.Sleep(50 * time.Millisecond) // let the server close them
		var unavailable int
		for name, call := range calls {
			start := time.Now()
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := call(cctx)
			cancel()
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("round %d: %s took %v", round, name, took)
			}
			unavailableOrNil(t, fmt.Sprintf("round %d: %s after the connections ended", round, name), err)
			if err != nil {
				unavailable++
			}
		}
		t.Logf("round %d: %d connections ended, %d of %d calls answered ErrUnavailable", round, n, unavailable, len(calls))
		// Recovered: every call works again.
		for name, call := range calls {
			var err error
			for range 5 {
				if err = call(ctx); err == nil {
					break
				}
			}
			if err != nil {
				t.Errorf("round %d: %s does not recover: %v", round, name, err)
			}
		}
	}
}

// fillPool makes db's pool hold n idle connections.
func fillPool(t testing.TB, db *DB, n int) {
	t.Helper()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			// A connection ended by the server may fail this once.
			db.SQL().ExecContext(t.Context(), `SELECT pg_sleep(0.05)`)
		})
	}
	wg.Wait()
	if idle := db.SQL().Stats().Idle; idle < n {
		t.Logf("%d idle connections, wanted %d", idle, n)
	}
}

// proxy forwards TCP connections from a local port to target until
// stopped; start may be called again (same port) after stop.
type proxy struct {
	target string
	addr   string
	mu     sync.Mutex
	l      net.Listener
	conns  map[net.Conn]bool
	wg     sync.WaitGroup
}

func (p *proxy) start(t testing.TB) {
	t.Helper()
	addr := p.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var l net.Listener
	var err error
	for range 50 { // the port may linger for a moment after stop
		if l, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.l, p.addr = l, l.Addr().String()
	if p.conns == nil {
		p.conns = map[net.Conn]bool{}
	}
	p.mu.Unlock()
	p.wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[up] = true, true
			p.mu.Unlock()
			pipe := func(dst, src net.Conn) {
				io.Copy(dst, src)
				dst.Close()
				src.Close()
			}
			go pipe(up, c)
			go pipe(c, up)
		}
	})
}

// stop closes the listener and every forwarded connection, as a server
// that goes away.
func (p *proxy) stop() {
	p.mu.Lock()
	if p.l != nil {
		p.l.Close()
	}
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// TestPostgresServerGoesAway reaches PostgreSQL through a proxy and
// stops the proxy: every call answers ErrUnavailable at once, and the
// store works again by itself when the server is back.
func TestPostgresServerGoesAway(t *testing.T) {
	t.Parallel()
	schema := pgSchema(t)
	u, err := url.Parse(schema)
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{target: u.Host}
	p.start(t)
	defer p.stop()
	u.Host = p.addr
	db := openPostgresAt(t, u.String(), nil)
	ctx := t.Context()
	must(t, db.Directory().CreateAccount(ctx, store.Account{User: "alice", Domains: []string{"alice.test"}}))
	r := newSession("alice")
	must(t, db.Sessions().Create(ctx, r))
	calls := storeCalls(db, r)

	for round := range 2 {
		// Several idle connections in the pool, all broken by the stop.
		// Twice: pgx checks a connection before it is reused if it was
		// last reset more than a second ago (or never).
		fillPool(t, db, 6)
		fillPool(t, db, 6)
		p.stop()
		// Ping first, while the pool still holds broken connections that
		// pgx will not check: database/sql retries a query on another
		// connection, but not a ping.
		if err := db.Ping(ctx); !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("round %d: first Ping with the server gone: %v, want ErrUnavailable", round, err)
		}
		for name, call := range calls {
			start := time.Now()
			err := call(ctx)
			took := time.Since(start)
			if !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("round %d: %s with the server gone: %v, want ErrUnavailable", round, name, err)
			}
			if took > time.Second {
				t.Errorf("round %d: %s took %v to fail", round, name, took)
			}
			if err != nil && strings.Contains(err.Error(), "\n") {
				t.Errorf("round %d: %s: a multi-line error: %q", round, name, err)
			}
		}
		p.start(t)
		for name, call := range calls {
			if err := call(ctx); err != nil {
				t.Errorf("round %d: %s with the server back: %v", round, name, err)
			}
		}
	}
	// A deadline that passes while waiting is ErrUnavailable too; a
	// cancellation is the context's error as it is.
	p.stop()
	defer p.start(t)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := db.Sessions().Get(cctx, r.ID); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with a canceled context: %v", err)
	}
}
