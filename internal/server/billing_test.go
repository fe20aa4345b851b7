package server_test

// Replays of the WHM calls the cPanel modules of open-source billing
// systems make, with the parameters they send, in the form they send them
// (API 0 or 1; query string, form POST, query string on a POST, JSON
// body), asserting the fields each module reads from each answer. The
// call sequences are facts read from each project's public source:
//
//   - FOSSBilling: FOSSBilling/FOSSBilling src/library/Server/Manager/Whm.php
//     @0098ef96 (every call a form POST without api.version; "WHM user:hash").
//   - Paymenter: Paymenter/Paymenter extensions/Servers/CPanel/CPanel.php
//     @ab751433 (GET with the parameters in the query string, some with
//     api.version=1; create_user_session as a POST with a JSON body).
//   - Upmind: upmind-automation/provision-provider-shared-hosting
//     src/WHMv1/Provider.php @027701a4 and Api/Request.php (every parameter,
//     api.version=1 included, in the query string, also on POSTs).
//   - Blesta: the cPanel module v2.3.1, components/modules/cpanel/cpanel.php
//     and apis/cpanel_api.php in JsAppNinja/blesta (cPanel's xmlapi class:
//     form POSTs to /json-api/<function> without api.version).

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/uapid/uapid/internal/testserver"
)

// billing calls WHM as a billing module does.
type billing struct {
	t     *testing.T
	srv   *testserver.Server
	authz string
}

// do sends one request: method, function, the query string, and a body
// of the given content type ("" for none). It checks HTTP 200 JSON.
func (b billing) do(method, fn string, query url.Values, ctype, body string) map[string]any {
	b.t.Helper()
	u := b.srv.URL("whostmgrd", "/json-api/"+fn)
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd *strings.Reader
	if body != "" {
		rd = strings.NewReader(body)
	} else {
		rd = strings.NewReader("")
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Authorization", b.authz)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	r := b.srv.Do(b.srv.Client(), req)
	if r.StatusCode != 200 || r.Header.Get("Content-Type") != "application/json" {
		b.t.Fatalf("%s %s: HTTP %d %s", method, fn, r.StatusCode, r.Body)
	}
	return r.JSON(b.t)
}

// form is a form POST (FOSSBilling, Blesta).
func (b billing) form(fn string, kv ...string) map[string]any {
	b.t.Helper()
	return b.do("POST", fn, nil, "application/x-www-form-urlencoded", provQ(kv...).Encode())
}

// get is a GET with the parameters in the query string (Paymenter).
func (b billing) get(fn string, kv ...string) map[string]any {
	b.t.Helper()
	return b.do("GET", fn, provQ(kv...), "", "")
}

// query is Upmind's request: the method given, every parameter (and
// api.version=1) in the query string, no body.
func (b billing) query(method, fn string, kv ...string) map[string]any {
	b.t.Helper()
	return b.do(method, fn, provQ(append([]string{"api.version", "1"}, kv...)...), "", "")
}

// path walks v along keys (strings for objects, ints for arrays).
func path(v any, keys ...any) any {
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func num(n int) json.Number { return json.Number(strconv.Itoa(n)) }

func itoa(n int) string { return strconv.Itoa(n) }

// wantAPI0OK asserts what FOSSBilling's request() and Blesta's
// parseResponse() treat as an error is absent: cpanelresult.error,
// data.result == 0, result[0].status == 0, passwd[0].status == 0,
// status == 0.
func wantAPI0OK(t *testing.T, fn string, v map[string]any) {
	t.Helper()
	bad := path(v, "cpanelresult", "error") != nil ||
		path(v, "data", "result") == "0" ||
		path(v, "result", 0, "status") == num(0) ||
		path(v, "passwd", 0, "status") == num(0) ||
		(v["status"] != nil && v["status"] != num(1))
	if bad {
		t.Fatalf("%s: the module would see an error: %v", fn, v)
	}
}

// loginWithURL follows a create_user_session URL and checks that it lands
// on a logged-in page naming user.
func loginWithURL(t *testing.T, srv *testserver.Server, u, user string) {
	t.Helper()
	c := srv.Client()
	r := srv.Do(c, billingReq(t, "GET", u))
	if r.StatusCode != http.StatusFound {
		t.Fatalf("login URL: HTTP %d %s", r.StatusCode, r.Body)
	}
	loc := r.Header.Get("Location")
	base, _ := url.Parse(u)
	next, _ := base.Parse(loc)
	page := srv.Do(c, billingReq(t, "GET", next.String()))
	if page.StatusCode != 200 || !strings.Contains(string(page.Body), user) {
		t.Fatalf("landing page %s: HTTP %d %s", next, page.StatusCode, page.Body)
	}
}

func billingReq(t *testing.T, method, u string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// passwordLogin logs user in on the cPanel port with a password (what a
// customer does at the static /cpanel URL FOSSBilling and Blesta give)
// and checks the landing page.
func passwordLogin(t *testing.T, srv *testserver.Server, user, pass string) {
	t.Helper()
	c, token := provLoginAccount(t, srv, user, pass)
	provLanding(t, srv, c, "cpaneld", token, 200)
}

// mailboxLimit checks that the account's MAXPOP holds: max mailboxes can
// be added through UAPI Email::add_pop, one more is refused.
func mailboxLimit(t *testing.T, srv *testserver.Server, user, pass, domain string, max int) {
	t.Helper()
	authz := testserver.Basic(user, pass)
	for i := 0; i <= max; i++ {
		v := provUAPI(t, srv, "cpaneld", authz, "Email/add_pop", provQ("email", "box"+itoa(i), "domain", domain, "password", "Box-pass-123"))
		if ok := v["status"] == num(1); ok != (i < max) {
			t.Fatalf("mailbox %d of MAXPOP %d: %v", i+1, max, v)
		}
	}
}

func TestBillingFOSSBilling(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	b := billing{t, srv, "WHM root:" + testserver.RootToken}

	// testConnection: request('version').
	v := b.form("version")
	wantAPI0OK(t, "version", v)
	if v["version"] != "11.134.0.0" {
		t.Fatalf("version: %v", v)
	}

	// createAccount: checkPackageExists (listpkgs, then addpkg with the
	// package's limits under "<whm user>_<name>"), createacct.
	v = b.form("listpkgs")
	wantAPI0OK(t, "listpkgs", v)
	if _, ok := v["package"].([]any); !ok {
		t.Fatalf("listpkgs: %v", v)
	}
	v = b.form("addpkg", "name", "root_basic", "quota", "1024", "bwlimit", "10240", "maxsub", "5", "maxpark", "5",
		"maxaddon", "5", "maxftp", "5", "maxsql", "5", "maxpop", "2", "cgi", "1", "cpmod", "jupiter", "maxlst", "5", "hasshell", "0")
	wantAPI0OK(t, "addpkg", v)
	v = b.form("listpkgs")
	pkgs, _ := v["package"].([]any)
	i := slices.IndexFunc(pkgs, func(p any) bool { return path(p, "name") == "root_basic" })
	if i < 0 {
		t.Fatalf("listpkgs after addpkg: %v", v)
	}
	// getPackages reads these keys.
	p := pkgs[i]
	for k, want := range map[string]any{"FEATURELIST": "default", "CPMOD": "jupiter", "QUOTA": "1024", "BWLIMIT": "10240",
		"MAXFTP": "5", "MAXSQL": "5", "MAXLST": "5", "MAXSUB": "5", "MAXPOP": "2", "MAXPARK": "5", "MAXADDON": "5",
		"HASSHELL": "n", "IP": "n", "CGI": "y", "FRONTPAGE": "n"} {
		if path(p, k) != want {
			t.Errorf("listpkgs %s = %v, want %v", k, path(p, k), want)
		}
	}
	v = b.form("createacct", "username", "fossbil1", "domain", "fossbil.test", "password", "Foss-pass-123",
		"contactemail", "client@example.com", "plan", "root_basic", "useregns", "0")
	if path(v, "result", 0, "status") != num(1) {
		t.Fatalf("createacct: %v", v)
	}
	mailboxLimit(t, srv, "fossbil1", "Foss-pass-123", "fossbil.test", 2)

	// changeAccountPackage: checkPackageExists, changepackage user pkg.
	b.form("listpkgs")
	wantAPI0OK(t, "addpkg", b.form("addpkg", "name", "root_big", "quota", "2048", "bwlimit", "20480", "maxpop", "10", "cgi", "1", "hasshell", "0"))
	v = b.form("changepackage", "user", "fossbil1", "pkg", "root_big")
	wantAPI0OK(t, "changepackage", v)

	// changeAccountPassword: passwd user pass db_pass_update.
	v = b.form("passwd", "user", "fossbil1", "pass", "Foss-pass-456", "db_pass_update", "1")
	wantAPI0OK(t, "passwd", v)
	if path(v, "passwd", 0, "status") != num(1) {
		t.Fatalf("passwd: %v", v)
	}

	// suspendAccount, synchronizeAccount (accountsummary: acct[0]
	// suspended, domain, user, ip), unsuspendAccount.
	wantAPI0OK(t, "suspendacct", b.form("suspendacct", "user", "fossbil1", "reason", "Overdue"))
	v = b.form("accountsummary", "user", "fossbil1")
	wantAPI0OK(t, "accountsummary", v)
	a := path(v, "acct", 0)
	if path(a, "suspended") != num(1) || path(a, "domain") != "fossbil.test" || path(a, "user") != "fossbil1" || path(a, "ip") != "127.0.0.1" {
		t.Fatalf("accountsummary: %v", v)
	}
	if path(a, "plan") != "root_big" {
		t.Errorf("plan after changepackage: %v", path(a, "plan"))
	}
	wantAPI0OK(t, "unsuspendacct", b.form("unsuspendacct", "user", "fossbil1"))

	// getLoginUrl is the static /cpanel URL: the customer logs in with
	// the password.
	passwordLogin(t, srv, "fossbil1", "Foss-pass-456")

	// cancelAccount: removeacct user keepdns.
	v = b.form("removeacct", "user", "fossbil1", "keepdns", "0")
	wantAPI0OK(t, "removeacct", v)
	if path(v, "result", 0, "status") != num(1) {
		t.Fatalf("removeacct: %v", v)
	}
}

func TestBillingPaymenter(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	root := billing{t, srv, testserver.WHMToken("root", testserver.RootToken)}
	root.get("addpkg", "api.version", "1", "name", "starter", "maxpop", "1", "quota", "500")
	root.get("addpkg", "api.version", "1", "name", "pro", "maxpop", "20", "quota", "5000")
	b := billing{t, srv, "whm root:" + testserver.RootToken}

	// getProductConfig: listpkgs (no api.version) → package[].name.
	v := b.get("listpkgs")
	var names []string
	for _, p := range v["package"].([]any) {
		names = append(names, path(p, "name").(string))
	}
	if !slices.Contains(names, "starter") || !slices.Contains(names, "pro") {
		t.Fatalf("listpkgs names %v", names)
	}
	// testConfig: listaccts, successful.
	v = b.get("listaccts")
	if _, ok := v["acct"].([]any); !ok {
		t.Fatalf("listaccts: %v", v)
	}

	// createServer: a Str::random() user name (mixed case, lower-cased by
	// the server; the module stores strtolower of it).
	v = b.get("createacct", "api.version", "1", "username", "PayMenterUser1a", "contactemail", "client@example.com",
		"domain", "paymenter.test", "plan", "starter")
	if path(v, "metadata", "result") != num(1) {
		t.Fatalf("createacct: %v", v)
	}
	user := "paymenteruser1a"
	if a := path(root.get("accountsummary", "api.version", "1", "user", user), "data", "acct", 0); path(a, "maxpop") != "1" || path(a, "plan") != "starter" {
		t.Fatalf("the package's limits: %v", a)
	}

	// upgradeServer: modifyacct user plan.
	v = b.get("modifyacct", "api.version", "1", "user", user, "plan", "pro")
	if path(v, "metadata", "result") != num(1) {
		t.Fatalf("modifyacct: %v", v)
	}
	// (The module has no password change.)
	for _, fn := range []string{"suspendacct", "unsuspendacct"} {
		if v := b.get(fn, "api.version", "1", "user", user); path(v, "metadata", "result") != num(1) {
			t.Fatalf("%s: %v", fn, v)
		}
	}

	// getLoginUrl: POST create_user_session with a JSON body → data.url.
	body, _ := json.Marshal(map[string]any{"api.version": 1, "user": user, "service": "cpaneld"})
	v = b.do("POST", "create_user_session", nil, "application/json", string(body))
	u, _ := path(v, "data", "url").(string)
	if u == "" {
		t.Fatalf("create_user_session: %v", v)
	}
	loginWithURL(t, srv, u, user)

	// terminateServer: removeacct user.
	if v := b.get("removeacct", "api.version", "1", "user", user); path(v, "metadata", "result") != num(1) {
		t.Fatalf("removeacct: %v", v)
	}
}

func TestBillingUpmind(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{Args: []string{"--nameservers", "ns1.example.net,ns2.example.net"}})
	b := billing{t, srv, "whm root:" + testserver.RootToken}
	b.query("POST", "addpkg", "name", "hosting1", "maxpop", "3")
	b.query("POST", "addpkg", "name", "hosting2", "maxpop", "30")

	// testConfiguration: applist → data.app holds the functions it needs.
	v := b.query("GET", "applist")
	apps := []string{}
	for _, a := range path(v, "data", "app").([]any) {
		apps = append(apps, a.(string))
	}
	for _, fn := range []string{"createacct", "setupreseller", "unsetupreseller", "accountsummary", "changepackage",
		"create_user_session", "suspendacct", "unsuspendacct", "passwd", "removeacct", "listresellers"} {
		if !slices.Contains(apps, fn) {
			t.Errorf("applist lacks %s", fn)
		}
	}
	isReseller := func(user string) bool {
		v := b.query("POST", "listresellers")
		for _, r := range path(v, "data", "reseller").([]any) {
			if r == user {
				return true
			}
		}
		return false
	}
	info := func(user string) map[string]any {
		v := b.query("POST", "accountsummary", "user", user)
		ns := b.query("GET", "get_nameserver_config")
		if path(v, "metadata", "result") != num(1) || path(ns, "metadata", "result") != num(1) {
			t.Fatalf("getAccountInfo: %v %v", v, ns)
		}
		if got := path(ns, "data", "nameservers"); !slices.Equal(anyStrings(got), []string{"ns1.example.net", "ns2.example.net"}) {
			t.Errorf("nameservers %v", got)
		}
		isReseller(user)
		a := path(v, "data", "acct", 0).(map[string]any)
		for _, k := range []string{"user", "domain", "plan", "suspended", "suspendreason", "ip"} {
			if _, ok := a[k]; !ok {
				t.Errorf("accountsummary lacks %s", k)
			}
		}
		return a
	}
	_ = srv

	// create: generateUsername → verify_new_username; createacct with
	// owner (the WHM user) and reseller=0; getAccountInfo.
	if v := b.query("POST", "verify_new_username", "user", "upmindus"); path(v, "metadata", "result") != num(1) {
		t.Fatalf("verify_new_username: %v", v)
	}
	if v := b.query("POST", "verify_new_username", "user", "alice"); !strings.Contains(path(v, "metadata", "reason").(string), "already has") {
		t.Fatalf("verify_new_username of a taken name: %v", v)
	}
	v = b.query("POST", "createacct", "username", "upmindus", "password", "Upmind-pass-1", "domain", "upmind.test",
		"contactemail", "client@example.com", "plan", "hosting1", "owner", "root", "reseller", "0")
	if path(v, "metadata", "result") != num(1) {
		t.Fatalf("createacct: %v", v)
	}
	if a := info("upmindus"); a["plan"] != "hosting1" || a["domain"] != "upmind.test" {
		t.Fatalf("info after create: %v", a)
	}
	mailboxLimit(t, srv, "upmindus", "Upmind-pass-1", "upmind.test", 3)

	// changePackage: listresellers, changepackage user pkg, getInfo.
	isReseller("upmindus")
	if v := b.query("POST", "changepackage", "user", "upmindus", "pkg", "hosting2"); path(v, "metadata", "result") != num(1) {
		t.Fatalf("changepackage: %v", v)
	}
	if a := info("upmindus"); a["plan"] != "hosting2" {
		t.Fatalf("plan after changepackage: %v", a["plan"])
	}

	// getLoginUrl: create_user_session user service → url, expires.
	v = b.query("POST", "create_user_session", "user", "upmindus", "service", "cpaneld")
	if _, ok := path(v, "data", "expires").(json.Number); !ok {
		t.Fatalf("create_user_session: %v", v)
	}
	loginWithURL(t, srv, path(v, "data", "url").(string), "upmindus")

	// suspend (reason null is left out by Guzzle), getInfo; unSuspend.
	isReseller("upmindus")
	if v := b.query("POST", "suspendacct", "user", "upmindus"); path(v, "metadata", "result") != num(1) {
		t.Fatalf("suspendacct: %v", v)
	}
	if a := info("upmindus"); a["suspended"] != num(1) {
		t.Fatalf("suspended: %v", a)
	}
	isReseller("upmindus")
	if v := b.query("POST", "unsuspendacct", "user", "upmindus"); path(v, "metadata", "result") != num(1) {
		t.Fatalf("unsuspendacct: %v", v)
	}
	if a := info("upmindus"); a["suspended"] != num(0) || a["suspendreason"] != "not suspended" {
		t.Fatalf("unsuspended: %v", a)
	}

	// changePassword: passwd user password.
	if v := b.query("POST", "passwd", "user", "upmindus", "password", "Upmind-pass-2"); path(v, "metadata", "result") != num(1) {
		t.Fatalf("passwd: %v", v)
	}
	passwordLogin(t, srv, "upmindus", "Upmind-pass-2")

	// terminate: removeacct user.
	isReseller("upmindus")
	if v := b.query("POST", "removeacct", "user", "upmindus"); path(v, "metadata", "result") != num(1) {
		t.Fatalf("removeacct: %v", v)
	}
}

func anyStrings(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

func TestBillingBlesta(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	root := billing{t, srv, "WHM root:" + testserver.RootToken}
	root.form("addpkg", "name", "bronze", "maxpop", "1")
	root.form("addpkg", "name", "silver", "maxpop", "5", "bwlimit", "100")
	root.form("saveacllist", "acllist", "resellers", "acl-create-acct", "1")
	b := root

	// validateConnection / getAccountCount: listaccts → count(acct).
	v := b.form("listaccts")
	wantAPI0OK(t, "listaccts", v)
	before := len(v["acct"].([]any))
	// getPackageFields: listpkgs → package[].name; listacls → acls keys.
	v = b.form("listpkgs")
	if len(v["package"].([]any)) != 2 {
		t.Fatalf("listpkgs: %v", v)
	}
	v = b.form("listacls")
	if _, ok := path(v, "acls", "resellers").(map[string]any); !ok {
		t.Fatalf("listacls: %v", v)
	}

	// addService: createacct (domain, username, password, plan, reseller,
	// contactemail) → result[0].status; updateAccountCount.
	v = b.form("createacct", "domain", "blesta.test", "username", "blestaus", "password", "Blesta-pass-1",
		"plan", "bronze", "reseller", "0", "contactemail", "client@example.com")
	wantAPI0OK(t, "createacct", v)
	if path(v, "result", 0, "status") != num(1) || path(v, "result", 0, "options", "package") != "bronze" {
		t.Fatalf("createacct: %v", v)
	}
	if n := len(b.form("listaccts")["acct"].([]any)); n != before+1 {
		t.Fatalf("account count %d, want %d", n, before+1)
	}
	mailboxLimit(t, srv, "blestaus", "Blesta-pass-1", "blesta.test", 1)

	// changeServicePackage: changepackage user pkg.
	wantAPI0OK(t, "changepackage", b.form("changepackage", "user", "blestaus", "pkg", "silver"))
	// editService: passwd user pass → passwd[0].status.
	v = b.form("passwd", "user", "blestaus", "pass", "Blesta-pass-2")
	wantAPI0OK(t, "passwd", v)
	// suspendService, unsuspendService.
	wantAPI0OK(t, "suspendacct", b.form("suspendacct", "user", "blestaus"))
	wantAPI0OK(t, "unsuspendacct", b.form("unsuspendacct", "user", "blestaus"))
	// getStats: accountsummary (acct[0].diskused, disklimit) and showbw
	// (bandwidth[0].acct[0].totalbytes, limit).
	v = b.form("accountsummary", "user", "blestaus")
	if path(v, "acct", 0, "diskused") != "0M" || path(v, "acct", 0, "disklimit") == nil {
		t.Fatalf("accountsummary: %v", v)
	}
	v = b.form("showbw", "search", "blestaus", "searchtype", "user")
	if path(v, "bandwidth", 0, "acct", 0, "totalbytes") != num(0) || path(v, "bandwidth", 0, "acct", 0, "limit") != num(100*1024*1024) {
		t.Fatalf("showbw: %v", v)
	}
	// This version has no single sign-on: the customer logs in with the
	// password.
	passwordLogin(t, srv, "blestaus", "Blesta-pass-2")
	// cancelService: removeacct user; updateAccountCount.
	wantAPI0OK(t, "removeacct", b.form("removeacct", "user", "blestaus"))
	if n := len(b.form("listaccts")["acct"].([]any)); n != before {
		t.Fatalf("account count after removal %d", n)
	}
}

// TestCpanelLibVersion sends the request npm cpanel-lib sends for its
// README example call('version', {}) (vially/cpanel-lib lib/cpanel.js: a
// GET of /json-api/version? with "Authorization: WHM user:key") and
// checks that the answer's "version" is uapid's.
func TestCpanelLibVersion(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	req := billingReq(t, "GET", srv.URL("whostmgrd", "/json-api/version?"))
	req.Header.Set("Authorization", "WHM root:"+testserver.RootToken)
	r := srv.Do(srv.Client(), req)
	var v map[string]any
	if err := json.NewDecoder(bytes.NewReader(r.Body)).Decode(&v); err != nil || r.StatusCode != 200 {
		t.Fatalf("HTTP %d %s %v", r.StatusCode, r.Body, err)
	}
	if v["version"] != "11.134.0.0" {
		t.Fatalf("version printed would be %v", v["version"])
	}
}

// TestCreateUserSessionAppAndLocale: "app" becomes the page the login
// lands on; an unknown app lands on the home page; "locale" is carried
// into the session's session_locale cookie.
func TestCreateUserSessionAppAndLocale(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	b := billing{t, srv, testserver.WHMToken("root", testserver.RootToken)}
	v := b.query("GET", "create_user_session", "user", "alice", "service", "cpaneld", "app", "Email_Accounts", "locale", "de")
	u := path(v, "data", "url").(string)
	if path(v, "data", "locale") != "de" || !strings.Contains(u, "goto_uri=%2Ffrontend%2Fjupiter%2Femail_accounts%2Findex.html") {
		t.Fatalf("create_user_session: %v", v)
	}
	c := srv.Client()
	r := srv.Do(c, billingReq(t, "GET", u))
	loc := r.Header.Get("Location")
	if r.StatusCode != http.StatusFound || !strings.HasSuffix(loc, "/frontend/jupiter/email_accounts/index.html") {
		t.Fatalf("login: %d %q", r.StatusCode, loc)
	}
	var locale string
	for _, ck := range r.Cookies() {
		if ck.Name == "session_locale" {
			locale = ck.Value
		}
	}
	if locale != "de" {
		t.Fatalf("session_locale cookie %q; Set-Cookie %v", locale, r.Header.Values("Set-Cookie"))
	}
	base, _ := url.Parse(u)
	next, _ := base.Parse(loc)
	page := srv.Do(c, billingReq(t, "GET", next.String()))
	if page.StatusCode != 200 || !strings.Contains(string(page.Body), "alice") || !strings.Contains(string(page.Body), "email_accounts") {
		t.Fatalf("app page: %d %s", page.StatusCode, page.Body)
	}
	// Unknown application: the home page.
	v = b.query("GET", "create_user_session", "user", "alice", "service", "cpaneld", "app", "No_Such_App")
	u = path(v, "data", "url").(string)
	if strings.Contains(u, "goto_uri") {
		t.Fatalf("unknown app: %s", u)
	}
	loginWithURL(t, srv, u, "alice")
}
