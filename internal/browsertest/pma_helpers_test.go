package browsertest

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/uapid/uapid/internal/pmaserver"
	"github.com/uapid/uapid/internal/store/sqlstore"
	"github.com/uapid/uapid/internal/testserver"
	"github.com/uapid/uapid/internal/testutil"
	"github.com/uapid/uapid/internal/tlsutil"
)

// The phpMyAdmin tests run Debian's phpMyAdmin (pmaserver, PHP's built-in
// server) in front of the real MariaDB, signed on through a real uapid
// (testserver) with the fixture's accounts: alice owns alice_wp, bob owns
// bob_db. The two databases are made in MariaDB for the test; a MariaDB
// lock keeps two runs of these tests (two packages, two checkouts) from
// making and dropping them under each other.

const (
	pmaSecret = "Pma-signon-secret-0123456789"
	// fixtureDBLock serialises the tests that use the fixture's database
	// names on the shared MariaDB.
	fixtureDBLock = "uapid-test-fixture-databases"
)

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// unavailable skips the test, or fails it under CI, where every service
// and tool must be present.
func unavailable(t testing.TB, what string, err error) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s (CI is set, so this is an error): %v", what, err)
	}
	t.Skipf("skipping: %s: %v", what, err)
}

// pmaEnv is a uapid and a phpMyAdmin wired together.
type pmaEnv struct {
	srv *testserver.Server
	pma *pmaserver.Server
	// pmaLog is PHP's output (its request log and the sign-on script's
	// error_log lines).
	pmaLog *testserver.SyncBuffer
	admin  *sql.DB
	socket string
	// secret is the file of the resource server's secret.
	secret string
}

// startPhpMyAdmin makes alice_wp (with a table) and bob_db in MariaDB,
// starts phpMyAdmin and uapid (with extra flags) wired together, and
// arranges for all of it to be stopped and removed at the end.
func startPhpMyAdmin(t *testing.T, extra ...string) *pmaEnv {
	t.Helper()
	testutil.RequireTool(t, "php")
	if !pmaserver.Installed() {
		unavailable(t, "Debian's phpMyAdmin is not installed", pmaserver.ErrNotInstalled)
	}
	admin, dsn := testutil.MySQL(t)
	socket := envOr("UAPID_TEST_MYSQL_SOCKET", "/run/mysqld/mysqld.sock")
	lockFixtureDatabases(t, admin)

	dir := t.TempDir()
	secret := filepath.Join(dir, "phpmyadmin.secret")
	if err := os.WriteFile(secret, []byte(pmaSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	log := &testserver.SyncBuffer{}
	pma, err := pmaserver.Start(pmaserver.Options{Dir: filepath.Join(dir, "phpmyadmin"), Socket: socket, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := pma.Stop(); err != nil {
			t.Errorf("stop phpMyAdmin (pid %d): %v", pma.PID(), err)
		}
		if t.Failed() {
			t.Logf("phpMyAdmin's log:\n%s", log.String())
		}
	})
	args := append([]string{"--mysql-dsn", dsn, "--resource-servers", "phpmyadmin:" + secret,
		"--phpmyadmin-url", pma.URL + "index.php"}, extra...)
	// Once uapid has stopped, drop what a failed test may have left: the
	// temporary users its ledger still records.
	var dataDir string
	t.Cleanup(func() {
		if dataDir != "" {
			dropLeftovers(t, admin, dataDir)
		}
	})
	srv := testserver.Start(t, testserver.Options{Args: args})
	dataDir = srv.DataDir
	if err := pma.SetSettings(pmaserver.Settings{
		UapidURL:   "https://" + srv.Addrs["cpaneld"],
		SecretFile: secret,
		CAFile:     filepath.Join(srv.DataDir, tlsutil.CertFile),
		CPanelURL:  srv.URL("cpaneld", "/"),
	}); err != nil {
		t.Fatal(err)
	}
	return &pmaEnv{srv: srv, pma: pma, pmaLog: log, admin: admin, socket: socket, secret: secret}
}

// dropLeftovers drops the MariaDB users the ledger of the store in
// dataDir records.
func dropLeftovers(t *testing.T, admin *sql.DB, dataDir string) {
	db, err := sqlstore.OpenSQLiteSQL(filepath.Join(dataDir, "uapid.db"))
	if err != nil {
		t.Errorf("open the store: %v", err)
		return
	}
	defer db.Close()
	rows, err := db.Query(`SELECT name FROM temp_users`)
	if err != nil {
		t.Errorf("read the ledger: %v", err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		if rows.Scan(&name) == nil && strings.HasPrefix(name, "cpses_") {
			if _, err := admin.Exec("DROP USER IF EXISTS '" + name + "'@'localhost'"); err != nil {
				t.Errorf("drop %s: %v", name, err)
			}
		}
	}
}

// lockFixtureDatabases takes the MariaDB lock for the fixture's database
// names until the test ends, then makes alice_wp (with a table) and bob_db,
// and drops them again at the end.
func lockFixtureDatabases(t *testing.T, admin *sql.DB) {
	t.Helper()
	ctx := context.Background()
	conn, err := admin.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, `SELECT GET_LOCK(?, 300)`, fixtureDBLock).Scan(&got); err != nil || got.Int64 != 1 {
		conn.Close()
		t.Fatalf("MariaDB lock %s: %v (%v)", fixtureDBLock, got, err)
	}
	t.Cleanup(func() {
		for _, db := range []string{"alice_wp", "bob_db"} {
			if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+db+"`"); err != nil {
				t.Errorf("drop %s: %v", db, err)
			}
		}
		conn.ExecContext(ctx, `SELECT RELEASE_LOCK(?)`, fixtureDBLock)
		conn.Close()
	})
	for _, q := range []string{
		"DROP DATABASE IF EXISTS `alice_wp`", "DROP DATABASE IF EXISTS `bob_db`",
		"CREATE DATABASE `alice_wp`", "CREATE DATABASE `bob_db`",
		"CREATE TABLE `alice_wp`.`wp_posts` (id INT PRIMARY KEY, title VARCHAR(80))",
		"INSERT INTO `alice_wp`.`wp_posts` VALUES (1, 'Hello from alice_wp')",
		"CREATE TABLE `bob_db`.`secrets` (id INT PRIMARY KEY)",
	} {
		if _, err := admin.ExecContext(ctx, q); err != nil {
			t.Fatalf("MariaDB: %s: %v", q, err)
		}
	}
}

// userExists reports whether the MariaDB user name exists (at any host).
func (e *pmaEnv) userExists(t testing.TB, name string) bool {
	t.Helper()
	var n int
	if err := e.admin.QueryRow(`SELECT COUNT(*) FROM mysql.user WHERE User = ?`, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

// waitUserGone polls until the MariaDB user name is gone (the sweeper
// drops the users of expired sessions at its next round).
func (e *pmaEnv) waitUserGone(t testing.TB, name string, within time.Duration, when string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for e.userExists(t, name) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: the temporary user still exists after %s", when, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// mysqlLogin tries to log in to MariaDB as the temporary user, as
// phpMyAdmin does (the socket).
func (e *pmaEnv) mysqlLogin(name, pass string) error {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr = name, pass, "unix", e.socket
	cfg.Timeout = 10 * time.Second
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return err
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	return db.Ping()
}

// loginURL asks WHM for a one-time cPanel login URL of user, as a billing
// system does (outside the browser).
func (e *pmaEnv) loginURL(t testing.TB, user string) string {
	t.Helper()
	q := url.Values{"api.version": {"1"}, "user": {user}, "service": {"cpaneld"}}
	r := e.srv.Get("whostmgrd", "/json-api/create_user_session?"+q.Encode(), testserver.Basic("root", testserver.RootPassword))
	var v struct {
		Metadata struct{ Result int } `json:"metadata"`
		Data     struct{ URL string } `json:"data"`
	}
	if err := json.Unmarshal(r.Body, &v); err != nil || v.Metadata.Result != 1 || v.Data.URL == "" {
		t.Fatalf("create_user_session: HTTP %d: %s", r.StatusCode, r.Body)
	}
	u, err := url.Parse(v.Data.URL)
	if err != nil {
		t.Fatal(err)
	}
	// The URL names --hostname (localhost); the listener is 127.0.0.1.
	u.Host = e.srv.Addrs["cpaneld"]
	return u.String()
}

// browser is an HTTP client playing a browser for the tests that need no
// rendering: one cookie jar for uapid and phpMyAdmin, every hop recorded.
type browser struct {
	t    testing.TB
	e    *pmaEnv
	c    *http.Client
	hops []string
	// landing is the landing page of the browser's cPanel session.
	landing string
}

func (e *pmaEnv) browser(t testing.TB) *browser {
	c := e.srv.Client()
	jar, _ := cookiejar.New(nil)
	c.Jar = jar
	return &browser{t: t, e: e, c: c}
}

// get follows redirects from u, as a browser does, and returns the last
// answer with its URL.
func (b *browser) get(u string) (*http.Response, string, string) {
	b.t.Helper()
	for range 10 {
		resp, err := b.c.Get(u)
		if err != nil {
			b.t.Fatalf("GET %s: %v", u, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			b.t.Fatal(err)
		}
		b.hops = append(b.hops, resp.Request.Method+" "+u+" -> "+resp.Status)
		loc := resp.Header.Get("Location")
		if resp.StatusCode < 300 || resp.StatusCode > 399 || loc == "" {
			return resp, u, string(body)
		}
		next, err := resp.Request.URL.Parse(loc)
		if err != nil {
			b.t.Fatal(err)
		}
		u = next.String()
	}
	b.t.Fatalf("too many redirects:\n%s", strings.Join(b.hops, "\n"))
	return nil, "", ""
}

var reasonRE = regexp.MustCompile(`<p id="reason" data-reason="([a-z_]+)">`)

// signOnReason returns the reason the sign-on page shows ("" when body is
// not the sign-on page).
func signOnReason(body string) string {
	if m := reasonRE.FindStringSubmatch(body); m != nil {
		return m[1]
	}
	return ""
}

// logIn opens the login URL of user's new cPanel session, then phpMyAdmin
// from the landing page, and returns phpMyAdmin's database list.
func (b *browser) logIn(user string) string {
	b.t.Helper()
	_, at, body := b.get(b.e.loginURL(b.t, user))
	if !strings.Contains(body, `<strong id="user">`+user+`</strong>`) {
		b.t.Fatalf("the login URL ended at %s:\n%s", at, body)
	}
	b.landing = at
	return b.openPhpMyAdmin()
}

// openPhpMyAdmin follows the landing page's phpMyAdmin link and returns
// phpMyAdmin's database list.
func (b *browser) openPhpMyAdmin() string {
	b.t.Helper()
	_, at, body := b.get(b.landing)
	link := regexp.MustCompile(`<a id="phpmyadmin" href="([^"]+)">`).FindStringSubmatch(body)
	if link == nil {
		b.t.Fatalf("the landing page %s has no phpMyAdmin link:\n%s", at, body)
	}
	landing, _ := url.Parse(at)
	target, _ := landing.Parse(link[1])
	_, at, body = b.get(target.String())
	if !strings.HasPrefix(at, b.e.pma.URL) || signOnReason(body) != "" {
		b.t.Fatalf("the phpMyAdmin link ended at %s:\n%s\nhops:\n%s", at, body, strings.Join(b.hops, "\n"))
	}
	return b.databases()
}

// landingOK reports whether the session's landing page still answers.
func (b *browser) landingOK() bool {
	b.t.Helper()
	resp, _, body := b.get(b.landing)
	return resp.StatusCode == 200 && strings.Contains(body, `id="user"`)
}

// logOut logs out of uapid with the landing page's button.
func (b *browser) logOut() {
	b.t.Helper()
	_, at, _ := b.post(b.landing+"logout/", url.Values{})
	if !strings.HasSuffix(at, "/login/") {
		b.t.Fatalf("uapid's logout ended at %s", at)
	}
}

// databases returns phpMyAdmin's list of databases (or whatever page that
// request ends on).
func (b *browser) databases() string {
	b.t.Helper()
	_, _, body := b.get(b.e.pma.URL + "index.php?route=/server/databases")
	return body
}

var dbLinkRE = regexp.MustCompile(`route=/database/structure&(?:amp;)?db=([A-Za-z0-9_$]+)`)

// databaseNames returns the databases phpMyAdmin's page links to, sorted
// and without repeats.
func databaseNames(page string) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range dbLinkRE.FindAllStringSubmatch(page, -1) {
		if !seen[m[1]] {
			seen[m[1]] = true
			out = append(out, m[1])
		}
	}
	slices.Sort(out)
	return out
}

// post sends a form to u and follows the redirects of the answer.
func (b *browser) post(u string, form url.Values) (*http.Response, string, string) {
	b.t.Helper()
	resp, err := b.c.PostForm(u, form)
	if err != nil {
		b.t.Fatalf("POST %s: %v", u, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	b.hops = append(b.hops, "POST "+u+" -> "+resp.Status)
	loc := resp.Header.Get("Location")
	if resp.StatusCode < 300 || resp.StatusCode > 399 || loc == "" {
		return resp, u, string(body)
	}
	next, err := resp.Request.URL.Parse(loc)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.get(next.String())
}

var pmaTokenRE = regexp.MustCompile(`name="token" value="([0-9a-f]+)"`)

// pmaLogout logs out of phpMyAdmin as its logout link does (a POST with
// phpMyAdmin's token) and returns where that ends.
func (b *browser) pmaLogout() (string, string) {
	b.t.Helper()
	_, _, page := b.get(b.e.pma.URL + "index.php?route=/")
	m := pmaTokenRE.FindStringSubmatch(page)
	if m == nil {
		b.t.Fatalf("phpMyAdmin's page has no token:\n%s", page)
	}
	_, at, body := b.post(b.e.pma.URL+"index.php?route=/logout", url.Values{"token": {m[1]}})
	return at, body
}

// tempUserOf reads the created temporary user of user's cPanel session.
func tempUserOf(t testing.TB, e *pmaEnv, user string) (name, pass string) {
	t.Helper()
	db, err := sqlstore.OpenSQLiteSQL(filepath.Join(e.srv.DataDir, "uapid.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.QueryRow(`SELECT temp_user, temp_pass FROM sessions WHERE user_name = ? AND service = 'cpaneld' AND temp_created = 1`, user).Scan(&name, &pass); err != nil {
		t.Fatalf("%s's cPanel session in the store: %v", user, err)
	}
	return name, pass
}

// sessionExpiry reads when alice's cPanel session expires.
func sessionExpiry(t testing.TB, e *pmaEnv) time.Time {
	t.Helper()
	db, err := sqlstore.OpenSQLiteSQL(filepath.Join(e.srv.DataDir, "uapid.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var ms int64
	if err := db.QueryRow(`SELECT expires_at FROM sessions WHERE user_name = 'alice' AND service = 'cpaneld'`).Scan(&ms); err != nil {
		t.Fatalf("alice's cPanel session in the store: %v", err)
	}
	return time.UnixMilli(ms)
}
