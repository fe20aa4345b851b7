package mailstack_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/mailstack"
	"github.com/uapid/uapid/internal/mailstack/stacktest"
	"github.com/uapid/uapid/internal/testserver"
)

// imapConn is a minimal IMAP client over plain TCP on loopback: enough to
// log in and look at a mailbox.
type imapConn struct {
	t   *testing.T
	c   net.Conn
	r   *bufio.Reader
	tag int
}

// dialIMAP connects from the local address from (e.g. "127.0.0.2"), so
// that Dovecot reports it as the client's, and reads the greeting.
func dialIMAP(t *testing.T, addr, from string) *imapConn {
	t.Helper()
	d := net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("connect to IMAP %s from %s: %v", addr, from, err)
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	ic := &imapConn{t: t, c: c, r: bufio.NewReader(c)}
	t.Cleanup(func() { c.Close() })
	if l := ic.line(); !strings.HasPrefix(l, "* OK") {
		t.Fatalf("IMAP greeting %q", l)
	}
	return ic
}

func (ic *imapConn) line() string {
	ic.t.Helper()
	l, err := ic.r.ReadString('\n')
	if err != nil {
		ic.t.Fatalf("IMAP read: %v", err)
	}
	return strings.TrimRight(l, "\r\n")
}

// cmd sends a tagged command and returns the tagged status line ("OK …",
// "NO …") and the untagged lines before it. A continuation request (the
// server's SASL error challenge) is answered with an empty line, as RFC
// 7628 has clients do.
func (ic *imapConn) cmd(format string, args ...any) (status string, untagged []string) {
	ic.t.Helper()
	ic.tag++
	tag := fmt.Sprintf("a%d", ic.tag)
	fmt.Fprintf(ic.c, "%s %s\r\n", tag, fmt.Sprintf(format, args...))
	for {
		l := ic.line()
		switch {
		case strings.HasPrefix(l, tag+" "):
			return strings.TrimPrefix(l, tag+" "), untagged
		case strings.HasPrefix(l, "+"):
			fmt.Fprintf(ic.c, "\r\n")
		default:
			untagged = append(untagged, l)
		}
	}
}

func xoauth2(user, token string) string {
	return base64.StdEncoding.EncodeToString([]byte("user=" + user + "\x01auth=Bearer " + token + "\x01\x01"))
}

func oauthbearer(user, token string) string {
	return base64.StdEncoding.EncodeToString([]byte("n,a=" + user + ",\x01auth=Bearer " + token + "\x01\x01"))
}

// imapLogin tries one login from a fresh connection and returns the
// tagged status.
func imapLogin(t *testing.T, addr, from, command string) string {
	t.Helper()
	st, _ := dialIMAP(t, addr, from).cmd("%s", command)
	return st
}

func wantOK(t *testing.T, what, status string) {
	t.Helper()
	if !strings.HasPrefix(status, "OK") {
		t.Fatalf("%s: %q, want OK", what, status)
	}
}

func wantRefused(t *testing.T, what, status string) {
	t.Helper()
	if !strings.HasPrefix(status, "NO [AUTHENTICATIONFAILED]") {
		t.Fatalf("%s: %q, want NO [AUTHENTICATIONFAILED]", what, status)
	}
}

// webmailToken logs the mailbox in on uapid's Webmail port as a portal's
// browser would, has Roundcube's client authorize, and exchanges the code:
// it returns the access token and the logged-in client with its /cpsess…
// token (to log out).
func webmailToken(t *testing.T, s *stacktest.Stack, login, domain string) (string, *http.Client, string) {
	t.Helper()
	srv := s.Srv
	r := srv.Get("cpaneld", "/execute/Session/create_webmail_session_for_mail_user?"+
		url.Values{"login": {login}, "domain": {domain}, "remote_address": {"127.0.0.1"}}.Encode(),
		testserver.CPanelToken("alice", testserver.AliceToken))
	v := r.JSON(t)
	d, _ := v["data"].(map[string]any)
	if d == nil {
		t.Fatalf("create_webmail_session_for_mail_user: %s", r.Body)
	}
	tok, sess := d["token"].(string), d["session"].(string)
	c := srv.Client()
	if r := srv.PostForm(c, "webmaild", tok+"/login/", "", url.Values{"session": {sess}}); r.StatusCode != http.StatusFound {
		t.Fatalf("login: HTTP %d %s", r.StatusCode, r.Body)
	}
	redirect := "http://127.0.0.1:9/index.php/login/oauth"
	q := url.Values{"response_type": {"code"}, "client_id": {stacktest.ClientID}, "redirect_uri": {redirect}, "state": {"s"}}
	req, _ := http.NewRequest("GET", srv.URL("webmaild", "/oauth2/authorize?"+q.Encode()), nil)
	r = srv.Do(c, req)
	loc, err := url.Parse(r.Header.Get("Location"))
	if r.StatusCode != http.StatusFound || err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("authorize: HTTP %d Location %q", r.StatusCode, r.Header.Get("Location"))
	}
	r = srv.PostForm(nil, "webmaild", "/oauth2/token", "", url.Values{"grant_type": {"authorization_code"},
		"code": {loc.Query().Get("code")}, "redirect_uri": {redirect},
		"client_id": {stacktest.ClientID}, "client_secret": {s.Wiring.ClientSecret}})
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(r.Body, &tr); err != nil || tr.AccessToken == "" {
		t.Fatalf("token: HTTP %d %s", r.StatusCode, r.Body)
	}
	return tr.AccessToken, c, tok
}

// TestIMAPWithUapid runs IMAP logins against a real Dovecot whose only
// authority is uapid: XOAUTH2 and OAUTHBEARER with Webmail tokens
// (introspection), and plain logins with the mailbox password (uapid's
// password check, with its brute-force accounting against the address
// Dovecot reports and the mailbox). A message delivered over LMTP shows in
// the inbox.
func TestIMAPWithUapid(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{Args: []string{"--bruteforce-ip-max", "3", "--bruteforce-user-max", "6"}})
	imap := s.Dovecot.IMAPAddr

	// Delivery: uapid confirms the recipient, Dovecot stores the message.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	subject := "Welcome " + time.Now().Format("15:04:05.000")
	msg := "From: portal@example.test\r\nTo: info@alice.test\r\nSubject: " + subject + "\r\n\r\nHello.\r\n.leading dot\r\n"
	if err := mailstack.Deliver(ctx, s.Dovecot.LMTPAddr, "portal@example.test", "info@alice.test", []byte(msg)); err != nil {
		t.Fatalf("deliver: %v", err)
	}
	if err := mailstack.Deliver(ctx, s.Dovecot.LMTPAddr, "portal@example.test", "nobody@alice.test", []byte(msg)); err == nil ||
		!strings.Contains(err.Error(), "550") {
		t.Fatalf("delivery to an unknown mailbox: %v, want a 550 refusal", err)
	}

	// XOAUTH2 with a live token: the mailbox, with the message.
	token, c, cpsess := webmailToken(t, s, "info", "alice.test")
	ic := dialIMAP(t, imap, "127.0.0.1")
	st, _ := ic.cmd("AUTHENTICATE XOAUTH2 %s", xoauth2("info@alice.test", token))
	wantOK(t, "XOAUTH2 with a live token", st)
	st, _ = ic.cmd("SELECT INBOX")
	wantOK(t, "SELECT INBOX", st)
	st, lines := ic.cmd("FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
	wantOK(t, "FETCH", st)
	if !strings.Contains(strings.Join(lines, "\n"), "Subject: "+subject) {
		t.Fatalf("the delivered message is not in the inbox: %q", lines)
	}
	st, lines = ic.cmd("FETCH 1 (BODY.PEEK[TEXT])")
	if !strings.Contains(strings.Join(lines, "\n"), ".leading dot") {
		t.Errorf("a line starting with a dot lost its dot: %q (%s)", lines, st)
	}
	// OAUTHBEARER too; the user name is case-insensitive.
	wantOK(t, "OAUTHBEARER", imapLogin(t, imap, "127.0.0.1", "AUTHENTICATE OAUTHBEARER "+oauthbearer("Info@Alice.test", token)))

	// A token for another mailbox is refused.
	other, _, _ := webmailToken(t, s, "sales", "shop.alice.test")
	wantRefused(t, "XOAUTH2 of info with sales' token", imapLogin(t, imap, "127.0.0.1", "AUTHENTICATE XOAUTH2 "+xoauth2("info@alice.test", other)))
	wantOK(t, "sales' own token", imapLogin(t, imap, "127.0.0.1", "AUTHENTICATE XOAUTH2 "+xoauth2("sales@shop.alice.test", other)))
	wantRefused(t, "a made-up token", imapLogin(t, imap, "127.0.0.1", "AUTHENTICATE XOAUTH2 "+xoauth2("info@alice.test", "uapid_at_"+strings.Repeat("x", 43))))

	// The token of an ended session is refused.
	if r := s.Srv.Do(c, mustReq(t, "POST", s.Srv.URL("webmaild", cpsess+"/logout/"))); r.StatusCode != http.StatusFound {
		t.Fatalf("logout: HTTP %d", r.StatusCode)
	}
	wantRefused(t, "XOAUTH2 with the token of a logged-out session", imapLogin(t, imap, "127.0.0.1", "AUTHENTICATE XOAUTH2 "+xoauth2("info@alice.test", token)))

	// Desktop clients: the mailbox password, checked by uapid.
	pass := testserver.InfoPassword
	wantOK(t, "LOGIN with the mailbox password", imapLogin(t, imap, "127.0.0.1", `LOGIN info@alice.test "`+pass+`"`))
	wantOK(t, "AUTHENTICATE PLAIN", imapLogin(t, imap, "127.0.0.1", "AUTHENTICATE PLAIN "+
		base64.StdEncoding.EncodeToString([]byte("\x00info@alice.test\x00"+pass))))
	wantRefused(t, "LOGIN with a wrong password", imapLogin(t, imap, "127.0.0.1", `LOGIN info@alice.test "Wrong-pass-1"`))
	wantRefused(t, "LOGIN of an unknown mailbox", imapLogin(t, imap, "127.0.0.1", `LOGIN nobody@alice.test "`+pass+`"`))
	wantRefused(t, "LOGIN of a suspended login", imapLogin(t, imap, "127.0.0.1", `LOGIN locked@alice.test "Locked-pass-1"`))

	// Failures count against the client address Dovecot reports: three
	// more from 127.0.0.2 pass the limit (3); then even the right
	// password from there is refused, while another address gets in.
	for range 4 {
		wantRefused(t, "LOGIN with a wrong password from 127.0.0.2", imapLogin(t, imap, "127.0.0.2", `LOGIN sales@shop.alice.test "Wrong-pass-1"`))
	}
	wantRefused(t, "LOGIN with the right password from a blocked address",
		imapLogin(t, imap, "127.0.0.2", `LOGIN info@alice.test "`+pass+`"`))
	wantOK(t, "LOGIN from another address", imapLogin(t, imap, "127.0.0.3", `LOGIN info@alice.test "`+pass+`"`))

	// ... and against the mailbox: seven failures on sales (limit 6) from
	// several addresses block it for every address that has not logged
	// in as sales before.
	for i := range 3 {
		from := fmt.Sprintf("127.0.0.%d", 10+i)
		wantRefused(t, "LOGIN with a wrong password", imapLogin(t, imap, from, `LOGIN sales@shop.alice.test "Wrong-pass-2"`))
	}
	wantRefused(t, "LOGIN of a blocked mailbox with its right password",
		imapLogin(t, imap, "127.0.0.20", `LOGIN sales@shop.alice.test "`+testserver.SalesPassword+`"`))
	wantOK(t, "another mailbox from the same address", imapLogin(t, imap, "127.0.0.20", `LOGIN info@alice.test "`+pass+`"`))
	// Token logins are not password guesses: sales' token still works.
	wantOK(t, "XOAUTH2 of the blocked mailbox", imapLogin(t, imap, "127.0.0.20", "AUTHENTICATE XOAUTH2 "+xoauth2("sales@shop.alice.test", other)))
}

func mustReq(t *testing.T, method, u string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
