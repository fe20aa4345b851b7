package client_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uapid/uapid/client"
	"github.com/uapid/uapid/internal/testserver"
)

// The examples run against a uapid started for them (exampleServer) with
// the test fixture: the account alice (API token testserver.AliceToken)
// owning the mailbox info@alice.test, and root. Against a real server, use
// its URLs (https://host:2083, :2096, :2087) and your credentials, and leave
// out WithTLSConfig when its certificate is publicly trusted.

// A billing system or portal logs a customer into Webmail without knowing
// the mailbox password: it asks cPanel (as the account, with an API token)
// for a one-time session and sends the browser to its login URL.
func Example() {
	srv := exampleServer()
	ctx := context.Background()

	cpanel := client.New(srv.CPanelURL, client.WithAPIToken("alice", testserver.AliceToken), client.WithTLSConfig(srv.TLS))
	ws, err := cpanel.CreateWebmailSessionForMailUser(ctx, client.WebmailSessionRequest{
		Login:  "info",
		Domain: "alice.test",
		// RemoteAddress: the browser's IP address, when it is not this
		// program's.
	})
	if err != nil {
		log.Fatal(err)
	}
	loginURL, err := ws.LoginURL(srv.WebmailURL) // redirect the browser here; it works once
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.HasSuffix(strings.Split(loginURL, "?")[0], ws.Token+"/login/"))

	// Or log in from Go, as the browser would.
	sess, err := ws.Login(ctx, srv.WebmailURL, client.WithTLSConfig(srv.TLS))
	if err != nil {
		log.Fatal(err)
	}
	defer sess.Logout(ctx)
	resp, err := sess.Get(ctx, "/") // {WebmailURL}/cpsess…/
	if err != nil {
		log.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, strings.Contains(string(page), "info@alice.test"))
	// Output:
	// true
	// 200 true
}

func ExampleClient_UAPI() {
	srv := exampleServer()
	ctx := context.Background()
	c := client.New(srv.CPanelURL, client.WithAPIToken("alice", testserver.AliceToken), client.WithTLSConfig(srv.TLS))

	res, err := c.UAPI(ctx, "Email", "list_pops", url.Values{"regex": {"^info@"}})
	if err != nil {
		log.Fatal(err)
	}
	var pops []struct {
		Email string `json:"email"`
	}
	if err := res.Decode(&pops); err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Status, pops[0].Email)

	// A failed call returns the result and an *APIError with its errors.
	_, err = c.UAPI(ctx, "Session", "create_webmail_session_for_mail_user", url.Values{"login": {"info"}})
	var apiErr *client.APIError
	if errors.As(err, &apiErr) {
		fmt.Println(apiErr.Errors[0])
	}
	// Output:
	// 1 info@alice.test
	// Provide the “domain” argument.
}

func ExampleClient_CreateWebmailSessionForMailUser() {
	srv := exampleServer()
	ctx := context.Background()
	c := client.New(srv.CPanelURL, client.WithAPIToken("alice", testserver.AliceToken), client.WithTLSConfig(srv.TLS))

	ws, err := c.CreateWebmailSessionForMailUser(ctx, client.WebmailSessionRequest{Login: "info", Domain: "alice.test", Locale: "de"})
	if err != nil {
		log.Fatal(err)
	}
	user, _, _ := strings.Cut(ws.Session, ":")
	fmt.Println(user, strings.HasPrefix(ws.Token, "/cpsess"), ws.Hostname == "")

	_, err = c.CreateWebmailSessionForMailUser(ctx, client.WebmailSessionRequest{Login: "info", Domain: "bob.test"})
	fmt.Println(err)
	// Output:
	// info@alice.test true true
	// uapid client: UAPI Session::create_webmail_session_for_mail_user: You do not have a user named “info@bob.test”.
}

// With the mailbox's password (a "log in to Webmail" form of a portal): the
// reason of a refusal is in APIError.Type.
func ExampleClient_CreateWebmailSessionForMailUserCheckPassword() {
	srv := exampleServer()
	ctx := context.Background()
	c := client.New(srv.CPanelURL, client.WithAPIToken("alice", testserver.AliceToken), client.WithTLSConfig(srv.TLS))
	req := client.WebmailSessionRequest{Login: "info", Domain: "alice.test"}

	for _, password := range []string{"not-the-password", testserver.InfoPassword} {
		_, err := c.CreateWebmailSessionForMailUserCheckPassword(ctx, req, password)
		var apiErr *client.APIError
		switch {
		case errors.As(err, &apiErr) && apiErr.Type == client.TypeBadPassword:
			fmt.Println("wrong password")
		case err != nil:
			log.Fatal(err)
		default:
			fmt.Println("session created")
		}
	}
	// Output:
	// wrong password
	// session created
}

func ExampleClient_CreateWebmailSessionForSelf() {
	srv := exampleServer()
	c := client.New(srv.CPanelURL, client.WithBasicAuth("alice", testserver.AlicePassword), client.WithTLSConfig(srv.TLS))
	ws, err := c.CreateWebmailSessionForSelf(context.Background(), client.SelfSessionRequest{})
	if err != nil {
		log.Fatal(err)
	}
	user, _, _ := strings.Cut(ws.Session, ":")
	fmt.Println(user)
	// Output:
	// alice
}

// Root (or a reseller) opens a cPanel session for an account, e.g. for a
// "log in to cPanel" button, and the program uses it like a browser.
func ExampleClient_CreateUserSession() {
	srv := exampleServer()
	ctx := context.Background()
	whm := client.New(srv.WHMURL, client.WithWHMToken("root", testserver.RootToken), client.WithTLSConfig(srv.TLS))

	us, err := whm.CreateUserSession(ctx, client.UserSessionRequest{User: "alice", Service: client.ServiceCPanel})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(us.Service, time.Until(us.Expires) > 4*time.Minute)

	sess, err := client.LoginURL(ctx, us.URL, client.WithTLSConfig(srv.TLS))
	if err != nil {
		log.Fatal(err)
	}
	defer sess.Logout(ctx)
	// Session::create_temp_user creates a database user only inside a
	// cPanel session (here no database server is configured).
	_, _, err = sess.API().CreateTempUser(ctx)
	fmt.Println(err)

	// The URL works once.
	_, err = client.LoginURL(ctx, us.URL, client.WithTLSConfig(srv.TLS))
	var loginErr *client.LoginError
	fmt.Println(errors.As(err, &loginErr), loginErr.Code)
	// Output:
	// cpaneld true
	// uapid client: UAPI Session::create_temp_user: No database server is configured for temporary users.
	// true invalid_session
}

func ExampleClient_WHM() {
	srv := exampleServer()
	whm := client.New(srv.WHMURL, client.WithBasicAuth("root", testserver.RootPassword), client.WithTLSConfig(srv.TLS))
	res, err := whm.WHM(context.Background(), "version", nil)
	if err != nil {
		log.Fatal(err)
	}
	var v struct{ Version string }
	if err := res.Decode(&v); err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Metadata.Result, v.Version)
	// Output:
	// 1 11.134.0.0
}

func ExampleLogin() {
	srv := exampleServer()
	ctx := context.Background()
	cpanel := client.New(srv.CPanelURL, client.WithAPIToken("alice", testserver.AliceToken), client.WithTLSConfig(srv.TLS))
	ws, err := cpanel.CreateWebmailSessionForMailUser(ctx, client.WebmailSessionRequest{Login: "info", Domain: "alice.test"})
	if err != nil {
		log.Fatal(err)
	}

	sess, err := client.Login(ctx, srv.WebmailURL, ws.Token, ws.Session, client.WithTLSConfig(srv.TLS))
	if err != nil {
		log.Fatal(err)
	}
	// UAPI through the session: the mailbox sees itself.
	res, err := sess.UAPI(ctx, "Email", "list_pops", nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.Contains(string(res.Data), "info@alice.test"))
	if err := sess.Logout(ctx); err != nil {
		log.Fatal(err)
	}

	// A session string logs in once.
	_, err = client.Login(ctx, srv.WebmailURL, ws.Token, ws.Session, client.WithTLSConfig(srv.TLS))
	fmt.Println(err)
	fmt.Println(errors.Is(err, client.ErrAccessDenied))
	// Output:
	// true
	// uapid client: login refused: invalid_session (the session is not valid, or it was already used)
	// true
}

func ExampleErrAccessDenied() {
	srv := exampleServer()
	c := client.New(srv.CPanelURL, client.WithAPIToken("alice", "NOTTHETOKEN0123456789ABCDEFGHIJ"), client.WithTLSConfig(srv.TLS))
	_, err := c.UAPI(context.Background(), "Email", "list_pops", nil)
	fmt.Println(errors.Is(err, client.ErrAccessDenied))
	var httpErr *client.HTTPError
	if errors.As(err, &httpErr) {
		fmt.Println(httpErr.StatusCode)
	}
	// Output:
	// true
	// 401
}

// The same code works against a real cPanel & WHM server (not run here).
func Example_realServer() {
	ctx := context.Background()
	cpanel := client.New("https://server.example.com:2083",
		client.WithAPIToken("cpuser", os.Getenv("CPANEL_TOKEN")),
		client.WithTimeout(30*time.Second))
	ws, err := cpanel.CreateWebmailSessionForMailUser(ctx, client.WebmailSessionRequest{
		Login: "info", Domain: "example.com", RemoteAddress: "203.0.113.7",
	})
	if err != nil {
		log.Fatal(err)
	}
	u, err := ws.LoginURL("https://server.example.com:2096")
	if err != nil {
		log.Fatal(err)
	}
	_ = u // redirect the customer's browser to u
}

// exampleEnv is the uapid the examples run against.
type exampleEnv struct {
	CPanelURL, WebmailURL, WHMURL string
	TLS                           *tls.Config // trusts the server's generated certificate
}

var (
	exampleOnce sync.Once
	exampleT    *exampleTB
	exampleSrv  *exampleEnv
)

// exampleServer starts (once) the uapid the examples use; TestMain stops it.
func exampleServer() *exampleEnv {
	exampleOnce.Do(func() {
		exampleT = &exampleTB{}
		srv := testserver.Start(exampleT, testserver.Options{Args: []string{"--hostname", "127.0.0.1"}})
		exampleSrv = &exampleEnv{
			CPanelURL:  srv.URL("cpaneld", ""),
			WebmailURL: srv.URL("webmaild", ""),
			WHMURL:     srv.URL("whostmgrd", ""),
			TLS:        &tls.Config{RootCAs: srv.RootCAs, ServerName: "localhost"},
		}
	})
	return exampleSrv
}

func stopExampleServer() {
	if exampleT != nil {
		exampleT.cleanup()
	}
}

// exampleTB lets testserver.Start run outside a test (examples have no
// *testing.T). Only the methods testserver uses are implemented.
type exampleTB struct {
	testing.TB
	mu       sync.Mutex
	cleanups []func()
}

func (*exampleTB) Helper()                        {}
func (*exampleTB) Fatal(args ...any)              { panic(fmt.Sprint(args...)) }
func (*exampleTB) Fatalf(format string, a ...any) { panic(fmt.Sprintf(format, a...)) }
func (*exampleTB) Errorf(format string, a ...any) { fmt.Fprintf(os.Stderr, format+"\n", a...) }

func (e *exampleTB) TempDir() string {
	dir, err := os.MkdirTemp("", "uapid-example-")
	if err != nil {
		panic(err)
	}
	e.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func (e *exampleTB) Cleanup(f func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.cleanups = append(e.cleanups, f)
}

func (e *exampleTB) cleanup() {
	e.mu.Lock()
	fs := e.cleanups
	e.cleanups = nil
	e.mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}
