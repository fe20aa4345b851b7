package client_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uapid/uapid/client"
	"github.com/uapid/uapid/internal/testserver"
)

func TestMain(m *testing.M) {
	code := m.Run()
	stopExampleServer()
	os.Exit(code)
}

var (
	tokenRE   = regexp.MustCompile(`^/cpsess[0-9]{10}$`)
	sessionRE = regexp.MustCompile(`^([^:]+):[0-9A-Za-z_]{16}:(CREATE_WEBMAIL_SESSION_FOR_MAIL_USER|CREATE_WEBMAIL_SESSION_FOR_SELF|create_user_session),[0-9a-f]{32}$`)
)

// env is a uapid started for one test.
type env struct {
	t   *testing.T
	srv *testserver.Server
	tls *tls.Config
}

// start runs a uapid with the default fixture (and extra serve flags);
// session URLs name 127.0.0.1, which the clients reach with TLS verified
// against the generated certificate for "localhost".
func start(t *testing.T, o testserver.Options) *env {
	t.Helper()
	o.Args = append([]string{"--hostname", "127.0.0.1"}, o.Args...)
	srv := testserver.Start(t, o)
	return &env{t: t, srv: srv, tls: &tls.Config{RootCAs: srv.RootCAs, ServerName: "localhost"}}
}

// base is the URL of service ("cpaneld", "webmaild", "whostmgrd", or with
// "-plain").
func (e *env) base(service string) string { return e.srv.URL(service, "") }

func (e *env) opts(o ...client.Option) []client.Option {
	return append([]client.Option{client.WithTLSConfig(e.tls), client.WithTimeout(30 * time.Second)}, o...)
}

func (e *env) client(service string, o ...client.Option) *client.Client {
	return client.New(e.base(service), e.opts(o...)...)
}

func (e *env) alice() *client.Client {
	return e.client("cpaneld", client.WithAPIToken("alice", testserver.AliceToken))
}

func (e *env) root() *client.Client {
	return e.client("whostmgrd", client.WithBasicAuth("root", testserver.RootPassword))
}

// apiError asserts err is an *APIError with exactly the message want.
func apiError(t *testing.T, err error, want string) *client.APIError {
	t.Helper()
	var ae *client.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T), want an *APIError %q", err, err, want)
	}
	if len(ae.Errors) != 1 || ae.Errors[0] != want {
		t.Fatalf("errors %q, want [%q]", ae.Errors, want)
	}
	if !strings.Contains(ae.Error(), want) {
		t.Fatalf("Error() %q does not quote %q", ae.Error(), want)
	}
	if errors.Is(err, client.ErrAccessDenied) {
		t.Fatalf("an API error matches ErrAccessDenied: %v", err)
	}
	return ae
}

// noSecrets fails when err's text contains one of the secrets.
func noSecrets(t *testing.T, err error, secrets ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(err.Error(), s) {
			t.Fatalf("error text %q contains a secret", err)
		}
	}
}

func loginError(t *testing.T, err error, code string) {
	t.Helper()
	var le *client.LoginError
	if !errors.As(err, &le) || le.Code != code {
		t.Fatalf("error %v (%T), want a *LoginError %s", err, err, code)
	}
	if !errors.Is(err, client.ErrAccessDenied) || le.StatusCode != http.StatusUnauthorized {
		t.Fatalf("login error %v: status %d, matches ErrAccessDenied: %v", err, le.StatusCode, errors.Is(err, client.ErrAccessDenied))
	}
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestUAPI(t *testing.T) {
	t.Parallel()
	e := start(t, testserver.Options{})
	ctx := context.Background()
	for name, c := range map[string]*client.Client{
		"token": e.alice(),
		"basic": e.client("cpaneld", client.WithBasicAuth("alice", testserver.AlicePassword)),
	} {
		t.Run(name, func(t *testing.T) {
			res, err := c.UAPI(ctx, "Session", "create_webmail_session_for_self", url.Values{"locale": {"de"}})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != 1 || res.Errors != nil || res.Messages != nil || res.Warnings != nil {
				t.Fatalf("result %+v", res)
			}
			if len(res.Metadata) != 1 || res.Metadata["transformed"] != json.Number("1") {
				t.Fatalf("metadata %v", res.Metadata)
			}
			var d struct{ Hostname *string }
			if err := res.Decode(&d); err != nil || d.Hostname != nil {
				t.Fatalf("decode %s: %v %v", res.Data, d, err)
			}
			var ws client.WebmailSession
			if err := res.Decode(&ws); err != nil || !tokenRE.MatchString(ws.Token) {
				t.Fatalf("decode %s: %+v %v", res.Data, ws, err)
			}
			if m := sessionRE.FindStringSubmatch(ws.Session); m == nil || m[1] != "alice" || m[2] != "CREATE_WEBMAIL_SESSION_FOR_SELF" {
				t.Fatalf("session %q", ws.Session)
			}
		})
	}

	c := e.alice()
	res, err := c.UAPI(ctx, "Nope", "x", nil)
	ae := apiError(t, err, "Failed to load module “Nope”.")
	if res == nil || res.Status != 0 || string(res.Data) != "null" {
		t.Fatalf("failed result %+v", res)
	}
	if ae.API != "UAPI" || ae.Module != "Nope" || ae.Function != "x" || ae.Type != "" {
		t.Fatalf("APIError %+v", ae)
	}
	if err := res.Decode(&struct{}{}); err != nil {
		t.Fatalf("decode null data: %v", err)
	}
	_, err = c.UAPI(ctx, "Session", "nope", nil)
	apiError(t, err, "The system could not find the function “nope” in the module “Session”.")
	_, err = c.UAPI(ctx, "Session", "create_webmail_session_for_mail_user", nil)
	apiError(t, err, "Provide the “login” and “domain” arguments.")
	_, err = c.UAPI(ctx, "Session", "bad-name", nil)
	apiError(t, err, "Illegal function name: bad-name")
	// Values that need escaping arrive intact (they travel in the body).
	_, err = c.UAPI(ctx, "Session", "create_webmail_session_for_mail_user",
		url.Values{"login": {"a&b=c d"}, "domain": {"alice.test"}})
	apiError(t, err, "You do not have a user named “a&b=c d@alice.test”.")

	// /execute on the WHM port is not a UAPI answer.
	_, err = e.client("whostmgrd", client.WithBasicAuth("root", testserver.RootPassword)).UAPI(ctx, "Session", "create_temp_user", nil)
	var he *client.HTTPError
	if !errors.As(err, &he) || he.StatusCode != http.StatusNotFound || !strings.Contains(he.Body, "does not exist") {
		t.Fatalf("UAPI on the WHM port: %v", err)
	}
}

func TestAccessDenied(t *testing.T) {
	t.Parallel()
	e := start(t, testserver.Options{})
	ctx := context.Background()
	const badToken = "WRONGTOKEN0123456789ABCDEFGHIJK"
	cases := []struct {
		name    string
		c       *client.Client
		whm     bool
		secrets []string
	}{
		{"wrong token", e.client("cpaneld", client.WithAPIToken("alice", badToken)), false, []string{badToken}},
		{"wrong password", e.client("cpaneld", client.WithBasicAuth("alice", "Secret-wrong-1")), false, []string{"Secret-wrong-1"}},
		{"unknown user", e.client("cpaneld", client.WithBasicAuth("ghost", "Secret-ghost-1")), false, []string{"Secret-ghost-1"}},
		{"no credentials", e.client("cpaneld"), false, nil},
		{"mailbox on the cPanel port", e.client("cpaneld", client.WithBasicAuth("info@alice.test", testserver.InfoPassword)), false, []string{testserver.InfoPassword}},
		{"suspended account", e.client("cpaneld", client.WithBasicAuth("sam", testserver.SamPassword)), false, []string{testserver.SamPassword}},
		{"cpanel token on WHM", e.client("whostmgrd", client.WithAPIToken("alice", testserver.AliceToken)), true, []string{testserver.AliceToken}},
		{"account's password on WHM", e.client("whostmgrd", client.WithBasicAuth("alice", testserver.AlicePassword)), true, []string{testserver.AlicePassword}},
		{"wrong WHM token", e.client("whostmgrd", client.WithWHMToken("root", badToken)), true, []string{badToken}},
	}
	for _, k := range cases {
		t.Run(k.name, func(t *testing.T) {
			var err error
			if k.whm {
				_, err = k.c.WHM(ctx, "version", nil)
			} else {
				_, err = k.c.UAPI(ctx, "Session", "create_webmail_session_for_self", nil)
			}
			if !errors.Is(err, client.ErrAccessDenied) {
				t.Fatalf("error %v, want ErrAccessDenied", err)
			}
			var he *client.HTTPError
			if !errors.As(err, &he) || he.StatusCode != 401 || !strings.Contains(he.Body, "Access denied") || he.Method != "POST" {
				t.Fatalf("HTTPError %+v", he)
			}
			if !strings.Contains(err.Error(), "HTTP 401 Unauthorized") {
				t.Fatalf("error text %q", err)
			}
			noSecrets(t, err, k.secrets...)
		})
	}
	// The right credentials work on the same clients' services.
	if _, err := e.client("whostmgrd", client.WithWHMToken("root", testserver.RootToken)).WHM(ctx, "version", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client("webmaild", client.WithBasicAuth("info@alice.test", testserver.InfoPassword)).UAPI(ctx, "Email", "list_pops", nil); err != nil {
		t.Fatal(err)
	}
}

func TestCreateWebmailSessionForMailUser(t *testing.T) {
	t.Parallel()
	e := start(t, testserver.Options{})
	ctx := context.Background()
	c := e.alice()
	ws, err := c.CreateWebmailSessionForMailUser(ctx, client.WebmailSessionRequest{Login: "info", Domain: "alice.test"})
	if err != nil {
		t.Fatal(err)
	}
	if ws.Hostname != "" || !tokenRE.MatchString(ws.Token) {
		t.Fatalf("session %+v", ws)
	}
	if m := sessionRE.FindStringSubmatch(ws.Session); m == nil || m[1] != "info@alice.test" || m[2] != "CREATE_WEBMAIL_SESSION_FOR_MAIL_USER" {
		t.Fatalf("session %q", ws.Session)
	}
	ws2, err := c.CreateWebmailSessionForMailUser(ctx, client.WebmailSessionRequest{
		Login: "sales", Domain: "shop.alice.test", Locale: "pt_br", RemoteAddress: "2001:db8::1", ReturnURL: "https://portal.example/back?x=1&y=2",
	})
	if err != nil || ws2.Token == ws.Token || ws2.Session == ws.Session {
		t.Fatalf("second session %+v, %v", ws2, err)
	}
	// A reseller owns its accounts' mailboxes.
	res := e.client("cpaneld", client.WithBasicAuth("res", testserver.ResPassword))
	if _, err := res.CreateWebmailSessionForMailUser(ctx, client.WebmailSessionRequest{Login: "box", Domain: "carol.test"}); err != nil {
		t.Fatal(err)
	}

	for _, k := range []struct {
		name string
		req  client.WebmailSessionRequest
		want string
	}{
		{"empty login", client.WebmailSessionRequest{Domain: "alice.test"}, "The “login” argument cannot be empty."},
		{"empty both", client.WebmailSessionRequest{}, "The “login” and “domain” arguments cannot be empty."},
		{"bad address", client.WebmailSessionRequest{Login: "info", Domain: "alice.test", RemoteAddress: "01.2.3.4"}, "“01.2.3.4” is not a valid IP address."},
		{"unknown mailbox", client.WebmailSessionRequest{Login: "nobody", Domain: "alice.test"}, "You do not have a user named “nobody@alice.test”."},
		{"other account's mailbox", client.WebmailSessionRequest{Login: "info", Domain: "bob.test"}, "You do not have a user named “info@bob.test”."},
		{"bad locale", client.WebmailSessionRequest{Login: "info", Domain: "alice.test", Locale: "EN"}, "“EN” does not refer to any of this system’s locales."},
	} {
		t.Run(k.name, func(t *testing.T) {
			ws, err := c.CreateWebmailSessionForMailUser(ctx, k.req)
			if ws != nil {
				t.Fatalf("session %+v with an error", ws)
			}
			apiError(t, err, k.want)
		})
	}
}

func TestWebmailHostname(t *testing.T) {
	t.Parallel()
	e := start(t, testserver.Options{Args: []string{"--webmail-hostname", "mail.example.net"}})
	ws, err := e.alice().CreateWebmailSessionForMailUser(context.Background(), client.WebmailSessionRequest{Login: "info", Domain: "alice.test"})
	if err != nil {
		t.Fatal(err)
	}
	if ws.Hostname != "mail.example.net" {
		t.Fatalf("hostname %q", ws.Hostname)
	}
	u, err := ws.LoginURL("https://127.0.0.1:2096/")
	if err != nil {
		t.Fatal(err)
	}
	want := "https://mail.example.net:2096" + ws.Token + "/login/?session=" + url.QueryEscape(ws.Session)
	if u != want {
		t.Fatalf("login URL %q, want %q", u, want)
	}
	for _, k := range []struct{ host, base, want string }{
		{"mail.example.net", "https://x.example", "https://mail.example.net"},
		{"2001:db8::5", "https://x.example:2096", "https://[2001:db8::5]:2096"},
		{"2001:db8::5", "https://x.example", "https://[2001:db8::5]"},
		{"", "https://x.example:2096/proxy/", "https://x.example:2096/proxy"},
	} {
		w := client.WebmailSession{Hostname: k.host, Token: "/cpsess0123456789", Session: "s"}
		if u, err := w.LoginURL(k.base); err != nil || u != k.want+"/cpsess0123456789/login/?session=s" {
			t.Fatalf("LoginURL(%q) with hostname %q: %q %v", k.base, k.host, u, err)
		}
	}
	if _, err := ws.LoginURL("ftp://x"); err == nil {
		t.Fatal("LoginURL accepted an ftp base URL")
	}
}

func TestCreateWebmailSessionForMailUserCheckPassword(t *testing.T) {
	t.Parallel()
	e := start(t, testserver.Options{})
	ctx := context.Background()
	c := e.alice()
	ws, err := c.CreateWebmailSessionForMailUserCheckPassword(ctx, client.WebmailSessionRequest{Login: "info", Domain: "alice.test"}, testserver.InfoPassword)
	if err != nil {
		t.Fatal(err)
	}
	if m := sessionRE.FindStringSubmatch(ws.Session); m == nil || m[1] != "info@alice.test" || m[2] != "CREATE_WEBMAIL_SESSION_FOR_MAIL_USER" {
		t.Fatalf("session %q", ws.Session)
	}
	for _, k := range []struct {
		name, login, domain, pass, typ, want string
	}{
		{"wrong password", "info", "alice.test", "Wrong-pass-9", client.TypeBadPassword, "The provided password is incorrect."},
		{"unknown mailbox", "nobody", "alice.test", "Wrong-pass-9", client.TypeUserNotFound, "You do not have a user named “nobody@alice.test”."},
		{"other account's mailbox", "info", "bob.test", "Bob-mail-1", client.TypeUserNotFound, "You do not have a user named “info@bob.test”."},
		{"suspended login", "locked", "alice.test", "Locked-pass-1", client.TypeSuspended, "Logins for “locked@alice.test” are suspended."},
	} {
		t.Run(k.name, func(t *testing.T) {
			_, err := c.CreateWebmailSessionForMailUserCheckPassword(ctx, client.WebmailSessionRequest{Login: k.login, Domain: k.domain}, k.pass)
			ae := apiError(t, err, k.want)
			if ae.Type != k.typ || string(ae.Detail) != "null" || ae.Function != "create_webmail_session_for_mail_user_check_password" {
				t.Fatalf("APIError %+v", ae)
			}
			if !strings.Contains(err.Error(), "("+k.typ+")") {
				t.Fatalf("error text %q lacks the type", err)
			}
			noSecrets(t, err, k.pass)
		})
	}
	_, err = c.CreateWebmailSessionForMailUserCheckPassword(ctx, client.WebmailSessionRequest{Login: "info", Domain: "alice.test"}, "")
	if ae := apiError(t, err, "The “password” argument cannot be empty."); ae.Type != "" {
		t.Fatalf("untyped error has type %q", ae.Type)
	}
}

func TestCreateWebmailSessionForSelf(t *testing.T) {
	t.Parallel()
	e := start(t, testserver.Options{})
	ctx := context.Background()
	ws, err := e.alice().CreateWebmailSessionForSelf(ctx, client.SelfSessionRequest{Locale: "de", RemoteAddress: "192.0.2.7", ReturnURL: "https://portal.example/"})
	if err != nil {
		t.Fatal(err)
	}
	if m := sessionRE.FindStringSubmatch(ws.Session); m == nil || m[1] != "alice" || m[2] != "CREATE_WEBMAIL_SESSION_FOR_SELF" {
		t.Fatalf("session %q", ws.Session)
	}
	_, err = e.alice().CreateWebmailSessionForSelf(ctx, client.SelfSessionRequest{Locale: "zz"})
	apiError(t, err, "“zz” does not refer to any of this system’s locales.")
	// Not inside Webmail.
	_, err = e.client("webmaild", client.WithBasicAuth("info@alice.test", testserver.InfoPassword)).CreateWebmailSessionForSelf(ctx, client.SelfSessionRequest{})
	apiError(t, err, "Execution of Session::create_webmail_session_for_self (api version:3) is not permitted inside of webmail")
}

// cpanelSession logs in to alice's cPanel through WHM's create_user_session.
func cpanelSession(t *testing.T, e *env) *client.Session {
	t.Helper()
	ctx := context.Background()
	us, err := e.root().CreateUserSession(ctx, client.UserSessionRequest{User: "alice", Service: client.ServiceCPanel})
	if err != nil {
		t.Fatal(err)
	}
	s, err := us.Login(ctx, e.opts()...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCreateTempUser(t *testing.T) {
	t.Parallel()
	e := start(t, testserver.Options{})
	ctx := context.Background()
	for name, c := range map[string]*client.Client{
		"token": e.alice(),
		"basic": e.client("cpaneld", client.WithBasicAuth("alice", testserver.AlicePassword)),
	} {
		created, user, err := c.CreateTempUser(ctx)
		if err != nil || created || user != "" {
			t.Fatalf("%s: created %v user %q err %v", name, created, user, err)
		}
	}
	// Through a session, without a database server configured.
	s := cpanelSession(t, e)
	for range 2 {
		created, user, err := s.API().CreateTempUser(ctx)
		apiError(t, err, "No database server is configured for temporary users.")
		if created || user != "" {
			t.Fatalf("created %v user %q", created, user)
		}
	}
	if err := s.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.API().CreateTempUser(ctx); !errors.Is(err, client.ErrAccessDenied) {
		t.Fatalf("after logout: %v", err)
	}
}

// TestCreateTempUserMariaDB creates a real temporary database user through a
// cPanel session when MariaDB is reachable (UAPID_TEST_MYSQL_DSN, default
// root@tcp(127.0.0.1:3306)/); it skips otherwise, and fails under CI.
func TestCreateTempUserMariaDB(t *testing.T) {
	t.Parallel()
	dsn := os.Getenv("UAPID_TEST_MYSQL_DSN")
	if dsn == "" {
		dsn = "root@tcp(127.0.0.1:3306)/"
	}
	m := regexp.MustCompile(`@tcp\(([^)]+)\)`).FindStringSubmatch(dsn)
	if m == nil {
		t.Skipf("UAPID_TEST_MYSQL_DSN is not a tcp DSN")
	}
	conn, err := net.DialTimeout("tcp", m[1], 2*time.Second)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("MariaDB (UAPID_TEST_MYSQL_DSN) is not reachable (CI is set): %v", err)
		}
		t.Skipf("MariaDB is not reachable: %v", err)
	}
	conn.Close()
	e := start(t, testserver.Options{Args: []string{"--mysql-dsn", dsn}})
	ctx := context.Background()
	s := cpanelSession(t, e)
	t.Cleanup(func() { s.Logout(context.Background()) }) // drops the user
	created, user, err := s.API().CreateTempUser(ctx)
	if err != nil || !created || !regexp.MustCompile(`^cpses_al[0-9a-z]{8}$`).MatchString(user) {
		t.Fatalf("created %v user %q err %v", created, user, err)
	}
	created, user, err = s.API().CreateTempUser(ctx)
	if err != nil || created || user != "" {
		t.Fatalf("second call: created %v user %q err %v", created, user, err)
	}
	if err := s.Logout(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestWHM(t *testing.T) {
	t.Parallel()
	e := start(t, testserver.Options{})
	ctx := context.Background()
	for name, c := range map[string]*client.Client{
		"basic":          e.root(),
		"root token":     e.client("whostmgrd", client.WithWHMToken("root", testserver.RootToken)),
		"reseller token": e.client("whostmgrd", client.WithWHMToken("res", testserver.ResToken)),
	} {
		res, err := c.WHM(ctx, "version", url.Values{"api.version": {"0"}})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var d struct{ Version string }
		if err := res.Decode(&d); err != nil || d.Version != "11.134.0.0" || res.Metadata.Result != 1 || res.Metadata.Version != 1 || res.Metadata.Command != "version" {
			t.Fatalf("%s: %+v %+v %v", name, res.Metadata, d, err)
		}
	}
	res, err := e.root().WHM(ctx, "create_user_session", url.Values{"user": {"ghost"}, "service": {"cpaneld"}})
	want := "You cannot create a session for the user “ghost” because they do not exist."
	ae := apiError(t, err, want)
	if ae.API != "WHM API 1" || ae.Function != "create_user_session" || ae.Module != "" {
		t.Fatalf("APIError %+v", ae)
	}
	if res == nil || res.Metadata.Result != 0 || res.Metadata.Reason != want || res.Data != nil {
		t.Fatalf("failed result %+v", res)
	}
	if err := res.Decode(&struct{}{}); err == nil {
		t.Fatal("decoding a failed answer's missing data succeeded")
	}
	_, err = e.root().WHM(ctx, "no_such_function", nil)
	var ae2 *client.APIError
	if !errors.As(err, &ae2) || len(ae2.Errors) != 1 {
		t.Fatalf("unknown function: %v", err)
	}
}

func TestUAPIAsUser(t *testing.T) {
	t.Parallel()
	e := start(t, testserver.Options{})
	ctx := context.Background()
	res, err := e.root().UAPIAsUser(ctx, "alice", "Session", "create_webmail_session_for_mail_user", url.Values{"login": {"info"}, "domain": {"alice.test"}})
	if err != nil {
		t.Fatal(err)
	}
	var ws client.WebmailSession
	if err := res.Decode(&ws); err != nil || !strings.HasPrefix(ws.Session, "info@alice.test:") {
		t.Fatalf("%+v %v", ws, err)
	}
	reseller := e.client("whostmgrd", client.WithWHMToken("res", testserver.ResToken))
	if _, err := reseller.UAPIAsUser(ctx, "carol", "Session", "create_webmail_session_for_mail_user", url.Values{"login": {"box"}, "domain": {"carol.test"}}); err != nil {
		t.Fatal(err)
	}
	_, err = e.root().UAPIAsUser(ctx, "alice", "Session", "create_webmail_session_for_mail_user", nil)
	apiError(t, err, "Provide the “login” and “domain” arguments.")
	_, err = reseller.UAPIAsUser(ctx, "alice", "Session", "create_webmail_session_for_mail_user", url.Values{"login": {"info"}, "domain": {"alice.test"}})
	var ae *client.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("reseller as a foreign account: %v", err)
	}
}

func TestCreateUserSession(t *testing.T) {
	t.Parallel()
	e := start(t, testserver.Options{})
	ctx := context.Background()
	reseller := e.client("whostmgrd", client.WithWHMToken("res", testserver.ResToken))
	for _, k := range []struct {
		name    string
		c       *client.Client
		req     client.UserSessionRequest
		landing string
	}{
		{"cpaneld", e.root(), client.UserSessionRequest{User: "alice", Service: client.ServiceCPanel, Locale: "de"}, "alice"},
		{"webmaild mailbox", e.root(), client.UserSessionRequest{User: "info@alice.test", Service: client.ServiceWebmail, App: "roundcube"}, "info@alice.test"},
		{"whostmgrd reseller", e.root(), client.UserSessionRequest{User: "res", Service: client.ServiceWHM}, "res"},
		{"reseller for its account", reseller, client.UserSessionRequest{User: "carol", Service: client.ServiceCPanel}, "carol"},
	} {
		t.Run(k.name, func(t *testing.T) {
			before := time.Now()
			us, err := k.c.CreateUserSession(ctx, k.req)
			if err != nil {
				t.Fatal(err)
			}
			if !tokenRE.MatchString(us.CPSecurityToken) || us.Service != k.req.Service || us.Locale != k.req.Locale {
				t.Fatalf("session %+v", us)
			}
			if m := sessionRE.FindStringSubmatch(us.Session); m == nil || m[1] != k.req.User || m[2] != "create_user_session" {
				t.Fatalf("session %q", us.Session)
			}
			if d := us.Expires.Sub(before); d < 298*time.Second || d > 302*time.Second {
				t.Fatalf("expires in %s", d)
			}
			u, err := url.Parse(us.URL)
			if err != nil || u.Host != e.srv.Addrs[k.req.Service] || u.Path != us.CPSecurityToken+"/login/" {
				t.Fatalf("url %q (%v)", us.URL, err)
			}
			s, err := us.Login(ctx, e.opts()...)
			if err != nil {
				t.Fatal(err)
			}
			if s.Token != us.CPSecurityToken || s.BaseURL != e.base(k.req.Service) {
				t.Fatalf("session token %q base %q", s.Token, s.BaseURL)
			}
			resp, err := s.Get(ctx, "/")
			if err != nil {
				t.Fatal(err)
			}
			if body := readAll(t, resp); resp.StatusCode != 200 || !strings.Contains(body, `id="user">`+k.landing+`<`) {
				t.Fatalf("landing HTTP %d: %s", resp.StatusCode, body)
			}
			// The URL logs in once.
			_, err = client.LoginURL(ctx, us.URL, e.opts()...)
			loginError(t, err, client.CodeInvalidSession)
			noSecrets(t, err, us.Session, url.QueryEscape(us.Session), us.CPSecurityToken)
		})
	}
	for _, k := range []struct {
		name string
		c    *client.Client
		req  client.UserSessionRequest
		want string
	}{
		{"no user", e.root(), client.UserSessionRequest{Service: client.ServiceCPanel}, "The “user” parameter is required."},
		{"bad service", e.root(), client.UserSessionRequest{User: "alice", Service: "ftpd"}, "The “service” parameter is invalid. The only supported services for this API call are “cpaneld”, “webmaild”, and “whostmgrd”."},
		{"suspended", e.root(), client.UserSessionRequest{User: "sam", Service: client.ServiceCPanel}, "You cannot create a session for the user “sam” because they are currently suspended."},
		{"not the reseller's", reseller, client.UserSessionRequest{User: "alice", Service: client.ServiceCPanel}, "You do not have permission to create sessions for the user “alice”."},
		{"not a reseller", e.root(), client.UserSessionRequest{User: "alice", Service: client.ServiceWHM}, "You cannot create a “whostmgrd” session for the user “alice” because they are not a reseller."},
	} {
		t.Run(k.name, func(t *testing.T) {
			us, err := k.c.CreateUserSession(ctx, k.req)
			if us != nil {
				t.Fatalf("session %+v with an error", us)
			}
			apiError(t, err, k.want)
		})
	}
	// preferred_domain names the URL's host.
	us, err := e.root().CreateUserSession(ctx, client.UserSessionRequest{User: "alice", Service: client.ServiceWebmail, PreferredDomain: "alice.test"})
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := url.Parse(us.URL); u.Hostname() != "alice.test" {
		t.Fatalf("url %q", us.URL)
	}
}

func TestLogin(t *testing.T) {
	t.Parallel()
	e := start(t, testserver.Options{})
	ctx := context.Background()
	c := e.alice()
	create := func(extra ...string) *client.WebmailSession {
		t.Helper()
		req := client.WebmailSessionRequest{Login: "info", Domain: "alice.test"}
		if len(extra) > 0 {
			req.RemoteAddress = extra[0]
		}
		ws, err := c.CreateWebmailSessionForMailUser(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return ws
	}

	ws := create()
	s, err := client.Login(ctx, e.base("webmaild"), ws.Token, ws.Session, e.opts()...)
	if err != nil {
		t.Fatal(err)
	}
	if s.Token != ws.Token || s.BaseURL != e.base("webmaild") || s.Client.Jar == nil {
		t.Fatalf("session %+v", s)
	}
	if str := fmt.Sprintf("%v %+v %#v", s, s, s); strings.Contains(str, ws.Token) || strings.Contains(str, ws.Session) {
		t.Fatalf("printing a session shows its token: %s", str)
	}
	resp, err := s.Get(ctx, "/")
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(t, resp); resp.StatusCode != 200 || !strings.Contains(body, "info@alice.test") {
		t.Fatalf("landing HTTP %d: %s", resp.StatusCode, body)
	}
	// Paths that already carry the token are not prefixed twice; the
	// exposed client works with absolute URLs.
	for _, p := range []string{ws.Token + "/", "execute/Email/list_pops?regex=info"} {
		resp, err := s.Get(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if body := readAll(t, resp); resp.StatusCode != 200 || !strings.Contains(body, "info@alice.test") {
			t.Fatalf("GET %s: HTTP %d: %s", p, resp.StatusCode, body)
		}
	}
	resp, err = s.Client.Get(s.BaseURL + s.Token + "/")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("absolute GET: %v %v", resp, err)
	}
	resp.Body.Close()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "/execute/Email/list_pops", strings.NewReader("regex=info"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = s.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(t, resp); resp.StatusCode != 200 || !strings.Contains(body, `"status":1`) {
		t.Fatalf("POST through the session: HTTP %d: %s", resp.StatusCode, body)
	}
	if req.URL.String() != "/execute/Email/list_pops" {
		t.Fatalf("Do changed the caller's request URL to %s", req.URL)
	}
	if _, err := s.Get(ctx, "https://elsewhere.example/"); err == nil {
		t.Fatal("Session.Get accepted an absolute URL")
	}
	// UAPI through the session (Webmail: a mailbox sees itself).
	res, err := s.UAPI(ctx, "Email", "list_pops", nil)
	if err != nil || !strings.Contains(string(res.Data), "info@alice.test") {
		t.Fatalf("list_pops: %v %v", res, err)
	}
	_, err = s.API().CreateWebmailSessionForSelf(ctx, client.SelfSessionRequest{})
	apiError(t, err, "Execution of Session::create_webmail_session_for_self (api version:3) is not permitted inside of webmail")

	// A second use of the same session string fails.
	_, err = client.Login(ctx, e.base("webmaild"), ws.Token, ws.Session, e.opts()...)
	loginError(t, err, client.CodeInvalidSession)
	noSecrets(t, err, ws.Session, ws.Token)

	// Logout ends the session.
	if err := s.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	resp, err = s.Get(ctx, "/")
	if err != nil || resp.StatusCode != 401 {
		t.Fatalf("landing after logout: %v %v", resp, err)
	}
	resp.Body.Close()
	_, err = s.UAPI(ctx, "Email", "list_pops", nil)
	if !errors.Is(err, client.ErrAccessDenied) {
		t.Fatalf("UAPI after logout: %v", err)
	}
	if err := s.Logout(ctx); err != nil {
		t.Fatalf("second logout: %v", err)
	}

	t.Run("WebmailSession.Login", func(t *testing.T) {
		ws := create()
		s, err := ws.Login(ctx, e.base("webmaild"), e.opts()...)
		if err != nil {
			t.Fatal(err)
		}
		if res, err := s.UAPI(ctx, "Email", "list_pops", nil); err != nil || res.Status != 1 {
			t.Fatalf("%v %v", res, err)
		}
	})
	t.Run("failures", func(t *testing.T) {
		other := "/cpsess0123456789"
		ws := create()
		if ws.Token == other {
			other = "/cpsess0123456788"
		}
		_, err := client.Login(ctx, e.base("webmaild"), other, ws.Session, e.opts()...)
		loginError(t, err, client.CodeTokenIncorrect)
		_, err = client.Login(ctx, e.base("cpaneld"), ws.Token, ws.Session, e.opts()...)
		loginError(t, err, client.CodeInvalidSession)
		_, err = client.Login(ctx, e.base("webmaild"), ws.Token, "garbage", e.opts()...)
		loginError(t, err, client.CodeInvalidSession)
		ws = create("10.9.8.7")
		_, err = client.Login(ctx, e.base("webmaild"), ws.Token, ws.Session, e.opts()...)
		loginError(t, err, client.CodeChangedIP)
		locked, err := c.CreateWebmailSessionForMailUser(ctx, client.WebmailSessionRequest{Login: "locked", Domain: "alice.test"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = client.Login(ctx, e.base("webmaild"), locked.Token, locked.Session, e.opts()...)
		loginError(t, err, client.CodeInvalidLogin)
		noSecrets(t, err, locked.Session)
		// The refusals did not consume the first session.
		ws2 := create()
		if _, err := client.Login(ctx, e.base("webmaild"), strings.TrimPrefix(ws2.Token, "/"), ws2.Session, e.opts()...); err != nil {
			t.Fatalf("token without its slash: %v", err)
		}
	})
	t.Run("local checks", func(t *testing.T) {
		for _, k := range []struct{ base, token, session string }{
			{"not a url", "/cpsess0123456789", "x"},
			{e.base("webmaild"), "/cpsess", "x"},
			{e.base("webmaild"), "/cpsess01234x", "x"},
			{e.base("webmaild"), "/cpsess0123456789", ""},
		} {
			if _, err := client.Login(ctx, k.base, k.token, k.session, e.opts()...); err == nil || errors.Is(err, client.ErrAccessDenied) {
				t.Fatalf("Login(%q, %q, %q): %v", k.base, k.token, k.session, err)
			}
		}
		for _, u := range []string{"", "https://h/", "https://h/cpsess0123456789/login/", "https://h/cpsess0123456789/x?session=s", "%zz", "/cpsess0123456789/login/?session=s"} {
			_, err := client.LoginURL(ctx, u, e.opts()...)
			if err == nil || strings.Contains(err.Error(), "session=s") {
				t.Fatalf("LoginURL(%q): %v", u, err)
			}
		}
	})
}

func TestLoginExpired(t *testing.T) {
	t.Parallel()
	e := start(t, testserver.Options{Args: []string{"--login-ttl", "1s", "--idle-timeout", "1s", "--max-age", "1h"}})
	ctx := context.Background()
	ws, err := e.alice().CreateWebmailSessionForMailUser(ctx, client.WebmailSessionRequest{Login: "info", Domain: "alice.test"})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	_, err = ws.Login(ctx, e.base("webmaild"), e.opts()...)
	loginError(t, err, client.CodeExpiredSession)
}

func TestLoginPlainHTTP(t *testing.T) {
	t.Parallel()
	e := start(t, testserver.Options{Plain: true})
	ctx := context.Background()
	c := client.New(e.base("cpaneld-plain"), client.WithAPIToken("alice", testserver.AliceToken))
	ws, err := c.CreateWebmailSessionForMailUser(ctx, client.WebmailSessionRequest{Login: "info", Domain: "alice.test"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := ws.Login(ctx, e.base("webmaild-plain"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := s.Get(ctx, "/")
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(t, resp); resp.StatusCode != 200 || !strings.Contains(body, "info@alice.test") {
		t.Fatalf("landing HTTP %d: %s", resp.StatusCode, body)
	}
	if err := s.Logout(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	e := start(t, testserver.Options{})
	ctx := context.Background()
	c := e.alice()
	var wg sync.WaitGroup
	sessions := make(chan *client.WebmailSession, 20)
	for range 20 {
		wg.Go(func() {
			ws, err := c.CreateWebmailSessionForMailUser(ctx, client.WebmailSessionRequest{Login: "info", Domain: "alice.test"})
			if err != nil {
				t.Error(err)
				return
			}
			sessions <- ws
		})
	}
	wg.Wait()
	close(sessions)
	for ws := range sessions {
		wg.Go(func() {
			s, err := ws.Login(ctx, e.base("webmaild"), e.opts()...)
			if err != nil {
				t.Error(err)
				return
			}
			if _, err := s.UAPI(ctx, "Email", "list_pops", nil); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

// fake is an httptest server answering every request with handler and
// recording the last request.
type fake struct {
	*httptest.Server
	mu   sync.Mutex
	last *http.Request
	body string
}

func newFake(t *testing.T, handler http.HandlerFunc) *fake {
	f := &fake{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.last, f.body = r, string(b)
		f.mu.Unlock()
		handler(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fake) request() (*http.Request, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last, f.body
}

func answer(status int, contentType, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

func TestRequestFormat(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFake(t, answer(200, "application/json", `{"data":{"x":1},"errors":null,"messages":["m"],"warnings":"w","metadata":{"n":12345678901234567},"status":1}`))
	for _, k := range []struct {
		opt   client.Option
		authz string
	}{
		{client.WithBasicAuth("alice", "p:w"), "Basic YWxpY2U6cDp3"},
		{client.WithAPIToken("alice", "TOKEN"), "cpanel alice:TOKEN"},
		{client.WithWHMToken("root", "TOKEN"), "whm root:TOKEN"},
	} {
		res, err := client.New(f.URL+"/prefix/", k.opt).UAPI(ctx, "Mod", "fn", url.Values{"a": {"1", "2"}, "b": {"x&y"}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != 1 || len(res.Messages) != 1 || res.Warnings[0] != "w" || res.Metadata["n"] != json.Number("12345678901234567") {
			t.Fatalf("result %+v", res)
		}
		r, body := f.request()
		if r.Method != "POST" || r.URL.Path != "/prefix/execute/Mod/fn" || r.URL.RawQuery != "" ||
			r.Header.Get("Authorization") != k.authz || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" ||
			!strings.HasPrefix(r.Header.Get("User-Agent"), "uapid-client/") {
			t.Fatalf("request %s %s %v", r.Method, r.URL, r.Header)
		}
		if v, _ := url.ParseQuery(body); len(v["a"]) != 2 || v.Get("b") != "x&y" {
			t.Fatalf("body %q", body)
		}
	}
	// WHM: api.version=1 in the query, the arguments in the body.
	f2 := newFake(t, answer(200, "application/json", `{"metadata":{"command":"f","reason":"OK","result":"1","version":1,"output":{"raw":"x"}},"data":{"y":2}}`))
	res, err := client.New(f2.URL, client.WithUserAgent("test-agent/1")).WHM(ctx, "f", url.Values{"k": {"v"}, "api.version": {"2"}})
	if err != nil || res.Metadata.Result != 1 || string(res.Metadata.Output) != `{"raw":"x"}` || string(res.Data) != `{"y":2}` {
		t.Fatalf("%+v %v", res, err)
	}
	r, body := f2.request()
	if r.URL.Path != "/json-api/f" || r.URL.RawQuery != "api.version=1" || body != "k=v" || r.Header.Get("User-Agent") != "test-agent/1" {
		t.Fatalf("WHM request %s %q %v", r.URL, body, r.Header)
	}
	// The wrapped form (LiveAPI, /json-api/cpanel) is unwrapped.
	f3 := newFake(t, answer(200, "application/json", `{"apiversion":3,"func":"f","module":"M","result":{"data":null,"errors":["e1","e2"],"messages":null,"warnings":null,"metadata":{},"status":0}}`))
	res3, err := client.New(f3.URL).UAPI(ctx, "M", "f", nil)
	var ae *client.APIError
	if !errors.As(err, &ae) || len(ae.Errors) != 2 || res3.Status != 0 || !strings.Contains(err.Error(), "e1; e2") {
		t.Fatalf("%+v %v", res3, err)
	}
}

func TestHTTPErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	long := strings.Repeat("é", 2000)
	for _, k := range []struct {
		name    string
		h       http.HandlerFunc
		status  int
		problem string
		body    string
		denied  bool
	}{
		{"bad gateway", answer(502, "text/html", "<html>\n  <body>Bad   gateway</body></html>"), 502, "", "<html> <body>Bad gateway</body></html>", false},
		{"internal error", answer(500, "text/plain", "The request failed. (Error ID: abc234)"), 500, "", "The request failed. (Error ID: abc234)", false},
		{"not JSON", answer(200, "text/html", "<html>login</html>"), 200, "the response is not JSON", "<html>login</html>", false},
		{"JSON but not a result", answer(200, "application/json", `{"hello":1}`), 200, "the response is not a UAPI result", `{"hello":1}`, false},
		{"forbidden", answer(403, "text/html", "Access denied"), 403, "", "Access denied", true},
		{"empty", answer(503, "", ""), 503, "", "", false},
		{"long", answer(500, "text/plain", long), 500, "", "", false},
	} {
		t.Run(k.name, func(t *testing.T) {
			f := newFake(t, k.h)
			_, err := client.New(f.URL, client.WithAPIToken("u", "SECRETTOKEN")).UAPI(ctx, "M", "f", url.Values{"password": {"SECRETPASS"}})
			var he *client.HTTPError
			if !errors.As(err, &he) || he.StatusCode != k.status || he.Problem != k.problem {
				t.Fatalf("error %v (%T)", err, err)
			}
			if k.name == "long" {
				if len(he.Body) > 520 || !strings.HasSuffix(he.Body, "…") || !strings.HasPrefix(he.Body, "éé") {
					t.Fatalf("truncated body of %d bytes: %q", len(he.Body), he.Body)
				}
			} else if he.Body != k.body {
				t.Fatalf("body %q, want %q", he.Body, k.body)
			}
			if errors.Is(err, client.ErrAccessDenied) != k.denied {
				t.Fatalf("matches ErrAccessDenied: %v", !k.denied)
			}
			if he.URL != f.URL+"/execute/M/f" || !strings.Contains(err.Error(), fmt.Sprintf("HTTP %d", k.status)) {
				t.Fatalf("error %q", err)
			}
			noSecrets(t, err, "SECRETTOKEN", "SECRETPASS")
			_, err = client.New(f.URL).WHM(ctx, "f", nil)
			if !errors.As(err, &he) || he.StatusCode != k.status {
				t.Fatalf("WHM: %v", err)
			}
		})
	}
	f := newFake(t, answer(200, "application/json", `{"data":null}`))
	if _, err := client.New(f.URL).WHM(ctx, "f", nil); err == nil || !strings.Contains(err.Error(), "not a WHM API 1 answer") {
		t.Fatalf("WHM without metadata: %v", err)
	}
}

// TestTokenMaskedInErrors: errors of calls through a session do not show
// the /cpsess… token or the session secret.
func TestTokenMaskedInErrors(t *testing.T) {
	t.Parallel()
	const token = "/cpsess4444444444"
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case token + "/login/":
			http.SetCookie(w, &http.Cookie{Name: "webmailsession", Value: "c", Path: "/"})
			http.Redirect(w, r, token+"/", http.StatusFound) // a server that ignores login_only
		default:
			http.Error(w, "boom", 500)
		}
	})
	ctx := context.Background()
	s, err := client.Login(ctx, f.URL, token, "SECRET-SESSION")
	if err != nil {
		t.Fatal(err)
	}
	if _, body := f.request(); !strings.Contains(body, "login_only=1") || !strings.Contains(body, "session=SECRET-SESSION") {
		t.Fatalf("login body %q", body)
	}
	_, err = s.UAPI(ctx, "M", "f", nil)
	var he *client.HTTPError
	if !errors.As(err, &he) || he.URL != f.URL+"/cpsess**********/execute/M/f" {
		t.Fatalf("error %v", err)
	}
	noSecrets(t, err, token, "SECRET-SESSION")
	if err := s.Logout(ctx); err == nil {
		t.Fatal("logout answered 500 but succeeded")
	} else {
		noSecrets(t, err, token)
	}
	// A server that sets no cookie did not log us in.
	f2 := newFake(t, answer(200, "text/html", "<html>welcome</html>"))
	if _, err := client.Login(ctx, f2.URL, token, "SECRET-SESSION"); err == nil || !strings.Contains(err.Error(), "no session cookie") {
		t.Fatalf("login without a cookie: %v", err)
	}
	// A 200 JSON refusal.
	f3 := newFake(t, answer(200, "application/json", `{"status":0,"message":"expired_session"}`))
	_, err = client.Login(ctx, f3.URL, token, "SECRET-SESSION")
	var le *client.LoginError
	if !errors.As(err, &le) || le.Code != client.CodeExpiredSession {
		t.Fatalf("JSON refusal: %v", err)
	}
	// A 401 without a code.
	f4 := newFake(t, answer(401, "text/plain", "nope"))
	_, err = client.Login(ctx, f4.URL, token, "SECRET-SESSION")
	if !errors.As(err, &he) || !errors.Is(err, client.ErrAccessDenied) {
		t.Fatalf("bare 401: %v", err)
	}
}

func TestContextAndTimeout(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := client.New(f.URL).UAPI(ctx, "M", "f", url.Values{"password": {"SECRETPASS"}})
	if !errors.Is(err, context.Canceled) || time.Since(start) > 10*time.Second {
		t.Fatalf("cancelled call: %v after %s", err, time.Since(start))
	}
	noSecrets(t, err, "SECRETPASS")
	_, err = client.New(f.URL, client.WithTimeout(50*time.Millisecond)).WHM(context.Background(), "f", nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("timed-out call: %v", err)
	}
	_, err = client.Login(ctx, f.URL, "/cpsess0123456789", "SECRET-SESSION")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled login: %v", err)
	}
	noSecrets(t, err, "SECRET-SESSION", "0123456789")
}

func TestOptions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, u := range []string{"", "host:2083", "ftp://host/", "https://", "::"} {
		c := client.New(u, client.WithBasicAuth("u", "SECRETPASS"))
		_, err := c.UAPI(ctx, "M", "f", nil)
		if err == nil || !strings.Contains(err.Error(), "base URL") {
			t.Fatalf("New(%q): %v", u, err)
		}
		noSecrets(t, err, "SECRETPASS")
	}
	c := client.New("https://user:SECRETPASS@host.example:2083/x/?q=1#f", client.WithAPIToken("u", "SECRETTOKEN"))
	if c.BaseURL() != "https://host.example:2083/x" {
		t.Fatalf("BaseURL %q", c.BaseURL())
	}
	if s := fmt.Sprintf("%v %+v %#v %s", c, c, c, c); strings.Contains(s, "SECRET") {
		t.Fatalf("printing a client shows a secret: %s", s)
	}
	// WithHTTPClient's transport carries the requests.
	f := newFake(t, answer(200, "application/json", `{"data":1,"errors":null,"messages":null,"warnings":null,"metadata":{},"status":1}`))
	var n int
	var mu sync.Mutex
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		n++
		mu.Unlock()
		return http.DefaultTransport.RoundTrip(r)
	})}
	if _, err := client.New(f.URL, client.WithHTTPClient(hc)).UAPI(ctx, "M", "f", nil); err != nil || n != 1 {
		t.Fatalf("custom transport: %d calls, %v", n, err)
	}
	// WithTLSConfig cannot reach into a foreign transport.
	if _, err := client.New(f.URL, client.WithHTTPClient(hc), client.WithTLSConfig(&tls.Config{})).UAPI(ctx, "M", "f", nil); err == nil || !strings.Contains(err.Error(), "WithTLSConfig") {
		t.Fatalf("TLS config with a custom RoundTripper: %v", err)
	}
	if _, err := client.Login(ctx, f.URL, "/cpsess0123456789", "s", client.WithHTTPClient(hc), client.WithTLSConfig(&tls.Config{})); err == nil {
		t.Fatal("Login accepted a TLS config with a custom RoundTripper")
	}
	// WithHTTPClient's client is not modified by WithTLSConfig or Login.
	base := &http.Client{Transport: &http.Transport{}}
	tr := base.Transport
	e := start(t, testserver.Options{})
	if _, err := e.alice().UAPI(ctx, "Session", "create_temp_user", nil); err != nil {
		t.Fatal(err)
	}
	c = client.New(e.base("cpaneld"), client.WithHTTPClient(base), client.WithTLSConfig(e.tls), client.WithAPIToken("alice", testserver.AliceToken))
	if _, err := c.UAPI(ctx, "Session", "create_temp_user", nil); err != nil {
		t.Fatal(err)
	}
	// (Transport.Clone itself may fill in the original's HTTP/2 defaults.)
	if tc := tr.(*http.Transport).TLSClientConfig; base.Transport != tr || base.Jar != nil || (tc != nil && (tc.RootCAs != nil || tc.ServerName != "")) {
		t.Fatal("the caller's http.Client was modified")
	}
	// Without trusting the certificate, TLS fails (nothing is skipped).
	_, err := client.New(e.base("cpaneld"), client.WithAPIToken("alice", testserver.AliceToken)).UAPI(ctx, "Session", "create_temp_user", nil)
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("untrusted certificate: %v", err)
	}
	noSecrets(t, err, testserver.AliceToken)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestTolerantDecoding: cPanel versions differ in small ways (status as a
// string, a single string for a list, non-string list elements).
func TestTolerantDecoding(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, k := range []struct {
		body   string
		status int
		errs   []string
	}{
		{`{"status":"1","data":{}}`, 1, nil},
		{`{"status":true,"data":{}}`, 1, nil},
		{`{"status":1.0,"data":{}}`, 1, nil},
		{`{"status":"0","errors":"one"}`, 0, []string{"one"}},
		{`{"status":false,"errors":["a",{"b":1},2]}`, 0, []string{"a", `{"b":1}`, "2"}},
		{`{"status":0,"errors":[]}`, 0, []string{}},
	} {
		f := newFake(t, answer(200, "application/json", k.body))
		res, err := client.New(f.URL).UAPI(ctx, "M", "f", nil)
		if res == nil || res.Status != k.status || fmt.Sprint(res.Errors) != fmt.Sprint(k.errs) {
			t.Fatalf("%s: %+v %v", k.body, res, err)
		}
		if (err != nil) != (k.status == 0) {
			t.Fatalf("%s: error %v", k.body, err)
		}
		if k.status == 0 && len(k.errs) == 0 && !strings.Contains(err.Error(), "without a message") {
			t.Fatalf("%s: error text %q", k.body, err)
		}
	}
	for _, body := range []string{`{"status":"x"}`, `{"status":1,"metadata":[1]}`, `{"status":1,"errors":{"a":1}}`} {
		f := newFake(t, answer(200, "application/json", body))
		var he *client.HTTPError
		if _, err := client.New(f.URL).UAPI(ctx, "M", "f", nil); !errors.As(err, &he) {
			t.Fatalf("%s: %v", body, err)
		}
	}
}

// TestLogoutRefused: a logout the server refuses (wrong token) is a
// LoginError.
func TestLogoutRefused(t *testing.T) {
	t.Parallel()
	const token = "/cpsess5555555555"
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case token + "/login/":
			http.SetCookie(w, &http.Cookie{Name: "cpsession", Value: "c", Path: "/"})
			io.WriteString(w, `{"status":1,"security_token":"`+token+`","redirect":"`+token+`/"}`)
		case token + "/logout/":
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(401)
			io.WriteString(w, `<html><p>Login failed: <code id="code">token_incorrect</code></p></html>`)
		}
	})
	ctx := context.Background()
	s, err := client.Login(ctx, f.URL, token, "s")
	if err != nil {
		t.Fatal(err)
	}
	loginError(t, s.Logout(ctx), client.CodeTokenIncorrect)
}
