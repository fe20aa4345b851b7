package server_test

// Black-box tests of provisioning: UAPI Email (mailboxes) and Tokens, and
// WHM API 1 createacct, listaccts, accountsummary, suspendacct,
// unsuspendacct, removeacct, passwd, api_token_create and
// api_token_revoke. Only HTTP is used.

import (
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/passwd"
	"github.com/uapid/uapid/internal/store/sqlstore"
	"github.com/uapid/uapid/internal/testserver"
)

var (
	provTokenRE     = regexp.MustCompile(`^[0-9A-Z]{32}$`)
	provStartdateRE = regexp.MustCompile(`^\d\d [A-Z][a-z][a-z] \d\d \d\d:\d\d$`)
)

// provQ builds arguments from key, value pairs.
func provQ(kv ...string) url.Values {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		q.Add(kv[i], kv[i+1])
	}
	return q
}

// provUAPI runs a UAPI function on service ("cpaneld" or "webmaild") and
// returns the checked bare result.
func provUAPI(t *testing.T, srv *testserver.Server, service, authz, fn string, q url.Values) map[string]any {
	t.Helper()
	return decodeResult(t, srv.Get(service, "/execute/"+fn+"?"+q.Encode(), authz))
}

// provOK asserts a successful UAPI result and returns its data.
func provOK(t *testing.T, v map[string]any) any {
	t.Helper()
	if v["status"] != json.Number("1") || v["errors"] != nil {
		t.Fatalf("want success: %v", v)
	}
	return v["data"]
}

// provWHM runs a WHM API 1 function and checks the envelope: result 1 with
// reason (and data present), or result 0 with reason and no data. It
// returns data.
func provWHM(t *testing.T, srv *testserver.Server, authz, fn string, q url.Values, result int, reason string) any {
	t.Helper()
	if q == nil {
		q = url.Values{}
	}
	v := whm(t, srv, authz, fn, q)
	md, _ := v["metadata"].(map[string]any)
	if md["command"] != fn || md["version"] != json.Number("1") || md["result"] != json.Number(strconv.Itoa(result)) || md["reason"] != reason {
		t.Fatalf("%s %v: metadata %v, want result %d reason %q", fn, q, md, result, reason)
	}
	data, has := v["data"]
	if has != (result == 1) {
		t.Fatalf("%s: data present=%v with result %d: %v", fn, has, result, v)
	}
	return data
}

// provStatus is the HTTP status of a UAPI call with authz.
func provStatus(t *testing.T, srv *testserver.Server, service, authz string) int {
	t.Helper()
	return srv.Get(service, "/execute/Email/list_pops", authz).StatusCode
}

// provLoginAccount logs in with a password on the cPanel port and returns
// the client (holding the cookie) and the security token.
func provLoginAccount(t *testing.T, srv *testserver.Server, user, pass string) (*http.Client, string) {
	t.Helper()
	c := srv.Client()
	r := srv.PostForm(c, "cpaneld", "/login/?login_only=1", "", url.Values{"user": {user}, "pass": {pass}})
	if r.StatusCode != 200 {
		t.Fatalf("password login %s: HTTP %d %s", user, r.StatusCode, r.Body)
	}
	return c, r.JSON(t)["security_token"].(string)
}

// provWebmailSession creates a Webmail session for the mailbox as authz
// (an account credential), logs in and checks the landing page; it returns
// the logged-in client and token.
func provWebmailSession(t *testing.T, srv *testserver.Server, authz, login, domain string) (*http.Client, string) {
	t.Helper()
	s := createSession(t, srv, authz, mailQ(login, domain))
	c := srv.Client()
	if r := loginWebmail(t, srv, c, s); r.StatusCode != http.StatusFound {
		t.Fatalf("login: HTTP %d %s", r.StatusCode, r.Body)
	}
	provLanding(t, srv, c, "webmaild", s.Token, 200)
	return c, s.Token
}

func loginWebmail(t *testing.T, srv *testserver.Server, c *http.Client, s created) *testserver.Response {
	t.Helper()
	return login(srv, c, "webmaild", s.Token, s.Session)
}

// provLanding asserts the status of the landing page of a logged-in client.
func provLanding(t *testing.T, srv *testserver.Server, c *http.Client, service, token string, status int) *testserver.Response {
	t.Helper()
	r := srv.Do(c, mustReq(t, "GET", srv.URL(service, token+"/")))
	if r.StatusCode != status {
		t.Fatalf("landing %s: HTTP %d, want %d: %s", token, r.StatusCode, status, r.Body)
	}
	return r
}

const provCheckPW = "Session/create_webmail_session_for_mail_user_check_password"

// provCheckPassword returns the typed-error type of check_password ("" on
// success).
func provCheckPassword(t *testing.T, srv *testserver.Server, authz, login, domain, pass string) string {
	t.Helper()
	v := provUAPI(t, srv, "cpaneld", authz, provCheckPW, provQ("login", login, "domain", domain, "password", pass))
	if v["status"] == json.Number("1") {
		return ""
	}
	d, _ := v["data"].(map[string]any)
	typ, _ := d["type"].(string)
	return typ
}

// ---- UAPI Email ----

func TestEmailAddPop(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	alice := aliceToken()
	add := func(kv ...string) map[string]any {
		t.Helper()
		return provUAPI(t, srv, "cpaneld", alice, "Email/add_pop", provQ(kv...))
	}
	// Success shapes: data is the address with "+" for "@".
	v := add("email", "new", "password", "Good-pass-1", "quota", "500", "send_welcome_email", "1", "skip_update_db", "1")
	if provOK(t, v) != "new+alice.test" || v["messages"] != nil || v["warnings"] != nil || len(v["metadata"].(map[string]any)) != 0 {
		t.Fatalf("add_pop: %v", v)
	}
	if d := provOK(t, add("email", "Full@Shop.Alice.Test", "password", "Good-pass-1", "quota", "unlimited")); d != "full+shop.alice.test" {
		t.Fatalf("full address: %v", d)
	}
	if d := provOK(t, add("email", "other", "domain", "shop.alice.test", "password", "Good-pass-1")); d != "other+shop.alice.test" {
		t.Fatalf("domain argument: %v", d)
	}
	// The quota is kept in bytes; "unlimited" and none are 0.
	db, err := sqlstore.OpenSQLite(t.Context(), filepath.Join(srv.DataDir, "uapid.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for addr, want := range map[string]int64{"new@alice.test": 500 << 20, "full@shop.alice.test": 0, "other@shop.alice.test": 0} {
		if m, err := db.Directory().GetMailbox(t.Context(), addr); err != nil || m.Quota != want {
			t.Errorf("quota of %s = %d, %v; want %d", addr, m.Quota, err, want)
		}
	}
	// The new mailbox exists for the Session module and logs in.
	if typ := provCheckPassword(t, srv, alice, "new", "alice.test", "Good-pass-1"); typ != "" {
		t.Fatalf("check_password of the new mailbox: %s", typ)
	}
	if st := provStatus(t, srv, "webmaild", testserver.Basic("full@shop.alice.test", "Good-pass-1")); st != 200 {
		t.Fatalf("Basic auth of the new mailbox: HTTP %d", st)
	}
	// A crypt hash instead of a password.
	hash, err := passwd.Hash("Hashed-pass-1")
	if err != nil {
		t.Fatal(err)
	}
	if d := provOK(t, add("email", "hashed", "password_hash", hash)); d != "hashed+alice.test" {
		t.Fatalf("password_hash: %v", d)
	}
	if typ := provCheckPassword(t, srv, alice, "hashed", "alice.test", "Hashed-pass-1"); typ != "" {
		t.Fatalf("check_password of the hashed mailbox: %s", typ)
	}

	for _, c := range []struct {
		name string
		kv   []string
		want string
	}{
		{"nothing", nil, "Provide the “email” and “password” arguments."},
		{"no password", []string{"email", "x"}, "Provide the “password” argument."},
		{"empty email", []string{"email", "", "password", "Good-pass-1"}, "The “email” argument cannot be empty."},
		{"empty both", []string{"email", "", "password", ""}, "The “email” and “password” arguments cannot be empty."},
		{"existing", []string{"email", "info", "password", "Good-pass-1"}, "The account info@alice.test already exists!"},
		{"existing, other case", []string{"email", "INFO@alice.test", "password", "Good-pass-1"}, "The account info@alice.test already exists!"},
		{"another account's domain", []string{"email", "x", "domain", "bob.test", "password", "Good-pass-1"}, "The domain “bob.test” does not belong to your account."},
		{"unknown domain", []string{"email", "x@nowhere.test", "password", "Good-pass-1"}, "The domain “nowhere.test” does not belong to your account."},
		{"conflicting domains", []string{"email", "x@alice.test", "domain", "shop.alice.test", "password", "Good-pass-1"},
			"The domain of the “email” argument (“alice.test”) does not match the “domain” argument (“shop.alice.test”)."},
		{"bad name", []string{"email", "bad name", "password", "Good-pass-1"},
			"“bad name@alice.test” is not a valid email address: the name before “@” may contain only letters, digits, “.”, “_”, “+” and “-” (at most 64 characters)."},
		{"cpanel", []string{"email", "cpanel", "password", "Good-pass-1"}, "You cannot use “cpanel” as the name of an email account."},
		{"no domain after @", []string{"email", "x@", "password", "Good-pass-1"}, "“x@” is not a valid email address."},
		{"weak password", []string{"email", "x", "password", "short"}, "The password is too weak: use at least 8 characters."},
		{"control character", []string{"email", "x", "password", "Good-pass-1\n"}, "The password must not contain control characters."},
		{"bad quota", []string{"email", "x", "password", "Good-pass-1", "quota", "lots"},
			"The “quota” argument must be a whole number of megabytes (0 for unlimited) or “unlimited”."},
		{"password and hash", []string{"email", "x", "password", "Good-pass-1", "password_hash", hash}, "Use either the “password” or the “password_hash” argument, not both."},
		{"bad hash", []string{"email", "x", "password_hash", "plain"},
			"The “password_hash” argument is not a password hash this server supports (SHA-512, SHA-256 or MD5 crypt, yescrypt, bcrypt or Argon2)."},
	} {
		t.Run(c.name, func(t *testing.T) { wantError(t, add(c.kv...), c.want) })
	}
	// Nothing was created by the failures.
	if typ := provCheckPassword(t, srv, alice, "x", "alice.test", "Good-pass-1"); typ != "UserNotFound" {
		t.Fatalf("a failed add_pop created x@alice.test: %s", typ)
	}
	// A mailbox user on the Webmail port cannot add mailboxes.
	v = provUAPI(t, srv, "webmaild", testserver.Basic("info@alice.test", testserver.InfoPassword), "Email/add_pop", provQ("email", "y", "password", "Good-pass-1"))
	wantError(t, v, "Execution of Email::add_pop (api version:3) is not permitted inside of webmail")
}

func TestEmailListPops(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	list := func(authz, service string, kv ...string) []map[string]any {
		t.Helper()
		v := provUAPI(t, srv, service, authz, "Email/list_pops", provQ(kv...))
		data := provOK(t, v)
		if md := v["metadata"].(map[string]any); md["transformed"] != json.Number("1") {
			t.Fatalf("metadata %v", md)
		}
		var out []map[string]any
		for _, e := range data.([]any) {
			out = append(out, e.(map[string]any))
		}
		return out
	}
	emails := func(l []map[string]any) []string {
		var out []string
		for _, e := range l {
			out = append(out, e["email"].(string))
		}
		return out
	}
	all := list(aliceToken(), "cpaneld")
	if got := emails(all); !slices.Equal(got, []string{"info@alice.test", "locked@alice.test", "sales@shop.alice.test", "alice"}) {
		t.Fatalf("list_pops: %v", got)
	}
	for _, e := range all {
		wantLogin, wantSusp := e["email"], json.Number("0")
		switch e["email"] {
		case "alice":
			wantLogin = "Main Account"
		case "locked@alice.test":
			wantSusp = "1"
		}
		if len(e) != 4 || e["login"] != wantLogin || e["suspended_login"] != wantSusp || e["suspended_incoming"] != json.Number("0") {
			t.Fatalf("entry %v", e)
		}
	}
	if got := emails(list(aliceToken(), "cpaneld", "skip_main", "1")); !slices.Equal(got, []string{"info@alice.test", "locked@alice.test", "sales@shop.alice.test"}) {
		t.Fatalf("skip_main: %v", got)
	}
	if got := emails(list(aliceToken(), "cpaneld", "regex", "SHOP", "no_validate", "1")); !slices.Equal(got, []string{"sales@shop.alice.test"}) {
		t.Fatalf("regex: %v", got)
	}
	if got := emails(list(testserver.CPanelToken("bob", testserver.BobToken), "cpaneld")); !slices.Equal(got, []string{"info@bob.test", "bob"}) {
		t.Fatalf("bob sees %v", got)
	}
	wantError(t, provUAPI(t, srv, "cpaneld", aliceToken(), "Email/list_pops", provQ("regex", "(")),
		"The “regex” argument is not a valid regular expression: error parsing regexp: missing closing ): `(?i)(`")
	// In Webmail a mailbox sees only itself.
	if got := emails(list(testserver.Basic("info@alice.test", testserver.InfoPassword), "webmaild")); !slices.Equal(got, []string{"info@alice.test"}) {
		t.Fatalf("webmail list_pops: %v", got)
	}
}

func TestEmailDeletePasswdSuspend(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	alice := aliceToken()
	call := func(fn string, kv ...string) map[string]any {
		t.Helper()
		return provUAPI(t, srv, "cpaneld", alice, "Email/"+fn, provQ(kv...))
	}

	// Argument and ownership errors.
	for _, c := range []struct {
		fn   string
		kv   []string
		want string
	}{
		{"delete_pop", nil, "Provide the “email” argument."},
		{"delete_pop", []string{"email", ""}, "The “email” argument cannot be empty."},
		{"delete_pop", []string{"email", "nobody"}, "You do not have a user named “nobody@alice.test”."},
		{"delete_pop", []string{"email", "info", "domain", "bob.test"}, "You do not have a user named “info@bob.test”."},
		{"passwd_pop", nil, "Provide the “email” and “password” arguments."},
		{"passwd_pop", []string{"email", "info"}, "Provide the “password” argument."},
		{"passwd_pop", []string{"email", "info@bob.test", "password", "Good-pass-1"}, "You do not have a user named “info@bob.test”."},
		{"passwd_pop", []string{"email", "info", "password", "weak"}, "The password is too weak: use at least 8 characters."},
		{"suspend_login", nil, "Provide the “email” argument."},
		{"suspend_login", []string{"email", "info@bob.test"}, "You do not have a user named “info@bob.test”."},
		{"unsuspend_login", nil, "Provide the “email” argument."},
		{"unsuspend_login", []string{"email", "Ghost@Alice.test"}, "You do not have a user named “Ghost@Alice.test”."},
	} {
		t.Run(c.fn+" "+strings.Join(c.kv, " "), func(t *testing.T) { wantError(t, call(c.fn, c.kv...), c.want) })
	}
	// Bob's mailbox is untouched by those attempts.
	bob := testserver.CPanelToken("bob", testserver.BobToken)
	if typ := provCheckPassword(t, srv, bob, "info", "bob.test", "Bob-mail-1"); typ != "" {
		t.Fatalf("bob's mailbox: %s", typ)
	}

	// passwd_pop: the old password stops working, the new one works, and
	// the mailbox's logged-in session ends.
	c, tok := provWebmailSession(t, srv, alice, "info", "alice.test")
	if d := provOK(t, call("passwd_pop", "email", "info", "password", "New-info-pass-2", "domain", "alice.test")); d != nil {
		t.Fatalf("passwd_pop data %v", d)
	}
	if typ := provCheckPassword(t, srv, alice, "info", "alice.test", testserver.InfoPassword); typ != "BadPassword" {
		t.Fatalf("old password after passwd_pop: %q", typ)
	}
	if typ := provCheckPassword(t, srv, alice, "info", "alice.test", "New-info-pass-2"); typ != "" {
		t.Fatalf("new password after passwd_pop: %q", typ)
	}
	provLanding(t, srv, c, "webmaild", tok, 401)

	// suspend_login: logins refused, sessions end; unsuspend_login restores.
	c, tok = provWebmailSession(t, srv, alice, "info", "alice.test")
	box := testserver.Basic("info@alice.test", "New-info-pass-2")
	if d := provOK(t, call("suspend_login", "email", "info@alice.test")); d != nil {
		t.Fatalf("suspend_login data %v", d)
	}
	provLanding(t, srv, c, "webmaild", tok, 401)
	if typ := provCheckPassword(t, srv, alice, "info", "alice.test", "New-info-pass-2"); typ != "Suspended" {
		t.Fatalf("check_password of suspended mailbox: %q", typ)
	}
	if st := provStatus(t, srv, "webmaild", box); st != 401 {
		t.Fatalf("Basic auth of suspended mailbox: HTTP %d", st)
	}
	provOK(t, call("suspend_login", "email", "info@alice.test")) // again: still fine
	provOK(t, call("unsuspend_login", "email", "info@alice.test"))
	provOK(t, call("unsuspend_login", "email", "info@alice.test"))
	if st := provStatus(t, srv, "webmaild", box); st != 200 {
		t.Fatalf("Basic auth after unsuspend_login: HTTP %d", st)
	}

	// In Webmail a mailbox may change its own password only.
	wantError(t, provUAPI(t, srv, "webmaild", box, "Email/passwd_pop", provQ("email", "sales@shop.alice.test", "password", "Good-pass-1")),
		"You do not have a user named “sales@shop.alice.test”.")
	provOK(t, provUAPI(t, srv, "webmaild", box, "Email/passwd_pop", provQ("email", "info@alice.test", "password", "Third-pass-3")))
	box = testserver.Basic("info@alice.test", "Third-pass-3")
	for _, fn := range []string{"delete_pop", "suspend_login", "unsuspend_login"} {
		wantError(t, provUAPI(t, srv, "webmaild", box, "Email/"+fn, provQ("email", "info@alice.test")),
			"Execution of Email::"+fn+" (api version:3) is not permitted inside of webmail")
	}

	// delete_pop removes the mailbox and ends its sessions.
	c, tok = provWebmailSession(t, srv, alice, "sales", "shop.alice.test")
	if d := provOK(t, call("delete_pop", "email", "sales", "domain", "shop.alice.test", "flags", "passwd")); d != nil {
		t.Fatalf("delete_pop data %v", d)
	}
	provLanding(t, srv, c, "webmaild", tok, 401)
	if typ := provCheckPassword(t, srv, alice, "sales", "shop.alice.test", testserver.SalesPassword); typ != "UserNotFound" {
		t.Fatalf("deleted mailbox: %q", typ)
	}
	wantError(t, call("delete_pop", "email", "sales@shop.alice.test"), "You do not have a user named “sales@shop.alice.test”.")
}

// ---- UAPI Tokens ----

func TestTokensModule(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	alice := aliceToken()
	call := func(fn string, kv ...string) map[string]any {
		t.Helper()
		return provUAPI(t, srv, "cpaneld", alice, "Tokens/"+fn, provQ(kv...))
	}
	before := time.Now().Unix()
	d := provOK(t, call("create_full_access", "name", "deploy")).(map[string]any)
	secret, _ := d["token"].(string)
	ct, _ := d["create_time"].(json.Number).Int64()
	if !provTokenRE.MatchString(secret) || d["name"] != "deploy" || d["expires_at"] != nil || ct < before-1 || ct > time.Now().Unix()+1 || len(d) != 4 {
		t.Fatalf("create_full_access data %v", d)
	}
	tokenAuth := testserver.CPanelToken("alice", secret)
	if st := provStatus(t, srv, "cpaneld", tokenAuth); st != 200 {
		t.Fatalf("new token: HTTP %d", st)
	}
	exp := time.Now().Add(48 * time.Hour).Unix()
	d = provOK(t, call("create_full_access", "name", "Later_1-x", "expires_at", strconv.FormatInt(exp, 10))).(map[string]any)
	if d["expires_at"] != json.Number(strconv.FormatInt(exp, 10)) {
		t.Fatalf("expires_at %v", d)
	}

	r := srv.Get("cpaneld", "/execute/Tokens/list", alice)
	if strings.Contains(string(r.Body), secret) {
		t.Fatal("list shows a secret")
	}
	v := decodeResult(t, r)
	if md := v["metadata"].(map[string]any); md["transformed"] != json.Number("1") {
		t.Fatalf("metadata %v", md)
	}
	var names []string
	for _, e := range provOK(t, v).([]any) {
		m := e.(map[string]any)
		names = append(names, m["name"].(string))
		if _, has := m["token"]; has || m["has_full_access"] != json.Number("1") || len(m["features"].([]any)) != 0 || len(m) != 5 {
			t.Fatalf("list entry %v", m)
		}
		if m["name"] == "Later_1-x" && m["expires_at"] != json.Number(strconv.FormatInt(exp, 10)) {
			t.Fatalf("list entry %v", m)
		}
		if m["name"] == "deploy" && m["expires_at"] != nil {
			t.Fatalf("list entry %v", m)
		}
	}
	if !slices.Equal(names, []string{"Later_1-x", "ci", "deploy"}) {
		t.Fatalf("list names %v", names)
	}

	for _, c := range []struct {
		fn   string
		kv   []string
		want string
	}{
		{"create_full_access", nil, "Provide the “name” argument."},
		{"create_full_access", []string{"name", ""}, "The “name” argument cannot be empty."},
		{"create_full_access", []string{"name", "deploy"}, "An API token with the name “deploy” already exists."},
		{"create_full_access", []string{"name", "ci"}, "An API token with the name “ci” already exists."},
		{"create_full_access", []string{"name", "bad name"}, "The API token name “bad name” is not valid: use 1 to 50 letters, digits, dashes (-), and underscores (_)."},
		{"create_full_access", []string{"name", strings.Repeat("n", 51)}, "The API token name “" + strings.Repeat("n", 51) + "” is not valid: use 1 to 50 letters, digits, dashes (-), and underscores (_)."},
		{"create_full_access", []string{"name", "old", "expires_at", "1000"}, "The “expires_at” argument must be a time in the future."},
		{"create_full_access", []string{"name", "old", "expires_at", "soon"}, "The “expires_at” argument must be a Unix time (0 for a token that does not expire)."},
		{"revoke", nil, "Provide the “name” argument."},
	} {
		t.Run(c.fn+" "+strings.Join(c.kv, " "), func(t *testing.T) { wantError(t, call(c.fn, c.kv...), c.want) })
	}
	// The existing "ci" token was not replaced by the refused creation.
	if st := provStatus(t, srv, "cpaneld", alice); st != 200 {
		t.Fatalf("ci token after refused duplicate: HTTP %d", st)
	}

	// revoke: data 1, the token stops working; revoking again is still 1.
	if d := provOK(t, call("revoke", "name", "deploy")); d != json.Number("1") {
		t.Fatalf("revoke data %v", d)
	}
	if st := provStatus(t, srv, "cpaneld", tokenAuth); st != 401 {
		t.Fatalf("revoked token: HTTP %d", st)
	}
	if d := provOK(t, call("revoke", "name", "deploy")); d != json.Number("1") {
		t.Fatalf("revoke of a missing token: %v", d)
	}
	// Tokens are per account: bob cannot revoke alice's.
	provOK(t, provUAPI(t, srv, "cpaneld", testserver.CPanelToken("bob", testserver.BobToken), "Tokens/revoke", provQ("name", "Later_1-x")))
	if names := tokenNames(t, srv, alice); !slices.Equal(names, []string{"Later_1-x", "ci"}) {
		t.Fatalf("after bob's revoke: %v", names)
	}
	// Not in Webmail.
	wantError(t, provUAPI(t, srv, "webmaild", testserver.Basic("info@alice.test", testserver.InfoPassword), "Tokens/list", nil),
		"Execution of Tokens::list (api version:3) is not permitted inside of webmail")
}

func tokenNames(t *testing.T, srv *testserver.Server, authz string) []string {
	t.Helper()
	var names []string
	for _, e := range provOK(t, provUAPI(t, srv, "cpaneld", authz, "Tokens/list", nil)).([]any) {
		names = append(names, e.(map[string]any)["name"].(string))
	}
	return names
}

// ---- WHM createacct ----

var resWHM = testserver.WHMToken("res", testserver.ResToken)

func TestWHMCreateAcct(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	create := func(authz string, result int, reason string, kv ...string) any {
		t.Helper()
		return provWHM(t, srv, authz, "createacct", provQ(kv...), result, reason)
	}
	for _, c := range []struct {
		name, authz string
		kv          []string
		want        string
	}{
		{"no username", rootBasic, []string{"domain", "x.test"}, "The “username” parameter is required."},
		{"no domain", rootBasic, []string{"username", "xavier"}, "The “domain” parameter is required."},
		{"bad username", rootBasic, []string{"username", "9lives", "domain", "x.test"}, "“9lives” is not a valid username: use 1 to 16 lower-case letters and digits, starting with a letter."},
		{"long username", rootBasic, []string{"username", strings.Repeat("a", 17), "domain", "x.test"}, "“" + strings.Repeat("a", 17) + "” is not a valid username: use 1 to 16 lower-case letters and digits, starting with a letter."},
		{"test prefix", rootBasic, []string{"username", "tester", "domain", "x.test"}, "The username “tester” is not allowed: a username cannot begin with “test”."},
		{"reserved", rootBasic, []string{"username", "root", "domain", "x.test"}, "The username “root” is reserved for the system."},
		{"reserved 2", rootBasic, []string{"username", "nobody", "domain", "x.test"}, "The username “nobody” is reserved for the system."},
		{"existing", rootBasic, []string{"username", "Alice", "domain", "x.test", "password", "Good-pass-1"}, "The account “alice” already exists."},
		{"domain taken", rootBasic, []string{"username", "xavier", "domain", "shop.alice.test", "password", "Good-pass-1"}, "The domain “shop.alice.test” already belongs to an account on this server."},
		{"bad domain", rootBasic, []string{"username", "xavier", "domain", "not a domain"}, "“not a domain” is not a valid domain name."},
		{"pass and password", rootBasic, []string{"username", "xavier", "domain", "x.test", "pass", "Good-pass-1", "password", "Good-pass-1"}, "Use either the “password” or the “pass” parameter, not both."},
		{"weak password", rootBasic, []string{"username", "xavier", "domain", "x.test", "password", "abc"}, "The password is too weak: use at least 8 characters."},
		{"bad locale", rootBasic, []string{"username", "xavier", "domain", "x.test", "language", "xx"}, "“xx” does not refer to any of this system’s locales."},
		{"bad quota", rootBasic, []string{"username", "xavier", "domain", "x.test", "quota", "-1"}, "The “quota” parameter must be a number of megabytes from 0 (unlimited) to 999999, or “unlimited”."},
		{"bad flag", rootBasic, []string{"username", "xavier", "domain", "x.test", "reseller", "maybe"}, "The “reseller” parameter must be 1 or 0."},
		{"bad contact", rootBasic, []string{"username", "xavier", "domain", "x.test", "contactemail", "nope"}, "“nope” is not a valid email address."},
		{"owner not reseller", rootBasic, []string{"username", "xavier", "domain", "x.test", "owner", "bob"}, "The owner “bob” is neither root nor a reseller on this server."},
		{"owner unknown", rootBasic, []string{"username", "xavier", "domain", "x.test", "owner", "ghost"}, "The owner “ghost” is neither root nor a reseller on this server."},
		{"self-owned non-reseller", rootBasic, []string{"username", "xavier", "domain", "x.test", "ownerself", "1"}, "Only a reseller can own itself: add “reseller=1” to own the account “xavier” by itself."},
		{"reseller makes reseller", resWHM, []string{"username", "xavier", "domain", "x.test", "reseller", "1"}, "You do not have permission to create reseller accounts."},
		{"reseller gives away", resWHM, []string{"username", "xavier", "domain", "x.test", "owner", "root"}, "You do not have permission to create accounts for another owner: accounts you create are yours."},
	} {
		t.Run(c.name, func(t *testing.T) { create(c.authz, 0, c.want, c.kv...) })
	}
	if st := provStatus(t, srv, "cpaneld", testserver.Basic("xavier", "Good-pass-1")); st != 401 {
		t.Fatalf("a refused createacct created xavier: HTTP %d", st)
	}

	// Root creates an account; cPanel's data keys, reason "Account Creation Ok".
	d := create(rootBasic, 1, "Account Creation Ok", "username", "Dave", "domain", "WWW.Dave.Test", "password", "Dave-pass-1",
		"plan", "gold", "contactemail", "owner@example.com", "quota", "500", "bwlimit", "unlimited", "cgi", "1", "language", "de").(map[string]any)
	if d["package"] != "gold" || d["ip"] != "127.0.0.1" || len(d) != 14 {
		t.Fatalf("createacct data %v", d)
	}
	for _, k := range []string{"nameserver", "nameserver2", "nameserver3", "nameserver4", "nameservera", "nameservera2", "nameservera3", "nameservera4",
		"nameserverentry", "nameserverentry2", "nameserverentry3", "nameserverentry4"} {
		if v, ok := d[k]; !ok || v != nil {
			t.Fatalf("createacct data %s = %v", k, v)
		}
	}
	if st := provStatus(t, srv, "cpaneld", testserver.Basic("dave", "Dave-pass-1")); st != 200 {
		t.Fatalf("dave's Basic auth: HTTP %d", st)
	}
	e := summary(t, srv, rootBasic, "user", "dave")
	if e["domain"] != "dave.test" || e["owner"] != "root" || e["plan"] != "gold" || e["email"] != "owner@example.com" {
		t.Fatalf("dave: %v", e)
	}
	// The same domain cannot be created twice.
	create(rootBasic, 0, "The domain “dave.test” already belongs to an account on this server.", "username", "dave2", "domain", "dave.test")

	// A reseller creating an account becomes its owner.
	create(resWHM, 1, "Account Creation Ok", "username", "erin", "domain", "erin.test", "password", "Erin-pass-1", "owner", "res")
	if e := summary(t, srv, resWHM, "user", "erin"); e["owner"] != "res" || e["plan"] != "default" || e["email"] != "*unknown*" {
		t.Fatalf("erin: %v", e)
	}
	// Root can give an account to a reseller, and make self-owned resellers.
	create(rootBasic, 1, "Account Creation Ok", "username", "fred", "domain", "fred.test", "pass", "Fred-pass-1", "owner", "res")
	if e := summary(t, srv, rootBasic, "user", "fred"); e["owner"] != "res" {
		t.Fatalf("fred: %v", e)
	}
	create(rootBasic, 1, "Account Creation Ok", "username", "gina", "domain", "gina.test", "password", "Gina-pass-1", "reseller", "1", "ownerself", "1")
	if e := summary(t, srv, rootBasic, "user", "gina"); e["owner"] != "gina" {
		t.Fatalf("gina: %v", e)
	}
	// gina is a reseller: her password works on WHM, but a new reseller has
	// no privileges until root gives some (as in cPanel).
	provWHM(t, srv, testserver.Basic("gina", "Gina-pass-1"), "listaccts", nil, 0, "Permission denied: you do not have the “list-accts” privilege.")
	provWHM(t, srv, rootBasic, "setacls", provQ("reseller", "gina", "acl-list-accts", "1"), 1, "OK")
	provWHM(t, srv, testserver.Basic("gina", "Gina-pass-1"), "listaccts", nil, 1, "OK")
	// Without a password the account gets an unknown one (cPanel generates one).
	create(rootBasic, 1, "Account Creation Ok", "username", "hank", "domain", "hank.test")
	if e := summary(t, srv, rootBasic, "user", "hank"); e["user"] != "hank" {
		t.Fatalf("hank: %v", e)
	}
}

// summary returns accountsummary's single entry.
func summary(t *testing.T, srv *testserver.Server, authz string, kv ...string) map[string]any {
	t.Helper()
	d := provWHM(t, srv, authz, "accountsummary", provQ(kv...), 1, "OK").(map[string]any)
	l := d["acct"].([]any)
	if len(l) != 1 {
		t.Fatalf("accountsummary: %v", d)
	}
	return l[0].(map[string]any)
}

// listUsers returns the users listaccts answers.
func listUsers(t *testing.T, srv *testserver.Server, authz string, kv ...string) []string {
	t.Helper()
	d := provWHM(t, srv, authz, "listaccts", provQ(kv...), 1, "OK").(map[string]any)
	var out []string
	for _, e := range d["acct"].([]any) {
		out = append(out, e.(map[string]any)["user"].(string))
	}
	return out
}

func TestWHMListAcctsAndAccountSummary(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	if got := listUsers(t, srv, rootBasic); !slices.Equal(got, []string{"alice", "bob", "carol", "res", "sam"}) {
		t.Fatalf("root listaccts: %v", got)
	}
	a := summary(t, srv, rootBasic, "user", "alice")
	unix, _ := a["unix_startdate"].(json.Number).Int64()
	if a["user"] != "alice" || a["domain"] != "alice.test" || a["owner"] != "root" || a["suspended"] != json.Number("0") ||
		a["suspendreason"] != "not suspended" || a["suspendtime"] != nil || a["is_locked"] != json.Number("0") ||
		a["plan"] != "default" || a["email"] != "*unknown*" || a["temporary"] != json.Number("0") ||
		a["is_temporary_domain"] != json.Number("0") || unix < time.Now().Add(-time.Hour).Unix() ||
		a["startdate"] != time.Unix(unix, 0).Format("06 Jan 02 15:04") || !provStartdateRE.MatchString(a["startdate"].(string)) || a["ip"] != "127.0.0.1" || a["disklimit"] != "unlimited" || a["maxpop"] != "unlimited" {
		t.Fatalf("alice: %v", a)
	}
	s := summary(t, srv, rootBasic, "user", "sam")
	if s["suspended"] != json.Number("1") || s["suspendreason"] != "Unknown" || s["suspendtime"] != nil {
		t.Fatalf("sam: %v", s)
	}
	// Searches.
	for _, c := range []struct {
		kv   []string
		want []string
	}{
		{[]string{"search", "ali", "searchtype", "user"}, []string{"alice"}},
		{[]string{"search", "^(bob|sam)$"}, []string{"bob", "sam"}},
		{[]string{"search", "SHOP", "searchtype", "domain"}, []string{"alice"}},
		{[]string{"search", "ali", "searchtype", "user", "searchmethod", "exact"}, nil},
		{[]string{"search", "alice", "searchtype", "user", "searchmethod", "exact"}, []string{"alice"}},
		{[]string{"search", "res", "searchtype", "owner"}, []string{"carol"}},
		{[]string{"search", "default", "searchtype", "package"}, []string{"alice", "bob", "carol", "res", "sam"}},
		{[]string{"search", ".", "searchtype", "ip"}, nil},
	} {
		if got := listUsers(t, srv, rootBasic, c.kv...); !slices.Equal(got, c.want) {
			t.Errorf("listaccts %v: %v, want %v", c.kv, got, c.want)
		}
	}
	d := provWHM(t, srv, rootBasic, "listaccts", provQ("search", "bob", "want", "user,domain"), 1, "OK").(map[string]any)
	if e := d["acct"].([]any)[0].(map[string]any); len(e) != 2 || e["domain"] != "bob.test" {
		t.Fatalf("want: %v", e)
	}
	provWHM(t, srv, rootBasic, "listaccts", provQ("search", "x", "searchtype", "color"), 0, "The “searchtype” parameter must be one of “domain”, “owner”, “user”, “ip”, or “package”.")
	provWHM(t, srv, rootBasic, "listaccts", provQ("search", "x", "searchmethod", "fuzzy"), 0, "The “searchmethod” parameter must be “exact” or “regex”.")
	provWHM(t, srv, rootBasic, "listaccts", provQ("search", "("), 0, "The “search” parameter is not a valid regular expression: error parsing regexp: missing closing ): `(?i)(`")

	// A reseller sees the accounts it owns, and only those.
	if got := listUsers(t, srv, resWHM); !slices.Equal(got, []string{"carol"}) {
		t.Fatalf("res listaccts: %v", got)
	}
	if got := listUsers(t, srv, resWHM, "search", "alice"); got != nil {
		t.Fatalf("res search alice: %v", got)
	}
	if e := summary(t, srv, resWHM, "domain", "carol.test"); e["user"] != "carol" || e["owner"] != "res" {
		t.Fatalf("res summary carol: %v", e)
	}
	provWHM(t, srv, resWHM, "accountsummary", provQ("user", "alice"), 0, "You do not have permission to manage the account “alice”.")
	provWHM(t, srv, resWHM, "accountsummary", provQ("domain", "alice.test"), 0, "You do not have permission to manage the account “alice”.")

	// accountsummary by domain (any of the account's) and its errors.
	if e := summary(t, srv, rootBasic, "domain", "shop.alice.test"); e["user"] != "alice" {
		t.Fatalf("summary by domain: %v", e)
	}
	provWHM(t, srv, rootBasic, "accountsummary", nil, 0, "Provide the “user” or the “domain” parameter.")
	provWHM(t, srv, rootBasic, "accountsummary", provQ("user", "ghost"), 0, "The account “ghost” does not exist.")
	provWHM(t, srv, rootBasic, "accountsummary", provQ("domain", "ghost.test"), 0, "No account owns the domain “ghost.test”.")
}

// ---- WHM suspendacct, unsuspendacct ----

func TestWHMSuspendAndUnsuspend(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	for _, fn := range []string{"suspendacct", "unsuspendacct"} {
		provWHM(t, srv, rootBasic, fn, nil, 0, "The “user” parameter is required.")
		provWHM(t, srv, rootBasic, fn, provQ("user", "ghost"), 0, "The account “ghost” does not exist.")
		provWHM(t, srv, rootBasic, fn, provQ("user", "root"), 0, "The user “root” is not a cPanel account.")
		provWHM(t, srv, resWHM, fn, provQ("user", "alice"), 0, "You do not have permission to manage the account “alice”.")
		provWHM(t, srv, resWHM, fn, provQ("user", "res"), 0, "You cannot use this function on your own account “res”.")
	}
	aliceBasic := testserver.Basic("alice", testserver.AlicePassword)
	if st := provStatus(t, srv, "cpaneld", aliceBasic); st != 200 {
		t.Fatalf("alice before: HTTP %d", st)
	}

	// Suspension: Basic auth and tokens fail, logged-in sessions (the
	// account's and its mailboxes') end.
	cp, cpTok := provLoginAccount(t, srv, "alice", testserver.AlicePassword)
	provLanding(t, srv, cp, "cpaneld", cpTok, 200)
	wm, wmTok := provWebmailSession(t, srv, aliceToken(), "info", "alice.test")
	before := time.Now().Unix()
	provWHM(t, srv, rootBasic, "suspendacct", provQ("user", "alice", "reason", "Nonpayment", "leave-ftp-accts-enabled", "1"), 1, "OK")
	if st := provStatus(t, srv, "cpaneld", aliceBasic); st != 401 {
		t.Fatalf("suspended alice, Basic: HTTP %d", st)
	}
	if st := provStatus(t, srv, "cpaneld", aliceToken()); st != 401 {
		t.Fatalf("suspended alice, token: HTTP %d", st)
	}
	provLanding(t, srv, cp, "cpaneld", cpTok, 401)
	provLanding(t, srv, wm, "webmaild", wmTok, 401)
	a := summary(t, srv, rootBasic, "user", "alice")
	st, _ := a["suspendtime"].(json.Number).Int64()
	if a["suspended"] != json.Number("1") || a["suspendreason"] != "Nonpayment" || st < before-1 || a["is_locked"] != json.Number("0") {
		t.Fatalf("suspended alice: %v", a)
	}
	// Suspending again updates the reason.
	provWHM(t, srv, rootBasic, "suspendacct", provQ("user", "alice"), 1, "OK")
	if a := summary(t, srv, rootBasic, "user", "alice"); a["suspendreason"] != "Unknown" {
		t.Fatalf("re-suspended alice: %v", a)
	}
	provWHM(t, srv, rootBasic, "unsuspendacct", provQ("user", "alice"), 1, "OK")
	if st := provStatus(t, srv, "cpaneld", aliceBasic); st != 200 {
		t.Fatalf("unsuspended alice: HTTP %d", st)
	}
	if a := summary(t, srv, rootBasic, "user", "alice"); a["suspended"] != json.Number("0") || a["suspendreason"] != "not suspended" || a["suspendtime"] != nil {
		t.Fatalf("unsuspended alice: %v", a)
	}
	provWHM(t, srv, rootBasic, "unsuspendacct", provQ("user", "alice"), 1, "OK") // not suspended: fine

	// A reseller suspends and unsuspends its own accounts.
	carol := testserver.Basic("carol", testserver.CarolPassword)
	provWHM(t, srv, resWHM, "suspendacct", provQ("user", "carol", "reason", "Abuse"), 1, "OK")
	if st := provStatus(t, srv, "cpaneld", carol); st != 401 {
		t.Fatalf("suspended carol: HTTP %d", st)
	}
	provWHM(t, srv, resWHM, "unsuspendacct", provQ("user", "carol"), 1, "OK")
	if st := provStatus(t, srv, "cpaneld", carol); st != 200 {
		t.Fatalf("unsuspended carol: HTTP %d", st)
	}
	// A suspension root locks (disallowun=1) only root lifts.
	provWHM(t, srv, rootBasic, "suspendacct", provQ("user", "carol", "disallowun", "1", "reason", "Locked by root"), 1, "OK")
	if c := summary(t, srv, resWHM, "user", "carol"); c["is_locked"] != json.Number("1") || c["suspendreason"] != "Locked by root" {
		t.Fatalf("locked carol: %v", c)
	}
	provWHM(t, srv, resWHM, "unsuspendacct", provQ("user", "carol"), 0, "Only root can unsuspend the account “carol”: root locked its suspension.")
	provWHM(t, srv, resWHM, "suspendacct", provQ("user", "carol", "reason", "mine"), 0, "Only root can unsuspend the account “carol”: root locked its suspension.")
	provWHM(t, srv, rootBasic, "unsuspendacct", provQ("user", "carol"), 1, "OK")
	if st := provStatus(t, srv, "cpaneld", carol); st != 200 {
		t.Fatalf("carol after root's unsuspend: HTTP %d", st)
	}
}

// ---- WHM removeacct ----

func TestWHMRemoveAcct(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	provWHM(t, srv, rootBasic, "removeacct", nil, 0, "The “username” parameter is required.")
	provWHM(t, srv, rootBasic, "removeacct", provQ("username", "ghost"), 0, "The account “ghost” does not exist.")
	provWHM(t, srv, resWHM, "removeacct", provQ("username", "alice"), 0, "You do not have permission to manage the account “alice”.")
	provWHM(t, srv, resWHM, "removeacct", provQ("username", "res"), 0, "You cannot use this function on your own account “res”.")
	provWHM(t, srv, rootBasic, "removeacct", provQ("username", "res"), 0, "The reseller “res” still owns accounts (“carol”); remove them or give them another owner first.")

	bob := testserver.Basic("bob", testserver.BobPassword)
	cp, cpTok := provLoginAccount(t, srv, "bob", testserver.BobPassword)
	provWHM(t, srv, rootBasic, "removeacct", provQ("username", "bob", "keepdns", "1"), 1, "bob account removed")
	if st := provStatus(t, srv, "cpaneld", bob); st != 401 {
		t.Fatalf("removed bob: HTTP %d", st)
	}
	provLanding(t, srv, cp, "cpaneld", cpTok, 401)
	if got := listUsers(t, srv, rootBasic); slices.Contains(got, "bob") {
		t.Fatalf("bob still listed: %v", got)
	}
	provWHM(t, srv, rootBasic, "accountsummary", provQ("user", "bob"), 0, "The account “bob” does not exist.")
	// Its mailbox went with it; its domain is free again.
	if st := provStatus(t, srv, "webmaild", testserver.Basic("info@bob.test", "Bob-mail-1")); st != 401 {
		t.Fatalf("bob's mailbox: HTTP %d", st)
	}
	provWHM(t, srv, rootBasic, "createacct", provQ("username", "bob", "domain", "bob.test", "password", "New-bob-pass-1"), 1, "Account Creation Ok")
	if a := summary(t, srv, rootBasic, "user", "bob"); a["suspended"] != json.Number("0") || a["plan"] != "default" {
		t.Fatalf("new bob: %v", a)
	}

	// The reseller removes its account (deprecated "user" parameter), then
	// root can remove the reseller.
	provWHM(t, srv, resWHM, "removeacct", provQ("user", "carol"), 1, "carol account removed")
	provWHM(t, srv, rootBasic, "removeacct", provQ("username", "res"), 1, "res account removed")
	if st := provStatus(t, srv, "cpaneld", testserver.CPanelToken("res", testserver.ResToken)); st != 401 {
		t.Fatalf("removed res's token: HTTP %d", st)
	}
}

// ---- WHM passwd ----

func TestWHMPasswd(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	provWHM(t, srv, rootBasic, "passwd", nil, 0, "The “user” parameter is required.")
	provWHM(t, srv, rootBasic, "passwd", provQ("user", "alice"), 0, "The “password” parameter is required.")
	provWHM(t, srv, rootBasic, "passwd", provQ("user", "ghost", "password", "Good-pass-1"), 0, "The account “ghost” does not exist.")
	provWHM(t, srv, rootBasic, "passwd", provQ("user", "alice", "password", "weak"), 0, "The password is too weak: use at least 8 characters.")
	provWHM(t, srv, resWHM, "passwd", provQ("user", "alice", "password", "Good-pass-1"), 0, "You do not have permission to manage the account “alice”.")
	provWHM(t, srv, resWHM, "passwd", provQ("user", "root", "password", "Good-pass-1"), 0, "The user “root” is not a cPanel account.")

	cp, cpTok := provLoginAccount(t, srv, "alice", testserver.AlicePassword)
	wm, wmTok := provWebmailSession(t, srv, aliceToken(), "info", "alice.test")
	d := provWHM(t, srv, rootBasic, "passwd", provQ("user", "alice", "password", "Brand-new-1", "db_pass_update", "1"), 1, "Password changed for user “alice”.").(map[string]any)
	if app, _ := d["app"].([]any); len(app) != 1 || app[0] != "system" {
		t.Fatalf("passwd data %v", d)
	}
	if st := provStatus(t, srv, "cpaneld", testserver.Basic("alice", testserver.AlicePassword)); st != 401 {
		t.Fatalf("old password: HTTP %d", st)
	}
	if st := provStatus(t, srv, "cpaneld", testserver.Basic("alice", "Brand-new-1")); st != 200 {
		t.Fatalf("new password: HTTP %d", st)
	}
	provLanding(t, srv, cp, "cpaneld", cpTok, 401)
	// The mailbox has its own password: its session goes on.
	provLanding(t, srv, wm, "webmaild", wmTok, 200)

	// A reseller sets its account's password.
	provWHM(t, srv, resWHM, "passwd", provQ("user", "carol", "password", "Carol-new-2"), 1, "Password changed for user “carol”.")
	if st := provStatus(t, srv, "cpaneld", testserver.Basic("carol", "Carol-new-2")); st != 200 {
		t.Fatalf("carol's new password: HTTP %d", st)
	}
	// Root sets its own password.
	provWHM(t, srv, rootBasic, "passwd", provQ("user", "root", "password", "Root-new-pass-1"), 1, "Password changed for user “root”.")
	provWHM(t, srv, testserver.Basic("root", "Root-new-pass-1"), "listaccts", nil, 1, "OK")
}

// ---- WHM api_token_create, api_token_revoke ----

func TestWHMAPITokens(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	provWHM(t, srv, rootBasic, "api_token_create", nil, 0, "The “token_name” parameter is required.")
	provWHM(t, srv, rootBasic, "api_token_create", provQ("token_name", "bad name"), 0, "The API token name “bad name” is not valid: use 1 to 50 letters, digits, dashes (-), and underscores (_).")
	provWHM(t, srv, rootBasic, "api_token_create", provQ("token_name", "billing"), 0, "An API token with the name “billing” already exists.")
	provWHM(t, srv, rootBasic, "api_token_create", provQ("token_name", "x", "expires_at", "1000"), 0, "The “expires_at” parameter must be a time in the future.")
	provWHM(t, srv, rootBasic, "api_token_create", provQ("token_name", "x", "whitelist_ip", "not-an-ip"), 0, "“not-an-ip” is not a valid IP address or CIDR range.")

	before := time.Now().Unix()
	d := provWHM(t, srv, rootBasic, "api_token_create", provQ("token_name", "ops", "acl", "list-accts"), 1, "OK").(map[string]any)
	secret, _ := d["token"].(string)
	ct, _ := d["create_time"].(json.Number).Int64()
	acls, _ := d["acls"].([]any)
	if !provTokenRE.MatchString(secret) || d["name"] != "ops" || d["expires_at"] != nil || d["whitelist_ips"] != nil ||
		len(acls) != 1 || acls[0] != "all" || ct < before-1 || len(d) != 6 {
		t.Fatalf("api_token_create data %v", d)
	}
	ops := testserver.WHMToken("root", secret)
	provWHM(t, srv, ops, "listaccts", nil, 1, "OK")

	// An allow-list that excludes the test client.
	exp := time.Now().Add(time.Hour).Unix()
	d = provWHM(t, srv, rootBasic, "api_token_create", provQ("token_name", "far", "whitelist_ip-0", "10.0.0.0/8", "whitelist_ip-1", "192.0.2.1",
		"expires_at", strconv.FormatInt(exp, 10)), 1, "OK").(map[string]any)
	if ips, _ := d["whitelist_ips"].([]any); len(ips) != 2 || ips[0] != "10.0.0.0/8" || ips[1] != "192.0.2.1" || d["expires_at"] != json.Number(strconv.FormatInt(exp, 10)) {
		t.Fatalf("allow-listed token %v", d)
	}
	if r := srv.Get("whostmgrd", "/json-api/listaccts?api.version=1", testserver.WHMToken("root", d["token"].(string))); r.StatusCode != 401 {
		t.Fatalf("token from a address outside its allow-list: HTTP %d", r.StatusCode)
	}

	// A reseller's token works on WHM and cPanel.
	d = provWHM(t, srv, resWHM, "api_token_create", provQ("token_name", "ops"), 1, "OK").(map[string]any)
	resOps := d["token"].(string)
	if got := listUsers(t, srv, testserver.WHMToken("res", resOps)); !slices.Equal(got, []string{"carol"}) {
		t.Fatalf("res's new token: %v", got)
	}
	if st := provStatus(t, srv, "cpaneld", testserver.CPanelToken("res", resOps)); st != 200 {
		t.Fatalf("res's new token on cPanel: HTTP %d", st)
	}

	// Revoking: unknown names revoke nothing; tokens are per user.
	provWHM(t, srv, rootBasic, "api_token_revoke", nil, 0, "The “token_name” parameter is required.")
	provWHM(t, srv, rootBasic, "api_token_revoke", provQ("token_name", "nope"), 0, "The API token “nope” does not exist.")
	provWHM(t, srv, rootBasic, "api_token_revoke", provQ("token_name", "ops", "token_name-1", "nope"), 0, "The API token “nope” does not exist.")
	provWHM(t, srv, ops, "listaccts", nil, 1, "OK") // still valid
	provWHM(t, srv, resWHM, "api_token_revoke", provQ("token_name", "billing"), 0, "The API token “billing” does not exist.")
	provWHM(t, srv, rootBasic, "api_token_revoke", provQ("token_name", "ops", "token_name-1", "far"), 1, "OK")
	if r := srv.Get("whostmgrd", "/json-api/listaccts?api.version=1", ops); r.StatusCode != 401 {
		t.Fatalf("revoked token: HTTP %d", r.StatusCode)
	}
	// res's "ops" is untouched by root's revocation.
	if got := listUsers(t, srv, testserver.WHMToken("res", resOps)); !slices.Equal(got, []string{"carol"}) {
		t.Fatalf("res's token after root's revoke: %v", got)
	}
}

// ---- acceptance: provisioning end to end, HTTP only ----

func TestProvisioningEndToEnd(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	// Root creates an account.
	provWHM(t, srv, rootBasic, "createacct", provQ("username", "zoe", "domain", "zoe.test", "password", "Zoe-pass-123", "plan", "basic"), 1, "Account Creation Ok")
	zoe := testserver.Basic("zoe", "Zoe-pass-123")
	// The account, with the password given to createacct, adds a mailbox.
	if d := provOK(t, provUAPI(t, srv, "cpaneld", zoe, "Email/add_pop", provQ("email", "hello", "password", "Hello-pass-1"))); d != "hello+zoe.test" {
		t.Fatalf("add_pop: %v", d)
	}
	// It creates a Webmail session for the mailbox...
	d := provOK(t, provUAPI(t, srv, "cpaneld", zoe, "Session/create_webmail_session_for_mail_user", provQ("login", "hello", "domain", "zoe.test"))).(map[string]any)
	s := created{Token: d["token"].(string), Session: d["session"].(string)}
	// ...which logs in on the Webmail port: 302, then the landing page
	// names the mailbox.
	c := srv.Client()
	r := loginWebmail(t, srv, c, s)
	if r.StatusCode != http.StatusFound || r.Header.Get("Location") != s.Token+"/" {
		t.Fatalf("webmail login: HTTP %d Location %q", r.StatusCode, r.Header.Get("Location"))
	}
	r = provLanding(t, srv, c, "webmaild", s.Token, 200)
	if !strings.Contains(string(r.Body), `id="user">hello@zoe.test<`) {
		t.Fatalf("landing page does not name the mailbox: %s", r.Body)
	}

	// passwd_pop: the old mailbox password fails check_password.
	provOK(t, provUAPI(t, srv, "cpaneld", zoe, "Email/passwd_pop", provQ("email", "hello@zoe.test", "password", "Hello-pass-2")))
	if typ := provCheckPassword(t, srv, zoe, "hello", "zoe.test", "Hello-pass-1"); typ != "BadPassword" {
		t.Fatalf("old mailbox password: %q", typ)
	}
	if typ := provCheckPassword(t, srv, zoe, "hello", "zoe.test", "Hello-pass-2"); typ != "" {
		t.Fatalf("new mailbox password: %q", typ)
	}

	// suspendacct: the account's Basic auth fails and a logged-in session
	// ends.
	cp, cpTok := provLoginAccount(t, srv, "zoe", "Zoe-pass-123")
	provLanding(t, srv, cp, "cpaneld", cpTok, 200)
	provWHM(t, srv, rootBasic, "suspendacct", provQ("user", "zoe", "reason", "Test over"), 1, "OK")
	if st := provStatus(t, srv, "cpaneld", zoe); st != 401 {
		t.Fatalf("suspended account's Basic auth: HTTP %d", st)
	}
	provLanding(t, srv, cp, "cpaneld", cpTok, 401)
	if a := summary(t, srv, rootBasic, "user", "zoe"); a["suspendreason"] != "Test over" || a["plan"] != "basic" {
		t.Fatalf("zoe: %v", a)
	}
}
