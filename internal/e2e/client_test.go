package e2e_test

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/uapid/uapid/client"
	"github.com/uapid/uapid/internal/testserver"
)

// TestProvisionAndLoginWithClient is the ecosystem issue's end-to-end test,
// written as an integrator would: only HTTP APIs, through the public Go
// client. Root creates an account (createacct), the account adds a mailbox
// (Email::add_pop) and creates a Webmail session for it, the session logs in
// and its landing page names the mailbox, and a logout ends it. Then
// /metrics shows what happened.
func TestProvisionAndLoginWithClient(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{Args: []string{"--metrics-addr", "127.0.0.1:0"}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tlsCfg := client.WithTLSConfig(&tls.Config{RootCAs: srv.RootCAs, ServerName: "localhost"})
	base := func(service string) string { return "https://" + srv.Addrs[service] }

	whm := client.New(base("whostmgrd"), client.WithBasicAuth("root", testserver.RootPassword), tlsCfg)
	res, err := whm.WHM(ctx, "createacct", url.Values{"username": {"dora"}, "domain": {"dora.test"}, "password": {"Dora-pass-12"}})
	if err != nil {
		t.Fatalf("createacct: %v", err)
	}
	if res.Metadata.Result != 1 {
		t.Fatalf("createacct metadata %+v", res.Metadata)
	}

	dora := client.New(base("cpaneld"), client.WithBasicAuth("dora", "Dora-pass-12"), tlsCfg)
	if _, err := dora.UAPI(ctx, "Email", "add_pop", url.Values{"email": {"hello"}, "password": {"Hello-pass-12"}, "domain": {"dora.test"}}); err != nil {
		t.Fatalf("add_pop: %v", err)
	}
	ws, err := dora.CreateWebmailSessionForMailUser(ctx, client.WebmailSessionRequest{Login: "hello", Domain: "dora.test", RemoteAddress: "127.0.0.1"})
	if err != nil {
		t.Fatalf("create session: %v", err)
	}
	sess, err := ws.Login(ctx, base("webmaild"), tlsCfg)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	resp, err := sess.Get(ctx, "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), `id="user">hello@dora.test<`) {
		t.Fatalf("landing page HTTP %d: %s", resp.StatusCode, page)
	}
	// The session string worked once; a second login is refused.
	if _, err := ws.Login(ctx, base("webmaild"), tlsCfg); err == nil {
		t.Fatal("the session logged in twice")
	}
	if err := sess.Logout(ctx); err != nil {
		t.Fatalf("logout: %v", err)
	}

	lines := strings.Split(strings.TrimSpace(srv.Stdout.String()), "\n")
	addr := strings.TrimPrefix(lines[3], "listening service=metrics tls=false addr=")
	mr, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(mr.Body)
	mr.Body.Close()
	for _, want := range []string{
		`uapid_http_requests_total{code="200",function="createacct",module="whm",service="whostmgrd"} 1`,
		`uapid_http_requests_total{code="200",function="add_pop",module="Email",service="cpaneld"} 1`,
		`uapid_sessions_created_total{method="create_webmail_session_for_mail_user",service="webmaild"} 1`,
		`uapid_logins_total{service="webmaild"} 1`,
		`uapid_login_failures_total{reason="invalid_session"} 1`,
		`uapid_sessions_ended_total{how="logout"} 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
