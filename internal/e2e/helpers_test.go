package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/uapid/uapid/internal/store/sqlstore"
	"github.com/uapid/uapid/internal/testserver"
	"github.com/uapid/uapid/internal/tlsutil"
)

// ---------------------------------------------------------------------------
// Environment

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// unreachable skips the test, or fails it when CI is set.
func unreachable(t testing.TB, what string, err error) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not reachable (CI is set, so this is an error): %v", what, err)
	}
	t.Skipf("skipping: %s is not reachable: %v", what, err)
}

const lowerDigits = "abcdefghijklmnopqrstuvwxyz0123456789"

func randFrom(alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rand.IntN(len(alphabet))]
	}
	return string(b)
}

// dbServers are the administrative connections to the real database servers.
type dbServers struct {
	mysqlDSN, pgDSN, socket string
	my                      *sql.DB
	pg                      *pgxpool.Pool
}

// needDBs connects to both database servers (or skips/fails, see
// unreachable).
func needDBs(t *testing.T) *dbServers {
	t.Helper()
	d := &dbServers{
		mysqlDSN: envOr("UAPID_TEST_MYSQL_DSN", "root@tcp(127.0.0.1:3306)/"),
		pgDSN:    envOr("UAPID_TEST_POSTGRES_DSN", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"),
		socket:   envOr("UAPID_TEST_MYSQL_SOCKET", "/run/mysqld/mysqld.sock"),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	my, err := sql.Open("mysql", d.mysqlDSN)
	if err == nil {
		err = my.PingContext(ctx)
		if err != nil {
			my.Close()
		}
	}
	if err != nil {
		unreachable(t, "MariaDB (UAPID_TEST_MYSQL_DSN)", err)
	}
	t.Cleanup(func() { my.Close() })
	d.my = my
	pg, err := pgxpool.New(ctx, d.pgDSN)
	if err == nil {
		err = pg.Ping(ctx)
		if err != nil {
			pg.Close()
		}
	}
	if err != nil {
		unreachable(t, "PostgreSQL (UAPID_TEST_POSTGRES_DSN)", err)
	}
	t.Cleanup(pg.Close)
	d.pg = pg
	return d
}

// cliEnv returns the environment the admin CLI sees: the database DSNs
// (when withDBs) and nothing else.
func (d *dbServers) cliEnv(withDBs bool) func(string) string {
	return func(k string) string {
		if !withDBs {
			return ""
		}
		switch k {
		case "UAPID_MYSQL_DSN":
			return d.mysqlDSN
		case "UAPID_POSTGRES_ADMIN_DSN":
			return d.pgDSN
		}
		return ""
	}
}

// serverArgs are the flags that connect uapid to both database servers.
func (d *dbServers) serverArgs(extra ...string) []string {
	return append([]string{"--mysql-dsn", d.mysqlDSN, "--postgres-admin-dsn", d.pgDSN}, extra...)
}

func (d *dbServers) myExec(t testing.TB, q string, args ...any) {
	t.Helper()
	if _, err := d.my.Exec(q, args...); err != nil {
		t.Fatalf("MariaDB: %s: %v", q, err)
	}
}

func (d *dbServers) pgExec(t testing.TB, q string, args ...any) {
	t.Helper()
	if _, err := d.pg.Exec(context.Background(), q, args...); err != nil {
		t.Fatalf("PostgreSQL: %s: %v", q, err)
	}
}

// mysqlHosts returns the hosts of the MariaDB users called name.
func (d *dbServers) mysqlHosts(t testing.TB, name string) []string {
	t.Helper()
	rows, err := d.my.Query(`SELECT Host FROM mysql.user WHERE User = ? ORDER BY Host`, name)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var hosts []string
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			t.Fatal(err)
		}
		hosts = append(hosts, h)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return hosts
}

func (d *dbServers) pgRoleExists(t testing.TB, name string) bool {
	t.Helper()
	var ok bool
	if err := d.pg.QueryRow(context.Background(),
		`SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1)`, name).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

// state describes where name exists, for messages.
func (d *dbServers) state(t testing.TB, name string) (my, pg bool) {
	t.Helper()
	return len(d.mysqlHosts(t, name)) > 0, d.pgRoleExists(t, name)
}

// assertExists fails unless name exists on both servers.
func (d *dbServers) assertExists(t testing.TB, name, when string) {
	t.Helper()
	if my, pg := d.state(t, name); !my || !pg {
		t.Fatalf("%s: temporary user exists on MariaDB=%v PostgreSQL=%v, want both", when, my, pg)
	}
}

// waitGone polls until name exists on neither server.
func (d *dbServers) waitGone(t testing.TB, name string, timeout time.Duration, when string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		my, pg := d.state(t, name)
		if !my && !pg {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: temporary user still exists after %s (MariaDB=%v PostgreSQL=%v)", when, timeout, my, pg)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func mysqlErrNo(err error) uint16 {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}

func pgState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// ---------------------------------------------------------------------------
// The cast: accounts A and B with their databases on both servers.

type cast struct {
	d                  *dbServers
	A, B               string
	AWP, BDB           string
	rootPass, aPass    string
	fixture            string
	mu                 sync.Mutex
	tempUsers, foreign []string // dropped at cleanup, on both servers
}

// newCast makes two fresh accounts: A owns database A_wp, B owns B_db, on
// MariaDB and (with an account role) on PostgreSQL. Everything is removed
// at cleanup, together with every temporary user the test tracked.
func newCast(t *testing.T, d *dbServers) *cast {
	t.Helper()
	c := &cast{d: d, A: "e" + randFrom(lowerDigits, 7), B: "e" + randFrom(lowerDigits, 7),
		rootPass: "Root-" + randFrom(lowerDigits, 12), aPass: "A-pass-" + randFrom(lowerDigits, 8)}
	for c.B[:2] == c.A[:2] {
		c.B = "e" + randFrom(lowerDigits, 7)
	}
	c.AWP, c.BDB = c.A+"_wp", c.B+"_db"
	c.fixture = fmt.Sprintf(`root:
  password: %q
accounts:
  - user: %s
    password: %q
    domains: [%s.test]
    databases: [%s]
  - user: %s
    password: "B-pass-%s"
    domains: [%s.test]
    databases: [%s]
`, c.rootPass, c.A, c.aPass, c.A, c.AWP, c.B, randFrom(lowerDigits, 8), c.B, c.BDB)

	t.Cleanup(func() { c.cleanup(t) })
	d.myExec(t, "CREATE DATABASE `"+c.AWP+"`")
	d.myExec(t, "CREATE DATABASE `"+c.BDB+"`")
	d.pgExec(t, `CREATE ROLE "`+c.A+`" NOLOGIN`)
	d.pgExec(t, `CREATE DATABASE "`+c.AWP+`" OWNER "`+c.A+`"`)
	d.pgExec(t, `CREATE ROLE "`+c.B+`" NOLOGIN`)
	d.pgExec(t, `CREATE DATABASE "`+c.BDB+`" OWNER "`+c.B+`"`)
	return c
}

// track makes cleanup drop name on both servers (whether or not uapid did).
func (c *cast) track(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tempUsers = append(c.tempUsers, name)
}

func (c *cast) cleanup(t *testing.T) {
	ctx := context.Background()
	var errs []error
	note := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	c.mu.Lock()
	names := slices.Concat(c.tempUsers, c.foreign)
	c.mu.Unlock()
	for _, n := range names {
		_, err := c.d.my.Exec("DROP USER IF EXISTS '" + n + "'@'localhost'")
		note(err)
	}
	for _, db := range []string{c.AWP, c.BDB} {
		_, err := c.d.my.Exec("DROP DATABASE IF EXISTS `" + db + "`")
		note(err)
		_, err = c.d.pg.Exec(ctx, `DROP DATABASE IF EXISTS "`+db+`" WITH (FORCE)`)
		note(err)
	}
	for _, n := range names {
		if c.d.pgRoleExists(t, n) {
			_, err := c.d.pg.Exec(ctx, `DROP OWNED BY "`+n+`"`)
			note(err)
			_, err = c.d.pg.Exec(ctx, `DROP ROLE IF EXISTS "`+n+`"`)
			note(err)
		}
	}
	for _, r := range []string{c.A, c.B} {
		_, err := c.d.pg.Exec(ctx, `DROP ROLE IF EXISTS "`+r+`"`)
		note(err)
	}
	if len(errs) > 0 {
		t.Errorf("cleanup: %v", errors.Join(errs...))
	}
}

// ---------------------------------------------------------------------------
// A running uapid, in-process or as a child process.

type node struct {
	addrs   map[string]string
	roots   *x509.CertPool
	dataDir string
}

func nodeOf(srv *testserver.Server) *node {
	return &node{addrs: srv.Addrs, roots: srv.RootCAs, dataDir: srv.DataDir}
}

func (n *node) url(service, path string) string {
	return "https://" + n.addrs[service] + path
}

// client trusts the node's certificate, keeps cookies and does not follow
// redirects.
func (n *node) client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{
		Timeout: 30 * time.Second,
		Jar:     jar,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: n.roots, ServerName: "localhost"},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

type response struct {
	*http.Response
	body []byte
}

func (r *response) json(t testing.TB) map[string]any {
	t.Helper()
	var v map[string]any
	d := json.NewDecoder(bytes.NewReader(r.body))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		t.Fatalf("response is not a JSON object (%v): %s", err, r.body)
	}
	return v
}

func do(t testing.TB, cl *http.Client, method, u, authz string) *response {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &response{Response: resp, body: body}
}

// cpSession is a logged-in cPanel session: a client with the cpsession
// cookie and the session's security token.
type cpSession struct {
	n     *node
	cl    *http.Client
	token string
}

var tokenRE = regexp.MustCompile(`^/cpsess[0-9]{10}$`)

// login creates a cPanel session for user through WHM create_user_session
// (Basic root) and follows its URL, as a browser would.
func login(t testing.TB, n *node, rootPass, user string) *cpSession {
	t.Helper()
	q := url.Values{"api.version": {"1"}, "user": {user}, "service": {"cpaneld"}}
	r := do(t, n.client(), "GET", n.url("whostmgrd", "/json-api/create_user_session?"+q.Encode()), testserver.Basic("root", rootPass))
	if r.StatusCode != 200 {
		t.Fatalf("create_user_session: HTTP %d: %s", r.StatusCode, r.body)
	}
	v := r.json(t)
	md, _ := v["metadata"].(map[string]any)
	data, _ := v["data"].(map[string]any)
	if md["result"] != json.Number("1") || data == nil {
		t.Fatalf("create_user_session failed: %s", r.body)
	}
	tok, _ := data["cp_security_token"].(string)
	u, err := url.Parse(fmt.Sprint(data["url"]))
	if err != nil || !tokenRE.MatchString(tok) {
		t.Fatalf("create_user_session data %v (%v)", data, err)
	}
	_, port, _ := net.SplitHostPort(n.addrs["cpaneld"])
	if u.Scheme != "https" || u.Hostname() != "localhost" || u.Port() != port || u.Path != tok+"/login/" {
		t.Fatalf("session URL %s does not point at this cPanel listener %s", u, n.addrs["cpaneld"])
	}
	u.Host = n.addrs["cpaneld"] // 127.0.0.1:port; the client checks the certificate for "localhost"
	cl := n.client()
	r = do(t, cl, "GET", u.String(), "")
	if r.StatusCode != http.StatusFound || r.Header.Get("Location") != tok+"/" {
		t.Fatalf("following the session URL: HTTP %d Location %q: %s", r.StatusCode, r.Header.Get("Location"), r.body)
	}
	base, _ := url.Parse(n.url("cpaneld", "/"))
	if !slices.ContainsFunc(cl.Jar.Cookies(base), func(c *http.Cookie) bool { return c.Name == "cpsession" && c.Value != "" }) {
		t.Fatalf("no cpsession cookie after login (Set-Cookie %q)", r.Header.Get("Set-Cookie"))
	}
	return &cpSession{n: n, cl: cl, token: tok}
}

// call runs a UAPI function through the session URL.
func (s *cpSession) call(t testing.TB, module, fn string) map[string]any {
	t.Helper()
	r := do(t, s.cl, "GET", s.n.url("cpaneld", s.token+"/execute/"+module+"/"+fn), "")
	if r.StatusCode != 200 || r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%s::%s: HTTP %d %s: %s", module, fn, r.StatusCode, r.Header.Get("Content-Type"), r.body)
	}
	return r.json(t)
}

var tempNameRE = regexp.MustCompile(`^cpses_([a-z0-9]{2})[0-9a-z]{8}$`)

// createTempUser calls create_temp_user and expects {"created": 1, …}; it
// returns the name (tracked for cleanup).
func (s *cpSession) createTempUser(t testing.TB, c *cast, account string) string {
	t.Helper()
	v := s.call(t, "Session", "create_temp_user")
	data, _ := v["data"].(map[string]any)
	name, _ := data["session_temp_user"].(string)
	if name != "" && c != nil {
		c.track(name)
	}
	if v["status"] != json.Number("1") || v["errors"] != nil || !isEmptyObject(v["metadata"]) ||
		len(data) != 2 || data["created"] != json.Number("1") {
		t.Fatalf("create_temp_user: %v", v)
	}
	if m := tempNameRE.FindStringSubmatch(name); m == nil || m[1] != account[:2] {
		t.Fatalf("session_temp_user %q, want cpses_%s + 8 of [0-9a-z]", name, account[:2])
	}
	return name
}

// wantNotCreated expects exactly {"created": 0} with status 1.
func wantNotCreated(t testing.TB, v map[string]any, what string) {
	t.Helper()
	data, _ := v["data"].(map[string]any)
	if v["status"] != json.Number("1") || v["errors"] != nil || !isEmptyObject(v["metadata"]) ||
		len(data) != 1 || data["created"] != json.Number("0") {
		t.Fatalf("%s: %v, want data {\"created\":0}", what, v)
	}
}

func isEmptyObject(v any) bool {
	m, ok := v.(map[string]any)
	return ok && len(m) == 0
}

// logout posts to {token}/logout/ with the cookie.
func (s *cpSession) logout(t testing.TB) {
	t.Helper()
	r := do(t, s.cl, "POST", s.n.url("cpaneld", s.token+"/logout/"), "")
	if r.StatusCode != http.StatusFound || r.Header.Get("Location") != "/" {
		t.Fatalf("logout: HTTP %d Location %q: %s", r.StatusCode, r.Header.Get("Location"), r.body)
	}
}

// ---------------------------------------------------------------------------
// The SQLite store, read directly.

func openStore(t testing.TB, dataDir string) *sql.DB {
	t.Helper()
	db, err := sqlstore.OpenSQLiteSQL(filepath.Join(dataDir, "uapid.db"))
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// tempPass reads the temporary user's password from the session store (no
// API exposes it, as in cPanel).
func tempPass(t testing.TB, dataDir, name string) string {
	t.Helper()
	db := openStore(t, dataDir)
	defer db.Close()
	var pass string
	if err := db.QueryRow(`SELECT temp_pass FROM sessions WHERE temp_user = ?`, name).Scan(&pass); err != nil {
		t.Fatalf("temp_pass of the session: %v", err)
	}
	if !regexp.MustCompile(`^[0-9A-Za-z_]{32}$`).MatchString(pass) {
		t.Fatalf("stored temp password is not 32 of [0-9A-Za-z_] (%d chars)", len(pass))
	}
	return pass
}

// ledger returns the names in the temp_users ledger.
func ledger(t testing.TB, dataDir string) []string {
	t.Helper()
	db := openStore(t, dataDir)
	defer db.Close()
	rows, err := db.Query(`SELECT name FROM temp_users ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func sessionRows(t testing.TB, dataDir, tempUser string) int {
	t.Helper()
	db := openStore(t, dataDir)
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM sessions WHERE temp_user = ?`, tempUser).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// ---------------------------------------------------------------------------
// What the temporary user may do, checked on the database servers.

// mysqlLogin connects as name over the unix socket.
func (d *dbServers) mysqlLogin(t testing.TB, name, pass string) *sql.DB {
	t.Helper()
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr = name, pass, "unix", d.socket
	cfg.Timeout = 10 * time.Second
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

// checkMySQL proves the MariaDB side of SPEC §3.4 for the temp user name.
func checkMySQL(t *testing.T, c *cast, name, pass string) {
	t.Helper()
	ctx := context.Background()
	if h := c.d.mysqlHosts(t, name); !slices.Equal(h, []string{"localhost"}) {
		t.Errorf("MariaDB hosts of the temp user: %q, want only localhost", h)
	}
	bad := c.d.mysqlLogin(t, name, pass+"x")
	if err := bad.PingContext(ctx); mysqlErrNo(err) != 1045 {
		t.Errorf("login with a wrong password: %v, want error 1045", err)
	}
	db := c.d.mysqlLogin(t, name, pass)
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatalf("temp user cannot log in to MariaDB with its password: %v", err)
	}
	defer conn.Close()
	for _, q := range []string{
		"CREATE TABLE `" + c.AWP + "`.e2e (id INT PRIMARY KEY, v VARCHAR(20))",
		"INSERT INTO `" + c.AWP + "`.e2e VALUES (1, 'hello')",
		"USE `" + c.AWP + "`",
	} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatalf("MariaDB temp user: %s: %v", q, err)
		}
	}
	var v string
	if err := conn.QueryRowContext(ctx, `SELECT v FROM e2e WHERE id = 1`).Scan(&v); err != nil || v != "hello" {
		t.Fatalf("MariaDB temp user: SELECT = %q, %v", v, err)
	}
	var dbs []string
	rows, err := conn.QueryContext(ctx, `SHOW DATABASES`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		rows.Scan(&s)
		dbs = append(dbs, s)
	}
	rows.Close()
	slices.Sort(dbs)
	if !slices.Equal(dbs, []string{c.AWP, "information_schema"}) {
		t.Errorf("MariaDB temp user sees databases %q, want only %s (and information_schema)", dbs, c.AWP)
	}
	// B's database is out of reach, and so is anything global.
	if _, err := conn.ExecContext(ctx, "USE `"+c.BDB+"`"); mysqlErrNo(err) != 1044 {
		t.Errorf("USE %s: %v, want error 1044 (access denied)", c.BDB, err)
	}
	for _, q := range []string{
		"SELECT COUNT(*) FROM `" + c.BDB + "`.nothing",
		"CREATE DATABASE `" + c.B + "_x`",
		"SELECT COUNT(*) FROM mysql.user",
		"CREATE USER 'cpses_e2e_never'@'localhost'",
	} {
		if _, err := conn.ExecContext(ctx, q); err == nil {
			t.Errorf("MariaDB temp user may: %s", q)
			c.d.my.Exec("DROP DATABASE IF EXISTS `" + c.B + "_x`")
			c.d.my.Exec("DROP USER IF EXISTS 'cpses_e2e_never'@'localhost'")
		}
	}
	var grants []string
	rows, err = conn.QueryContext(ctx, `SHOW GRANTS`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var g string
		rows.Scan(&g)
		grants = append(grants, g)
	}
	rows.Close()
	usage := 0
	for _, g := range grants {
		switch {
		case strings.HasPrefix(g, "GRANT USAGE ON *.* TO "):
			usage++
		case strings.HasPrefix(g, "GRANT ALL PRIVILEGES ON `"+c.A+`\_%`+"`.* TO "):
		default:
			t.Errorf("unexpected grant: %s", g)
		}
		if strings.Contains(g, "WITH GRANT OPTION") || strings.Contains(g, c.B) {
			t.Errorf("unexpected grant: %s", g)
		}
	}
	if usage != 1 || len(grants) != 2 {
		t.Errorf("grants %q, want USAGE on *.* and ALL on `%s\\_%%`.*", grants, c.A)
	}
}

// pgLogin connects as name to database db with its password.
func (d *dbServers) pgLogin(t testing.TB, name, pass, db string) (*pgx.Conn, error) {
	t.Helper()
	cfg, err := pgx.ParseConfig(d.pgDSN)
	if err != nil {
		t.Fatal(err)
	}
	cfg.User, cfg.Password, cfg.Database = name, pass, db
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err == nil {
		t.Cleanup(func() { conn.Close(context.Background()) })
	}
	return conn, err
}

// scramMatches reports whether verifier (PostgreSQL's rolpassword) was made
// from password. A server that trusts local connections does not check
// passwords at login, so this proves the password separately.
func scramMatches(verifier, password string) bool {
	rest, ok := strings.CutPrefix(verifier, "SCRAM-SHA-256$")
	if !ok {
		return false
	}
	iterSalt, keys, ok := strings.Cut(rest, "$")
	if !ok {
		return false
	}
	is, s64, ok1 := strings.Cut(iterSalt, ":")
	st64, _, ok2 := strings.Cut(keys, ":")
	iter, err := strconv.Atoi(is)
	salt, err2 := base64.StdEncoding.DecodeString(s64)
	stored, err3 := base64.StdEncoding.DecodeString(st64)
	if !ok1 || !ok2 || err != nil || err2 != nil || err3 != nil {
		return false
	}
	salted, err := pbkdf2.Key(sha256.New, password, salt, iter, sha256.Size)
	if err != nil {
		return false
	}
	h := hmac.New(sha256.New, salted)
	h.Write([]byte("Client Key"))
	sum := sha256.Sum256(h.Sum(nil))
	return hmac.Equal(sum[:], stored)
}

// checkPostgres proves the PostgreSQL side of SPEC §3.4 for name.
func checkPostgres(t *testing.T, c *cast, name, pass string) {
	t.Helper()
	ctx := context.Background()
	var canLogin, super, createdb, createrole, repl, bypass bool
	var verifier string
	if err := c.d.pg.QueryRow(ctx, `SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolreplication,
		rolbypassrls, coalesce(rolpassword, '') FROM pg_catalog.pg_authid WHERE rolname = $1`, name).
		Scan(&canLogin, &super, &createdb, &createrole, &repl, &bypass, &verifier); err != nil {
		t.Fatalf("PostgreSQL role of the temp user: %v", err)
	}
	if !canLogin || super || createdb || createrole || repl || bypass {
		t.Errorf("PostgreSQL role attributes login=%v super=%v createdb=%v createrole=%v replication=%v bypassrls=%v",
			canLogin, super, createdb, createrole, repl, bypass)
	}
	if !scramMatches(verifier, pass) {
		t.Errorf("PostgreSQL role's password is not the session's temp password (verifier prefix %.20q)", verifier)
	}
	if scramMatches(verifier, pass+"x") {
		t.Error("SCRAM check accepts a wrong password")
	}
	var memberA, memberB, direct bool
	if err := c.d.pg.QueryRow(ctx, `SELECT pg_has_role($1, $2, 'MEMBER'), pg_has_role($1, $3, 'MEMBER'),
		EXISTS (SELECT 1 FROM pg_catalog.pg_auth_members m
			JOIN pg_catalog.pg_roles g ON g.oid = m.roleid JOIN pg_catalog.pg_roles u ON u.oid = m.member
			WHERE u.rolname = $1 AND g.rolname = $2)`, name, c.A, c.B).Scan(&memberA, &memberB, &direct); err != nil {
		t.Fatal(err)
	}
	if !memberA || !direct || memberB {
		t.Errorf("PostgreSQL membership: of %s %v (direct %v), of %s %v", c.A, memberA, direct, c.B, memberB)
	}
	conn, err := c.d.pgLogin(t, name, pass, c.AWP)
	if err != nil {
		t.Fatalf("temp role cannot connect to %s: %v", c.AWP, err)
	}
	for _, q := range []string{`CREATE TABLE e2e (id int PRIMARY KEY, v text)`, `INSERT INTO e2e VALUES (1, 'hello')`} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("PostgreSQL temp role in %s: %s: %v", c.AWP, q, err)
		}
	}
	var v string
	if err := conn.QueryRow(ctx, `SELECT v FROM e2e WHERE id = 1`).Scan(&v); err != nil || v != "hello" {
		t.Fatalf("PostgreSQL temp role: SELECT = %q, %v", v, err)
	}
	for _, q := range []string{`CREATE ROLE x`, `CREATE DATABASE x`, `SET ROLE postgres`, `SET ROLE "` + c.B + `"`} {
		if _, err := conn.Exec(ctx, q); err == nil {
			t.Errorf("PostgreSQL temp role may: %s", q)
		}
	}
	// B's database: connecting is PUBLIC's default, creating anything is not.
	if bc, err := c.d.pgLogin(t, name, pass, c.BDB); err == nil {
		for _, q := range []string{`CREATE TABLE x (id int)`, `CREATE SCHEMA x`} {
			if _, err := bc.Exec(ctx, q); pgState(err) != "42501" {
				t.Errorf("PostgreSQL temp role in %s: %s: %v, want 42501 (insufficient privilege)", c.BDB, q, err)
			}
		}
	}
}

// ---------------------------------------------------------------------------
// The real binary, as a child process.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	binDir    string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// uapidBinary builds ./cmd/uapid once per test run.
func uapidBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			buildErr = err
			return
		}
		binDir, err = os.MkdirTemp("", "uapid-e2e-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(binDir, "uapid")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/uapid")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/uapid: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// syncBuffer is a goroutine-safe bytes.Buffer.
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

type proc struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan struct{}
	*node
}

var listenRE = regexp.MustCompile(`^listening service=(\S+) tls=(true|false) addr=(\S+)$`)

// startBinary runs `uapid serve` as a child process on dataDir and waits for
// its three TLS listeners. The process is killed at cleanup.
func startBinary(t *testing.T, bin, dataDir, fixturePath string, extra ...string) *proc {
	t.Helper()
	args := append([]string{"serve", "--data", dataDir, "--fixture", fixturePath, "--hostname", "localhost",
		"--cpanel-addr", "127.0.0.1:0", "--webmail-addr", "127.0.0.1:0", "--whm-addr", "127.0.0.1:0"}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "UAPID_") })
	p := &proc{cmd: cmd, stderr: &syncBuffer{}, done: make(chan struct{}),
		node: &node{addrs: map[string]string{}, dataDir: dataDir}}
	cmd.Stderr = p.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.kill() })
	lines := make(chan [3]string, 8)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listenRE.FindStringSubmatch(sc.Text()); m != nil && m[2] == "true" {
				lines <- [3]string{m[1], m[2], m[3]}
			}
		}
		io.Copy(io.Discard, stdout)
		close(lines)
	}()
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	timeout := time.After(30 * time.Second)
	for len(p.addrs) < 3 {
		select {
		case l, ok := <-lines:
			if !ok {
				<-p.done
				t.Fatalf("uapid serve exited before listening (%v):\n%s", cmd.ProcessState, p.stderr.String())
			}
			p.addrs[l[0]] = l[2]
		case <-timeout:
			t.Fatalf("uapid serve did not listen within 30s:\n%s", p.stderr.String())
		}
	}
	pem, err := os.ReadFile(filepath.Join(dataDir, tlsutil.CertFile))
	if err != nil {
		t.Fatal(err)
	}
	p.roots = x509.NewCertPool()
	if !p.roots.AppendCertsFromPEM(pem) {
		t.Fatal("generated certificate does not parse")
	}
	return p
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Kill()
	<-p.done
}
