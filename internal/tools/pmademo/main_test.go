package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/pmaserver"
	"github.com/uapid/uapid/internal/store/sqlstore"
	"github.com/uapid/uapid/internal/testserver"
	"github.com/uapid/uapid/internal/testutil"
	"github.com/uapid/uapid/internal/tlsutil"
)

// TestDemo runs the demo as docs/phpmyadmin.md tells a reader to, logs in
// to cPanel as demo with the password it printed, follows the phpMyAdmin
// link and finds demo_wp; Ctrl-C (the context) stops everything and drops
// the database the demo made.
func TestDemo(t *testing.T) {
	testutil.RequireTool(t, "php")
	if !pmaserver.Installed() && os.Getenv("CI") != "" {
		t.Fatal(pmaserver.ErrNotInstalled)
	} else if !pmaserver.Installed() {
		t.Skip(pmaserver.ErrNotInstalled)
	}
	admin, dsn := testutil.MySQL(t)
	var existed int
	if err := admin.QueryRow(`SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?`, demoDB).Scan(&existed); err != nil {
		t.Fatal(err)
	}
	socket := os.Getenv("UAPID_TEST_MYSQL_SOCKET")
	if socket == "" {
		socket = "/run/mysqld/mysqld.sock"
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &testserver.SyncBuffer{}
	started := make(chan Demo, 1)
	ended := make(chan error, 1)
	dir := t.TempDir()
	go func() {
		ended <- run(ctx, []string{"--mysql-dsn", dsn, "--socket", socket, "--dir", dir}, out, func(d Demo) { started <- d })
	}()
	var d Demo
	select {
	case d = <-started:
	case err := <-ended:
		t.Fatalf("the demo ended before it started: %v\n%s", err, out.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("the demo did not start in 60s:\n%s", out.String())
	}
	m := regexp.MustCompile(`export DEMO_PASS=(\S+)`).FindStringSubmatch(out.String())
	if m == nil || !strings.Contains(out.String(), d.CPanel+"/login/") || !strings.Contains(out.String(), d.PhpMyAdmin) {
		t.Fatalf("the demo's banner does not say where to go:\n%s", out.String())
	}

	pem, err := os.ReadFile(filepath.Join(d.Dir, "uapid-data", tlsutil.CertFile))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	r, err := c.PostForm(d.CPanel+"/login/", url.Values{"user": {"demo"}, "pass": {m[1]}})
	if err != nil {
		t.Fatal(err)
	}
	landing, _ := io.ReadAll(r.Body)
	r.Body.Close()
	link := regexp.MustCompile(`<a id="phpmyadmin" href="([^"]+)">`).FindSubmatch(landing)
	if link == nil {
		t.Fatalf("the landing page (%s) has no phpMyAdmin link:\n%s", r.Request.URL, landing)
	}
	target, _ := r.Request.URL.Parse(string(link[1]))
	if r, err = c.Get(target.String()); err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r, err = c.Get(d.PhpMyAdmin + "index.php?route=/server/databases"); err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if !strings.Contains(string(page), "db="+demoDB) {
		t.Fatalf("phpMyAdmin (%s) does not list %s:\n%s", r.Request.URL, demoDB, page)
	}
	// The temporary user phpMyAdmin signed on as, from the demo's store.
	db, err := sqlstore.OpenSQLiteSQL(filepath.Join(d.Dir, "uapid-data", "uapid.db"))
	if err != nil {
		t.Fatal(err)
	}
	var tempUser string
	err = db.QueryRow(`SELECT temp_user FROM sessions WHERE user_name = 'demo' AND temp_created = 1`).Scan(&tempUser)
	db.Close()
	if err != nil {
		t.Fatalf("phpMyAdmin signed on, but the demo's store has no created temporary user: %v", err)
	}
	var users int
	if err := admin.QueryRow(`SELECT COUNT(*) FROM mysql.user WHERE User = ?`, tempUser).Scan(&users); err != nil || users != 1 {
		t.Fatalf("the temporary user %s in MariaDB: %d, %v", tempUser, users, err)
	}

	cancel()
	select {
	case err := <-ended:
		if err != nil {
			t.Fatalf("the demo ended with %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the demo did not stop in 60s")
	}
	var left int
	if err := admin.QueryRow(`SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?`, demoDB).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != existed {
		t.Fatalf("%s: %d before the demo, %d after", demoDB, existed, left)
	}
	// The temporary user phpMyAdmin signed on as is gone with the demo.
	if err := admin.QueryRow(`SELECT COUNT(*) FROM mysql.user WHERE User = ?`, tempUser).Scan(&users); err != nil || users != 0 {
		t.Fatalf("the demo's temporary user %s is left in MariaDB (%d, %v)", tempUser, users, err)
	}
}
