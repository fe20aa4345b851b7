package tempdb

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// mysqlEnv is a reachable MariaDB server: the Server under test, a root
// connection for setting up and inspecting, and the unix socket path.
type mysqlEnv struct {
	srv    *MySQL
	root   *sql.DB
	socket string
}

func newMySQLEnv(t *testing.T) *mysqlEnv {
	t.Helper()
	dsn := envOr("UAPID_TEST_MYSQL_DSN", "root@tcp(127.0.0.1:3306)/")
	srv, err := NewMySQL(dsn)
	if err != nil {
		unreachable(t, "MariaDB (UAPID_TEST_MYSQL_DSN)", err)
	}
	t.Cleanup(func() { srv.Close() })
	root, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	e := &mysqlEnv{srv: srv, root: root}
	if err := root.QueryRow(`SELECT @@socket`).Scan(&e.socket); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *mysqlEnv) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	if _, err := e.root.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// createDB creates a database as root and drops it at cleanup.
func (e *mysqlEnv) createDB(t *testing.T, name string) {
	t.Helper()
	q, err := mysqlQuoteIdent(name)
	if err != nil {
		t.Fatal(err)
	}
	e.exec(t, "CREATE DATABASE "+q)
	t.Cleanup(func() { e.root.Exec("DROP DATABASE IF EXISTS " + q) })
}

// dropAtCleanup makes sure a temp user does not outlive the test.
func (e *mysqlEnv) dropAtCleanup(t *testing.T, name string) {
	t.Cleanup(func() { e.root.Exec("DROP USER IF EXISTS " + rootAcct(name)) })
}

// rootAcct quotes 'name'@'localhost' for the root connection (default
// sql_mode; test names are plain).
func rootAcct(name string) string {
	q, err := mysqlQuoteString(name, false)
	if err != nil {
		panic(err)
	}
	return q + "@'localhost'"
}

// login opens a connection as the temporary user over the unix socket
// (where a 'localhost' account is matched).
func (e *mysqlEnv) login(ctx context.Context, u User) (*sql.Conn, *sql.DB, error) {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr = u.Name, u.Password, "unix", e.socket
	cfg.Timeout = 5 * time.Second
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, nil, err
	}
	db := sql.OpenDB(c)
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return conn, db, nil
}

func (e *mysqlEnv) exists(t *testing.T, name string) bool {
	t.Helper()
	ok, err := e.srv.Exists(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestMySQLTempUser(t *testing.T) {
	ctx := context.Background()
	e := newMySQLEnv(t)
	acct, other := testAccount(t), testAccount(t)
	e.createDB(t, acct+"_wp")
	e.createDB(t, other+"_db")
	e.createDB(t, acct+"x")
	e.exec(t, "CREATE TABLE `"+other+"_db`.secret (v TEXT)")
	e.exec(t, "INSERT INTO `"+other+"_db`.secret VALUES ('other account data')")

	l, _ := testLedger(t)
	log, logs := testLogger()
	m := &Manager{Ledger: l, Servers: []Server{e.srv}, Log: log}
	u := testUser(t, acct, "sess-1")
	e.dropAtCleanup(t, u.Name)
	if err := m.Create(ctx, u); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if !e.exists(t, u.Name) {
		t.Fatal("user does not exist after Create")
	}

	conn, tdb, err := e.login(ctx, u)
	if err != nil {
		t.Fatalf("temp user cannot log in over the socket: %v", err)
	}
	defer tdb.Close()
	defer conn.Close()
	// Full use of the account's database.
	wp := "`" + acct + "_wp`"
	for _, q := range []string{
		"CREATE TABLE " + wp + ".t (id INT PRIMARY KEY, v VARCHAR(20))",
		"INSERT INTO " + wp + ".t VALUES (1, 'hello')",
		"ALTER TABLE " + wp + ".t ADD COLUMN w INT",
		"CREATE INDEX i ON " + wp + ".t (v)",
	} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatalf("temp user: %s: %v", q, err)
		}
	}
	var v string
	if err := conn.QueryRowContext(ctx, "SELECT v FROM "+wp+".t WHERE id = 1").Scan(&v); err != nil || v != "hello" {
		t.Fatalf("select = %q, %v", v, err)
	}
	// Nothing of another account, nor of a database matching <acct>% but
	// not <acct>\_%.
	for _, q := range []string{
		"USE `" + other + "_db`",
		"SELECT v FROM `" + other + "_db`.secret",
		"CREATE TABLE `" + other + "_db`.t (id INT)",
		"USE `" + acct + "x`",
		"CREATE TABLE `" + acct + "x`.t (id INT)",
		"CREATE DATABASE `" + acct + "y`",
		"SELECT COUNT(*) FROM mysql.user",
		"CREATE USER 'x" + acct + "'@'localhost'",
	} {
		if _, err := conn.ExecContext(ctx, q); err == nil {
			t.Errorf("temp user may: %s", q)
			e.root.Exec("DROP DATABASE IF EXISTS `" + acct + "y`")
		} else if n := mysqlErrNumber(err); n != 1044 && n != 1142 && n != 1227 && n != 1045 {
			t.Errorf("%s: unexpected error %v", q, err)
		}
	}
	rows, err := conn.QueryContext(ctx, "SHOW DATABASES")
	if err != nil {
		t.Fatal(err)
	}
	var dbs []string
	for rows.Next() {
		var d string
		rows.Scan(&d)
		dbs = append(dbs, d)
	}
	rows.Close()
	if !slices.Contains(dbs, acct+"_wp") {
		t.Errorf("SHOW DATABASES %v lacks the account's database", dbs)
	}
	for _, d := range dbs {
		if d != "information_schema" && !strings.HasPrefix(d, acct+"_") {
			t.Errorf("temp user sees database %q", d)
		}
	}

	// Grants: USAGE on *.* and ALL on the account pattern, nothing else.
	grants := e.grants(t, u.Name)
	if len(grants) != 2 {
		t.Errorf("SHOW GRANTS = %q, want 2 rows", grants)
	}
	wantPattern := "GRANT ALL PRIVILEGES ON `" + acct + `\_%` + "`.* TO `" + u.Name + "`@`localhost`"
	if !slices.Contains(grants, wantPattern) {
		t.Errorf("SHOW GRANTS = %q, lacks %q", grants, wantPattern)
	}
	for _, g := range grants {
		if strings.Contains(g, " ON *.* ") && !strings.HasPrefix(g, "GRANT USAGE ON *.* ") {
			t.Errorf("global privilege granted: %q", g)
		}
		if strings.Contains(g, "WITH GRANT OPTION") {
			t.Errorf("grant option granted: %q", g)
		}
	}
	var hosts []string
	rows, err = e.root.Query("SELECT Host FROM mysql.user WHERE User = ?", u.Name)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var h string
		rows.Scan(&h)
		hosts = append(hosts, h)
	}
	rows.Close()
	if !slices.Equal(hosts, []string{"localhost"}) {
		t.Errorf("hosts = %v, want [localhost]", hosts)
	}
	var sel, super, grant, file string
	if err := e.root.QueryRow(`SELECT Select_priv, Super_priv, Grant_priv, File_priv FROM mysql.user
		WHERE User = ? AND Host = 'localhost'`, u.Name).Scan(&sel, &super, &grant, &file); err != nil {
		t.Fatal(err)
	}
	if sel+super+grant+file != "NNNN" {
		t.Errorf("global privileges Select/Super/Grant/File = %s%s%s%s", sel, super, grant, file)
	}

	// Drop: the user is gone, its open connection is ended, it cannot log
	// in again; dropping twice is fine.
	if err := m.Drop(ctx, u.Name); err != nil {
		t.Fatalf("Drop: %v", err)
	}
	if e.exists(t, u.Name) {
		t.Fatal("user exists after Drop")
	}
	if err := conn.PingContext(ctx); err == nil {
		if _, err := conn.ExecContext(ctx, "SELECT 1"); err == nil {
			t.Error("the temp user's open connection survived Drop")
		}
	}
	if c, d, err := e.login(ctx, u); err == nil {
		c.Close()
		d.Close()
		t.Error("temp user can log in after Drop")
	} else if n := mysqlErrNumber(err); n != 1045 && n != 1698 {
		t.Errorf("login after Drop: %v, want access denied (1045 or 1698)", err)
	}
	if err := m.Drop(ctx, u.Name); err != nil {
		t.Fatalf("second Drop: %v", err)
	}
	if err := e.srv.Drop(ctx, u.Name); err != nil {
		t.Fatalf("server Drop of an absent user: %v", err)
	}
	if got := ledgerNames(t, l); len(got) != 0 {
		t.Errorf("ledger = %v", got)
	}
	assertNoSecrets(t, "log", logs.String(), u)
}

func (e *mysqlEnv) grants(t *testing.T, name string) []string {
	t.Helper()
	rows, err := e.root.Query("SHOW GRANTS FOR " + rootAcct(name))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var g string
		rows.Scan(&g)
		out = append(out, g)
	}
	return out
}

// TestMySQLCreateIdempotent: a user left by an interrupted attempt is
// replaced, with the new password and exactly the account's grants.
func TestMySQLCreateIdempotent(t *testing.T) {
	ctx := context.Background()
	e := newMySQLEnv(t)
	acct := testAccount(t)
	e.createDB(t, acct+"_db")
	u := testUser(t, acct, "s")
	e.dropAtCleanup(t, u.Name)
	if err := e.srv.Create(ctx, u); err != nil {
		t.Fatal(err)
	}
	// Something added a grant meanwhile; a re-create drops it.
	e.exec(t, "GRANT SELECT ON mysql.* TO "+rootAcct(u.Name))
	u2 := u
	u2.Password = randFrom(t, alnumUnder, 32)
	if err := e.srv.Create(ctx, u2); err != nil {
		t.Fatalf("second Create: %v", err)
	}
	if c, d, err := e.login(ctx, u); err == nil {
		c.Close()
		d.Close()
		t.Error("old password still works")
	}
	c, d, err := e.login(ctx, u2)
	if err != nil {
		t.Fatalf("new password: %v", err)
	}
	c.Close()
	d.Close()
	if g := e.grants(t, u.Name); len(g) != 2 {
		t.Errorf("grants after re-create = %q", g)
	}
	if err := e.srv.Drop(ctx, u.Name); err != nil {
		t.Fatal(err)
	}
}

// TestMySQLSweep: after a "crash" (recorded and created, never dropped), a
// new Manager on the same ledger drops the user whose session is gone,
// keeps the one whose session lives, and never touches an unrecorded cpses_
// user.
func TestMySQLSweep(t *testing.T) {
	ctx := context.Background()
	e := newMySQLEnv(t)
	acct := testAccount(t)
	e.createDB(t, acct+"_wp")
	l, db := testLedger(t)

	foreign := testUser(t, acct, "none")
	e.dropAtCleanup(t, foreign.Name)
	e.exec(t, "CREATE USER "+rootAcct(foreign.Name)+" IDENTIFIED BY 'foreign-pw'")

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
	// The process "crashes" here. A new one starts on the same store.
	srv2, err := NewMySQL(envOr("UAPID_TEST_MYSQL_DSN", "root@tcp(127.0.0.1:3306)/"))
	if err != nil {
		t.Fatal(err)
	}
	defer srv2.Close()
	l2 := db.Ledger()
	log, logs := testLogger()
	m2 := &Manager{Ledger: l2, Servers: []Server{srv2}, Log: log}
	n, err := m2.Sweep(ctx, func(_ context.Context, id string) (bool, error) { return id == "live-session", nil })
	if err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v; want 1, nil", n, err)
	}
	if e.exists(t, dead.Name) {
		t.Error("Sweep left the user of the dead session")
	}
	if !e.exists(t, alive.Name) {
		t.Error("Sweep dropped the user of a live session")
	}
	if !e.exists(t, foreign.Name) {
		t.Error("Sweep dropped an unrecorded user")
	}
	if got := ledgerNames(t, l2); !slices.Equal(got, []string{alive.Name}) {
		t.Errorf("ledger = %v", got)
	}
	// Drop of an unrecorded name leaves it alone too.
	if err := m2.Drop(ctx, foreign.Name); err != nil {
		t.Fatal(err)
	}
	if !e.exists(t, foreign.Name) {
		t.Error("Manager.Drop dropped an unrecorded user")
	}
	assertNoSecrets(t, "log", logs.String(), dead, alive, foreign)
	if err := m2.Drop(ctx, alive.Name); err != nil || e.exists(t, alive.Name) {
		t.Fatalf("Drop alive: %v", err)
	}
}

// TestMySQLRollback: a later server's failure undoes the MariaDB user.
func TestMySQLRollback(t *testing.T) {
	ctx := context.Background()
	e := newMySQLEnv(t)
	acct := testAccount(t)
	l, _ := testLedger(t)
	bad := newFake(t, "postgresql", l)
	bad.failCreate = errors.New("refused")
	m := &Manager{Ledger: l, Servers: []Server{e.srv, bad}}
	u := testUser(t, acct, "s")
	e.dropAtCleanup(t, u.Name)
	if err := m.Create(ctx, u); err == nil {
		t.Fatal("Create succeeded")
	}
	if e.exists(t, u.Name) {
		t.Error("MariaDB user left behind")
	}
	if got := ledgerNames(t, l); len(got) != 0 {
		t.Errorf("ledger = %v", got)
	}
}

// TestMySQLQuotingRoundTrip sends the quoting functions' output to the
// server in both backslash modes and reads back the original text.
func TestMySQLQuotingRoundTrip(t *testing.T) {
	ctx := context.Background()
	e := newMySQLEnv(t)
	conn, err := e.root.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, mode := range []string{"", "NO_BACKSLASH_ESCAPES", "ANSI_QUOTES"} {
		if _, err := conn.ExecContext(ctx, "SET SESSION sql_mode = ?", mode); err != nil {
			t.Fatal(err)
		}
		nbe := mode == "NO_BACKSLASH_ESCAPES"
		for _, s := range trickyStrings {
			lit, err := mysqlQuoteString(s, nbe)
			if err != nil {
				t.Fatal(err)
			}
			var got string
			if err := conn.QueryRowContext(ctx, "SELECT "+lit).Scan(&got); err != nil || got != s {
				t.Errorf("mode %q: SELECT %s = %q, %v; want %q", mode, lit, got, err, s)
			}
			if strings.ContainsFunc(s, func(r rune) bool { return r > 0xffff }) {
				continue // MariaDB identifiers are utf8mb3: no 4-byte characters
			}
			id, err := mysqlQuoteIdent(s)
			if err != nil {
				t.Fatal(err)
			}
			rows, err := conn.QueryContext(ctx, "SELECT 1 AS "+id)
			if err != nil {
				t.Errorf("mode %q: SELECT 1 AS %s: %v", mode, id, err)
				continue
			}
			cols, _ := rows.Columns()
			rows.Close()
			if len(cols) != 1 || cols[0] != s {
				t.Errorf("mode %q: column %q, want %q", mode, cols, s)
			}
		}
	}
	var hash string
	if err := conn.QueryRowContext(ctx, "SELECT PASSWORD('Xy_9')").Scan(&hash); err != nil {
		t.Fatal(err)
	}
	if hash != mysqlNativeHash("Xy_9") {
		t.Errorf("PASSWORD() = %s, mysqlNativeHash = %s", hash, mysqlNativeHash("Xy_9"))
	}
}

// TestMySQLAccountPatternOnServer: the escaped pattern matches exactly the
// account's databases, per the server's own LIKE.
func TestMySQLAccountPatternOnServer(t *testing.T) {
	e := newMySQLEnv(t)
	for _, tc := range []struct {
		db   string
		want bool
	}{
		{"alice_wp", true}, {"alice_", true}, {"alicex", false}, {"alice", false}, {"xalice_wp", false}, {"aliceXwp", false},
	} {
		var got bool
		if err := e.root.QueryRow("SELECT ? LIKE ?", tc.db, mysqlAccountPattern("alice")).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("%q LIKE %q = %v", tc.db, mysqlAccountPattern("alice"), got)
		}
	}
}
