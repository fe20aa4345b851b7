package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/cli"
	"github.com/uapid/uapid/internal/testserver"
)

// startWithDBs starts an in-process uapid for the cast, connected to both
// database servers.
func startWithDBs(t *testing.T, d *dbServers, c *cast, extra ...string) *node {
	t.Helper()
	srv := testserver.Start(t, testserver.Options{Fixture: c.fixture, Args: d.serverArgs(extra...)})
	return nodeOf(srv)
}

// waitLedger polls until the ledger equals want (sorted).
func waitLedger(t *testing.T, dataDir string, want []string, when string) {
	t.Helper()
	slices.Sort(want)
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := ledger(t, dataDir)
		if slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: ledger holds %q, want %q", when, got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// runCLI runs the admin command in-process and returns its exit code and
// output.
func runCLI(t *testing.T, getenv func(string) string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main(args, &cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: getenv})
	return code, out.String(), errb.String()
}

// TestTempUserPrivilegesAndLogout: the temp user exists only after
// create_temp_user, logs in with the stored password, has exactly A's
// database privileges on MariaDB and PostgreSQL, a repeat call answers
// created: 0, Basic auth never creates one, each session has its own, and
// logout drops exactly that session's user and ends its open connections.
func TestTempUserPrivilegesAndLogout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := needDBs(t)
	c := newCast(t, d)
	n := startWithDBs(t, d, c)

	s1 := login(t, n, c.rootPass, c.A)
	name := s1.createTempUser(t, c, c.A)
	wantNotCreated(t, s1.call(t, "Session", "create_temp_user"), "second call in the same session")
	r := do(t, n.client(), "GET", n.url("cpaneld", "/execute/Session/create_temp_user"), testserver.Basic(c.A, c.aPass))
	wantNotCreated(t, r.json(t), "call with Basic auth")
	waitLedger(t, n.dataDir, []string{name}, "after create_temp_user")
	d.assertExists(t, name, "after create_temp_user")

	pass := tempPass(t, n.dataDir, name)
	checkMySQL(t, c, name, pass)
	checkPostgres(t, c, name, pass)

	// A second session of A has its own temp user.
	s2 := login(t, n, c.rootPass, c.A)
	name2 := s2.createTempUser(t, c, c.A)
	if name2 == name {
		t.Fatalf("two sessions share the temp user name")
	}
	d.assertExists(t, name2, "second session")

	// Open connections of the first user end with its session.
	myc, err := d.mysqlLogin(t, name, pass).Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer myc.Close()
	pgc, err := d.pgLogin(t, name, pass, c.AWP)
	if err != nil {
		t.Fatal(err)
	}

	s1.logout(t)
	d.waitGone(t, name, 10*time.Second, "after logout")
	waitLedger(t, n.dataDir, []string{name2}, "after logout")
	if k := sessionRows(t, n.dataDir, name); k != 0 {
		t.Errorf("the logged-out session is still stored (%d rows)", k)
	}
	if err := myc.PingContext(ctx); err == nil {
		t.Error("MariaDB connection of the dropped temp user still works")
	}
	if err := pgc.Ping(ctx); err == nil {
		t.Error("PostgreSQL connection of the dropped temp user still works")
	}
	if _, err := d.mysqlLogin(t, name, pass).Conn(ctx); err == nil {
		t.Error("the dropped temp user can still log in to MariaDB")
	}
	if _, err := d.pgLogin(t, name, pass, c.AWP); err == nil {
		t.Error("the dropped temp role can still log in to PostgreSQL")
	}
	// The logged-out session's cookie no longer works.
	if r := do(t, s1.cl, "GET", n.url("cpaneld", s1.token+"/execute/Session/create_temp_user"), ""); r.StatusCode != 401 {
		t.Errorf("create_temp_user after logout: HTTP %d: %s", r.StatusCode, r.body)
	}

	// The other session's user is untouched and still works.
	d.assertExists(t, name2, "other session after logout")
	if _, err := d.pgLogin(t, name2, tempPass(t, n.dataDir, name2), c.AWP); err != nil {
		t.Errorf("the other session's temp role cannot log in: %v", err)
	}
	s2.logout(t)
	d.waitGone(t, name2, 10*time.Second, "after the second logout")
	waitLedger(t, n.dataDir, nil, "after both logouts")
}

// TestTempUserGoneAfterExpiry: an idle session expires and the periodic
// sweep drops its temp user (no request, no logout).
func TestTempUserGoneAfterExpiry(t *testing.T) {
	t.Parallel()
	d := needDBs(t)
	c := newCast(t, d)
	n := startWithDBs(t, d, c, "--idle-timeout", "2s", "--sweep-interval", "1s")

	s := login(t, n, c.rootPass, c.A)
	lastUse := time.Now()
	name := s.createTempUser(t, c, c.A)
	d.assertExists(t, name, "after create_temp_user")
	d.waitGone(t, name, 15*time.Second, "after idle expiry")
	if el := time.Since(lastUse); el < 1900*time.Millisecond {
		t.Errorf("temp user dropped %s after the session's last use, before its 2s idle timeout", el)
	}
	waitLedger(t, n.dataDir, nil, "after expiry")
	if k := sessionRows(t, n.dataDir, name); k != 0 {
		t.Errorf("expired session still stored")
	}
	if r := do(t, s.cl, "GET", n.url("cpaneld", s.token+"/execute/Session/create_temp_user"), ""); r.StatusCode != 401 {
		t.Errorf("create_temp_user after expiry: HTTP %d: %s", r.StatusCode, r.body)
	}
}

// TestTempUserGoneAfterAccountSuspension: `uapid account suspend A` (admin
// CLI, same data directory, while the server runs) drops the temp users of
// all of A's sessions and leaves B's alone.
func TestTempUserGoneAfterAccountSuspension(t *testing.T) {
	t.Parallel()
	d := needDBs(t)
	c := newCast(t, d)
	n := startWithDBs(t, d, c)

	a1 := login(t, n, c.rootPass, c.A).createTempUser(t, c, c.A)
	a2 := login(t, n, c.rootPass, c.A).createTempUser(t, c, c.A)
	sb := login(t, n, c.rootPass, c.B)
	b := sb.createTempUser(t, c, c.B)
	for _, x := range []string{a1, a2, b} {
		d.assertExists(t, x, "before suspension")
	}
	code, out, errs := runCLI(t, d.cliEnv(true), "account", "suspend", c.A, "--data", n.dataDir)
	if code != 0 || out != "account "+c.A+" suspended; 2 session(s) ended\n" {
		t.Fatalf("account suspend: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	d.waitGone(t, a1, 5*time.Second, "after account suspension")
	d.waitGone(t, a2, 5*time.Second, "after account suspension")
	d.assertExists(t, b, "B's temp user after A's suspension")
	waitLedger(t, n.dataDir, []string{b}, "after suspension")
	sb.logout(t)
	d.waitGone(t, b, 10*time.Second, "after B's logout")
}

// TestTempUserGoneAfterAccountRemoval: `uapid account remove A` drops the
// temp user of A's session.
func TestTempUserGoneAfterAccountRemoval(t *testing.T) {
	t.Parallel()
	d := needDBs(t)
	c := newCast(t, d)
	n := startWithDBs(t, d, c)

	name := login(t, n, c.rootPass, c.A).createTempUser(t, c, c.A)
	d.assertExists(t, name, "before removal")
	code, out, errs := runCLI(t, d.cliEnv(true), "account", "remove", c.A, "--data", n.dataDir)
	if code != 0 || out != "account "+c.A+" removed; 1 session(s) ended\n" {
		t.Fatalf("account remove: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	d.waitGone(t, name, 5*time.Second, "after account removal")
	waitLedger(t, n.dataDir, nil, "after removal")
}

// TestTempUserSweptWhenEndedWithoutDatabaseAccess: a session ended by an
// admin command that cannot reach the database servers (no DSN in its
// environment) leaves the temp user recorded; the running server's ledger
// sweep drops it.
func TestTempUserSweptWhenEndedWithoutDatabaseAccess(t *testing.T) {
	t.Parallel()
	d := needDBs(t)
	c := newCast(t, d)
	n := startWithDBs(t, d, c, "--sweep-interval", "1s")

	name := login(t, n, c.rootPass, c.A).createTempUser(t, c, c.A)
	code, out, errs := runCLI(t, d.cliEnv(false), "account", "suspend", c.A, "--data", n.dataDir)
	if code != 0 || out != "account "+c.A+" suspended; 1 session(s) ended\n" {
		t.Fatalf("account suspend: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if !strings.Contains(errs, "no database server is configured") {
		t.Errorf("the CLI did not warn that it could not drop the temp user; stderr %q", errs)
	}
	d.waitGone(t, name, 10*time.Second, "ledger sweep after suspension without database access")
	waitLedger(t, n.dataDir, nil, "after the ledger sweep")
}

func writeFixture(t *testing.T, c *cast) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "fixture.yaml")
	if err := os.WriteFile(p, []byte(c.fixture), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTempUserSweptAfterSIGKILLAndRestart: the real binary is killed with
// SIGKILL while a session holds a temp user; nothing drops it while no
// server runs, even past the session's idle deadline; the restarted binary
// drops it at start (session sweep) and the ledger ends up empty.
func TestTempUserSweptAfterSIGKILLAndRestart(t *testing.T) {
	t.Parallel()
	d := needDBs(t)
	c := newCast(t, d)
	bin := uapidBinary(t)
	dir, fx := t.TempDir(), writeFixture(t, c)
	args := d.serverArgs("--idle-timeout", "2s", "--sweep-interval", "1h")

	p := startBinary(t, bin, dir, fx, args...)
	name := login(t, p.node, c.rootPass, c.A).createTempUser(t, c, c.A)
	d.assertExists(t, name, "after create_temp_user")
	p.kill()
	d.assertExists(t, name, "right after SIGKILL")
	if got := ledger(t, dir); !slices.Equal(got, []string{name}) {
		t.Fatalf("ledger after SIGKILL: %q", got)
	}
	time.Sleep(3 * time.Second) // the session's idle deadline passes with no server running
	d.assertExists(t, name, "3s after SIGKILL with no server running")
	if k := sessionRows(t, dir, name); k != 1 {
		t.Fatalf("session rows after SIGKILL: %d", k)
	}

	p2 := startBinary(t, bin, dir, fx, args...)
	d.waitGone(t, name, 10*time.Second, "after restart")
	waitLedger(t, dir, nil, "after restart")
	if k := sessionRows(t, dir, name); k != 0 {
		t.Errorf("the expired session is still stored after restart")
	}
	if !strings.Contains(p2.stderr.String(), "expired sessions removed") {
		t.Logf("restart log:\n%s", p2.stderr.String())
	}
}

// TestTempUserOfLostSessionSweptAfterRestart: the session row vanishes while
// the server is dead (a lost session store entry); the ledger sweep at the
// next start drops the recorded temp user although no session ends.
func TestTempUserOfLostSessionSweptAfterRestart(t *testing.T) {
	t.Parallel()
	d := needDBs(t)
	c := newCast(t, d)
	bin := uapidBinary(t)
	dir, fx := t.TempDir(), writeFixture(t, c)
	args := d.serverArgs("--sweep-interval", "1h") // default idle timeout: the session would not expire

	p := startBinary(t, bin, dir, fx, args...)
	name := login(t, p.node, c.rootPass, c.A).createTempUser(t, c, c.A)
	p.kill()
	d.assertExists(t, name, "after SIGKILL")
	db := openStore(t, dir)
	res, err := db.Exec(`DELETE FROM sessions WHERE temp_user = ?`, name)
	if err != nil {
		t.Fatal(err)
	}
	if k, _ := res.RowsAffected(); k != 1 {
		t.Fatalf("deleted %d session rows", k)
	}
	db.Close()
	if got := ledger(t, dir); !slices.Equal(got, []string{name}) {
		t.Fatalf("ledger before restart: %q", got)
	}

	p2 := startBinary(t, bin, dir, fx, args...)
	d.waitGone(t, name, 10*time.Second, "ledger sweep after restart")
	waitLedger(t, dir, nil, "after restart")
	if !strings.Contains(p2.stderr.String(), "orphaned temporary database users dropped") {
		t.Logf("restart log:\n%s", p2.stderr.String())
	}
}

// TestForeignCpsesUsersUntouched: uapid never drops a cpses_ user it did not
// record: neither an unrelated cpses_zz… user/role, nor one that happens to
// carry the name a session reserved but never created, through logout,
// expiry, the session sweep and the ledger sweep.
func TestForeignCpsesUsersUntouched(t *testing.T) {
	t.Parallel()
	d := needDBs(t)
	c := newCast(t, d)
	ctx := context.Background()
	n := startWithDBs(t, d, c, "--idle-timeout", "2s", "--sweep-interval", "1s")

	foreign := "cpses_zz" + randFrom(lowerDigits, 8)
	// A session that reserves a name but never calls create_temp_user; the
	// same name exists on the database servers, made by someone else.
	s := login(t, n, c.rootPass, c.A)
	store := openStore(t, n.dataDir)
	var reserved string
	err := store.QueryRowContext(ctx, `SELECT temp_user FROM sessions WHERE account = ? AND temp_created = 0`, c.A).Scan(&reserved)
	store.Close()
	if err != nil || !tempNameRE.MatchString(reserved) {
		t.Fatalf("reserved temp user name %q: %v", reserved, err)
	}
	c.mu.Lock()
	c.foreign = append(c.foreign, foreign, reserved)
	c.mu.Unlock()
	for _, x := range []string{foreign, reserved} {
		d.myExec(t, "CREATE USER '"+x+"'@'localhost' IDENTIFIED BY 'Foreign-pass-1'")
		d.pgExec(t, `CREATE ROLE "`+x+`" LOGIN`)
	}

	// A recorded temp user goes through the whole cycle meanwhile.
	name := login(t, n, c.rootPass, c.A).createTempUser(t, c, c.A)
	s.logout(t)
	d.waitGone(t, name, 15*time.Second, "recorded temp user after expiry")
	waitLedger(t, n.dataDir, nil, "after expiry")
	time.Sleep(2500 * time.Millisecond) // at least two more sweeps (interval 1s)
	for _, x := range []string{foreign, reserved} {
		d.assertExists(t, x, "foreign user after logout, expiry and sweeps")
	}
}

// TestCreateTempUserWithoutDatabaseServer: without --mysql-dsn and
// --postgres-admin-dsn the call through a session URL fails with the exact
// text, and keeps failing (it does not pretend that a user was created).
func TestCreateTempUserWithoutDatabaseServer(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t, testserver.Options{})
	n := nodeOf(srv)
	s := login(t, n, testserver.RootPassword, "alice")
	for i := range 2 {
		v := s.call(t, "Session", "create_temp_user")
		errs, _ := v["errors"].([]any)
		if v["status"] != json.Number("0") || v["data"] != nil || len(errs) != 1 ||
			errs[0] != "No database server is configured for temporary users." {
			t.Fatalf("call %d: %v", i+1, v)
		}
	}
	r := do(t, n.client(), "GET", n.url("cpaneld", "/execute/Session/create_temp_user"), testserver.Basic("alice", testserver.AlicePassword))
	wantNotCreated(t, r.json(t), "Basic auth without a database server")
	if got := ledger(t, n.dataDir); len(got) != 0 {
		t.Errorf("ledger %q", got)
	}
}

// TestCreateTempUserRetryAfterFailure: a creation that fails (here: the
// account's PostgreSQL role is a superuser, which uapid refuses to pass on)
// leaves the session free to try again; once the cause is fixed, the retry
// creates the user instead of claiming it exists.
func TestCreateTempUserRetryAfterFailure(t *testing.T) {
	t.Parallel()
	d := needDBs(t)
	c := newCast(t, d)
	n := startWithDBs(t, d, c)
	d.pgExec(t, `ALTER ROLE "`+c.A+`" SUPERUSER`)
	s := login(t, n, c.rootPass, c.A)
	v := s.call(t, "Session", "create_temp_user")
	if v["status"] != json.Number("0") {
		t.Fatalf("creation for an unsafe account role succeeded: %v", v)
	}
	if got := ledger(t, n.dataDir); len(got) != 0 {
		t.Fatalf("ledger after the failed creation: %v", got)
	}
	d.pgExec(t, `ALTER ROLE "`+c.A+`" NOSUPERUSER`)
	name := s.createTempUser(t, c, c.A)
	d.assertExists(t, name, "after the retry")
	wantNotCreated(t, s.call(t, "Session", "create_temp_user"), "repeat after the retry")
	s.logout(t)
	d.waitGone(t, name, 5*time.Second, "after logout")
}
