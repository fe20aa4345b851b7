package tempdb

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgEnv is a reachable PostgreSQL server: the Server under test and an
// admin connection for setting up and inspecting.
type pgEnv struct {
	srv   *Postgres
	admin *pgx.Conn
	dsn   string
}

func newPgEnv(t *testing.T) *pgEnv {
	t.Helper()
	dsn := envOr("UAPID_TEST_POSTGRES_DSN", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
	srv, err := NewPostgres(dsn)
	if err != nil {
		unreachable(t, "PostgreSQL (UAPID_TEST_POSTGRES_DSN)", err)
	}
	t.Cleanup(func() { srv.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close(context.Background()) })
	return &pgEnv{srv: srv, admin: admin, dsn: dsn}
}

func (e *pgEnv) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	if _, err := e.admin.Exec(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func pgIdent(t *testing.T, s string) string {
	t.Helper()
	q, err := pgQuoteIdent(s)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// account creates the account's group role (NOLOGIN, with attrs) and a
// database it owns, and removes both at cleanup.
func (e *pgEnv) account(t *testing.T, name, attrs string) (db string) {
	t.Helper()
	db = name + "_db"
	e.exec(t, "CREATE ROLE "+pgIdent(t, name)+" NOLOGIN "+attrs)
	e.exec(t, "CREATE DATABASE "+pgIdent(t, db)+" OWNER "+pgIdent(t, name))
	t.Cleanup(func() {
		ctx := context.Background()
		e.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgIdent(t, db)+" WITH (FORCE)")
		e.admin.Exec(ctx, "DROP ROLE IF EXISTS "+pgIdent(t, name))
	})
	return db
}

// dropAtCleanup removes a temp role the test may leave (before the
// account's cleanup runs, since cleanups run last-in first-out).
func (e *pgEnv) dropAtCleanup(t *testing.T, name string) {
	t.Cleanup(func() { e.srv.Drop(context.Background(), name) })
}

// login connects as u to database db over 127.0.0.1 with u's password.
func (e *pgEnv) login(ctx context.Context, t *testing.T, u User, db string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(e.dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Host, cfg.User, cfg.Password, cfg.Database = "127.0.0.1", u.Name, u.Password, db
	return pgx.ConnectConfig(ctx, cfg)
}

func (e *pgEnv) exists(t *testing.T, name string) bool {
	t.Helper()
	ok, err := e.srv.Exists(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func (e *pgEnv) owner(t *testing.T, db, table string) string {
	t.Helper()
	ctx := context.Background()
	cfg, _ := pgx.ParseConfig(e.dsn)
	cfg.Database = db
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var o string
	if err := c.QueryRow(ctx, `SELECT tableowner FROM pg_tables WHERE schemaname = 'public' AND tablename = $1`, table).Scan(&o); err != nil {
		t.Fatalf("owner of %s.%s: %v", db, table, err)
	}
	return o
}

func TestPostgresTempUser(t *testing.T) {
	ctx := context.Background()
	e := newPgEnv(t)
	acct, other := testAccount(t), testAccount(t)
	db := e.account(t, acct, "")
	otherDB := e.account(t, other, "")

	l, _ := testLedger(t)
	log, logs := testLogger()
	m := &Manager{Ledger: l, Servers: []Server{e.srv}, Log: log}
	u := testUser(t, acct, "sess-1")
	e.dropAtCleanup(t, u.Name)
	if err := m.Create(ctx, u); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if !e.exists(t, u.Name) {
		t.Fatal("role does not exist after Create")
	}

	// The role's attributes and password (this server trusts 127.0.0.1,
	// so a login does not prove the password: check what is stored).
	var login, super, createdb, createrole, repl, bypass bool
	var verifier string
	if err := e.admin.QueryRow(ctx, `SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolreplication,
		rolbypassrls, coalesce(rolpassword, '') FROM pg_authid WHERE rolname = $1`, u.Name).
		Scan(&login, &super, &createdb, &createrole, &repl, &bypass, &verifier); err != nil {
		t.Fatal(err)
	}
	if !login || super || createdb || createrole || repl || bypass {
		t.Errorf("attributes login=%v super=%v createdb=%v createrole=%v replication=%v bypassrls=%v",
			login, super, createdb, createrole, repl, bypass)
	}
	if !strings.HasPrefix(verifier, "SCRAM-SHA-256$4096:") {
		t.Errorf("rolpassword is not a SCRAM-SHA-256 verifier")
	}
	if strings.Contains(verifier, u.Password) {
		t.Errorf("rolpassword holds the plain password")
	}
	var member, memberOther, memberSuper bool
	if err := e.admin.QueryRow(ctx, `SELECT pg_has_role($1, $2, 'MEMBER'), pg_has_role($1, $3, 'MEMBER'),
		pg_has_role($1, 'postgres', 'MEMBER')`, u.Name, acct, other).Scan(&member, &memberOther, &memberSuper); err != nil {
		t.Fatal(err)
	}
	if !member || memberOther || memberSuper {
		t.Errorf("membership: account %v, other %v, postgres %v", member, memberOther, memberSuper)
	}

	// Log in and use the account's database.
	conn, err := e.login(ctx, t, u, db)
	if err != nil {
		t.Fatalf("temp role cannot log in: %v", err)
	}
	defer conn.Close(ctx)
	var cur string
	if err := conn.QueryRow(ctx, `SELECT current_user`).Scan(&cur); err != nil || cur != acct {
		t.Errorf("current_user = %q, %v; want the account's role (SET role default)", cur, err)
	}
	for _, q := range []string{
		`CREATE TABLE t (id int PRIMARY KEY, v text)`,
		`INSERT INTO t VALUES (1, 'hello')`,
		// Created as the temp role itself: Drop must hand it to the account.
		`SET ROLE NONE`,
		`CREATE TABLE t2 (id int)`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("temp role: %s: %v", q, err)
		}
	}
	var v string
	if err := conn.QueryRow(ctx, `SELECT v FROM t WHERE id = 1`).Scan(&v); err != nil || v != "hello" {
		t.Fatalf("select = %q, %v", v, err)
	}
	if o := e.owner(t, db, "t"); o != acct {
		t.Errorf("owner of t = %q, want %q", o, acct)
	}
	if o := e.owner(t, db, "t2"); o != u.Name {
		t.Errorf("owner of t2 = fingerprint %s, want the temp role", Fingerprint(o))
	}
	for _, q := range []string{`CREATE ROLE x`, `CREATE DATABASE x`, `SET ROLE postgres`} {
		if _, err := conn.Exec(ctx, q); err == nil {
			t.Errorf("temp role may: %s", q)
		}
	}
	// Another account's database: connecting is PUBLIC's default, but
	// nothing can be created there.
	if oc, err := e.login(ctx, t, u, otherDB); err == nil {
		if _, err := oc.Exec(ctx, `CREATE TABLE x (id int)`); err == nil || sqlState(err) != "42501" {
			t.Errorf("CREATE TABLE in another account's database: %v, want 42501", err)
		}
		if _, err := oc.Exec(ctx, "SET ROLE "+pgIdent(t, other)); err == nil {
			t.Errorf("temp role may SET ROLE to another account")
		}
		oc.Close(ctx)
	}

	// Drop: gone, its connection ended, its table handed to the account.
	if err := m.Drop(ctx, u.Name); err != nil {
		t.Fatalf("Drop: %v", err)
	}
	if e.exists(t, u.Name) {
		t.Fatal("role exists after Drop")
	}
	if err := conn.Ping(ctx); err == nil {
		t.Error("the temp role's open connection survived Drop")
	}
	if o := e.owner(t, db, "t2"); o != acct {
		t.Errorf("owner of t2 after Drop = %q, want %q", o, acct)
	}
	if c, err := e.login(ctx, t, u, db); err == nil {
		c.Close(ctx)
		t.Error("temp role can log in after Drop")
	}
	if err := m.Drop(ctx, u.Name); err != nil {
		t.Fatalf("second Drop: %v", err)
	}
	if err := e.srv.Drop(ctx, u.Name); err != nil {
		t.Fatalf("server Drop of an absent role: %v", err)
	}
	if got := ledgerNames(t, l); len(got) != 0 {
		t.Errorf("ledger = %v", got)
	}
	assertNoSecrets(t, "log", logs.String(), u)
}

// TestPostgresCreateIdempotent: a role left by an interrupted attempt
// (with an object it owns) is replaced.
func TestPostgresCreateIdempotent(t *testing.T) {
	ctx := context.Background()
	e := newPgEnv(t)
	acct := testAccount(t)
	db := e.account(t, acct, "")
	u := testUser(t, acct, "s")
	e.dropAtCleanup(t, u.Name)
	if err := e.srv.Create(ctx, u); err != nil {
		t.Fatal(err)
	}
	c, err := e.login(ctx, t, u, db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, `SET ROLE NONE; CREATE TABLE left_over (id int)`); err != nil {
		t.Fatal(err)
	}
	c.Close(ctx)
	var before, after string
	e.admin.QueryRow(ctx, `SELECT rolpassword FROM pg_authid WHERE rolname = $1`, u.Name).Scan(&before)
	u.Password = randFrom(t, alnumUnder, 32)
	if err := e.srv.Create(ctx, u); err != nil {
		t.Fatalf("second Create: %v", err)
	}
	e.admin.QueryRow(ctx, `SELECT rolpassword FROM pg_authid WHERE rolname = $1`, u.Name).Scan(&after)
	if before == after || after == "" {
		t.Error("password not replaced")
	}
	if err := e.srv.Drop(ctx, u.Name); err != nil || e.exists(t, u.Name) {
		t.Fatalf("Drop: %v", err)
	}
}

// TestPostgresUnsafeOrMissingGroup: an account role with administrative
// powers is refused; without an account role the login role has no
// membership at all.
func TestPostgresUnsafeOrMissingGroup(t *testing.T) {
	ctx := context.Background()
	e := newPgEnv(t)
	for _, attrs := range []string{"SUPERUSER", "CREATEROLE", "BYPASSRLS", "REPLICATION", "IN ROLE pg_read_server_files"} {
		acct := testAccount(t)
		e.account(t, acct, attrs)
		u := testUser(t, acct, "s")
		e.dropAtCleanup(t, u.Name)
		err := e.srv.Create(ctx, u)
		if !errors.Is(err, ErrUnsafeAccount) {
			t.Errorf("%s: Create = %v, want ErrUnsafeAccount", attrs, err)
		}
		if e.exists(t, u.Name) {
			t.Errorf("%s: role created", attrs)
		}
	}
	// A group of a group with power is unsafe as well.
	boss, acct := testAccount(t), testAccount(t)
	e.account(t, boss, "CREATEROLE")
	e.account(t, acct, "IN ROLE "+pgIdent(t, boss))
	u := testUser(t, acct, "s")
	e.dropAtCleanup(t, u.Name)
	if err := e.srv.Create(ctx, u); !errors.Is(err, ErrUnsafeAccount) {
		t.Errorf("nested: Create = %v, want ErrUnsafeAccount", err)
	}

	noRole := testAccount(t)
	u = testUser(t, noRole, "s")
	e.dropAtCleanup(t, u.Name)
	if err := e.srv.Create(ctx, u); err != nil {
		t.Fatalf("Create without an account role: %v", err)
	}
	var n int
	if err := e.admin.QueryRow(ctx, `SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member
		WHERE r.rolname = $1`, u.Name).Scan(&n); err != nil || n != 0 {
		t.Errorf("memberships = %d, %v", n, err)
	}
	c, err := e.login(ctx, t, u, "postgres")
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	c.Close(ctx)
	if err := e.srv.Drop(ctx, u.Name); err != nil || e.exists(t, u.Name) {
		t.Fatalf("Drop: %v", err)
	}
}

// TestPostgresSweep mirrors TestMySQLSweep.
func TestPostgresSweep(t *testing.T) {
	ctx := context.Background()
	e := newPgEnv(t)
	acct := testAccount(t)
	e.account(t, acct, "")
	l, db := testLedger(t)

	foreign := testUser(t, acct, "none")
	e.exec(t, "CREATE ROLE "+pgIdent(t, foreign.Name)+" LOGIN")
	t.Cleanup(func() { e.admin.Exec(context.Background(), "DROP ROLE IF EXISTS "+pgIdent(t, foreign.Name)) })

	dead := testUser(t, acct, "dead-session")
	alive := testUser(t, acct, "live-session")
	for _, u := range []User{dead, alive} {
		e.dropAtCleanup(t, u.Name)
		if err := record(ctx, l, u); err != nil {
			t.Fatal(err)
		}
		if err := e.srv.Create(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	srv2, err := NewPostgres(e.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer srv2.Close()
	l2 := db.Ledger()
	m2 := &Manager{Ledger: l2, Servers: []Server{srv2}}
	n, err := m2.Sweep(ctx, func(_ context.Context, id string) (bool, error) { return id == "live-session", nil })
	if err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v; want 1, nil", n, err)
	}
	if e.exists(t, dead.Name) || !e.exists(t, alive.Name) || !e.exists(t, foreign.Name) {
		t.Errorf("after Sweep: dead %v alive %v foreign %v",
			e.exists(t, dead.Name), e.exists(t, alive.Name), e.exists(t, foreign.Name))
	}
	if got := ledgerNames(t, l2); !slices.Equal(got, []string{alive.Name}) {
		t.Errorf("ledger = %v", got)
	}
	if err := m2.Drop(ctx, foreign.Name); err != nil || !e.exists(t, foreign.Name) {
		t.Errorf("Manager.Drop of an unrecorded role: %v, exists %v", err, e.exists(t, foreign.Name))
	}
}

// TestBothServers runs one Manager over MariaDB and PostgreSQL.
func TestBothServers(t *testing.T) {
	ctx := context.Background()
	my, pg := newMySQLEnv(t), newPgEnv(t)
	acct := testAccount(t)
	my.createDB(t, acct+"_wp")
	pg.account(t, acct, "")
	l, _ := testLedger(t)
	m := &Manager{Ledger: l, Servers: []Server{my.srv, pg.srv}}
	u := testUser(t, acct, "s")
	my.dropAtCleanup(t, u.Name)
	pg.dropAtCleanup(t, u.Name)
	if err := m.Create(ctx, u); err != nil {
		t.Fatal(err)
	}
	if !my.exists(t, u.Name) || !pg.exists(t, u.Name) {
		t.Fatal("not created on both")
	}
	if err := m.Drop(ctx, u.Name); err != nil {
		t.Fatal(err)
	}
	if my.exists(t, u.Name) || pg.exists(t, u.Name) || len(ledgerNames(t, l)) != 0 {
		t.Fatal("not dropped from both")
	}
}

// TestPostgresQuotingRoundTrip sends the quoting functions' output to the
// server with standard_conforming_strings on and off.
func TestPostgresQuotingRoundTrip(t *testing.T) {
	ctx := context.Background()
	e := newPgEnv(t)
	for _, scs := range []string{"on", "off"} {
		e.exec(t, "SET standard_conforming_strings = "+scs)
		e.exec(t, "SET escape_string_warning = off")
		for _, s := range trickyStrings {
			lit, err := pgQuoteLiteral(s)
			if err != nil {
				t.Fatal(err)
			}
			var got string
			if err := e.admin.QueryRow(ctx, "SELECT "+lit+"::text").Scan(&got); err != nil || got != s {
				t.Errorf("scs=%s: SELECT %s = %q, %v; want %q", scs, lit, got, err, s)
			}
			id := pgIdent(t, s)
			rows, err := e.admin.Query(ctx, "SELECT 1 AS "+id)
			if err != nil {
				t.Errorf("scs=%s: SELECT 1 AS %s: %v", scs, id, err)
				continue
			}
			fd := rows.FieldDescriptions()
			rows.Close()
			if len(fd) != 1 || fd[0].Name != s {
				t.Errorf("scs=%s: column %v, want %q", scs, fd, s)
			}
		}
	}
	e.exec(t, "RESET standard_conforming_strings")
}
