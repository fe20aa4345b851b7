package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/testserver"
)

var rootBasic = testserver.Basic("root", testserver.RootPassword)

func whm(t *testing.T, srv *testserver.Server, authz, fn string, q url.Values) map[string]any {
	t.Helper()
	q.Set("api.version", "1")
	r := srv.Get("whostmgrd", "/json-api/"+fn+"?"+q.Encode(), authz)
	if r.StatusCode != 200 || r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("HTTP %d %s: %s", r.StatusCode, r.Header.Get("Content-Type"), r.Body)
	}
	return r.JSON(t)
}

func wantReason(t *testing.T, v map[string]any, result int, reason string) {
	t.Helper()
	md := v["metadata"].(map[string]any)
	if md["result"] != json.Number(strconv.Itoa(result)) || md["reason"] != reason || md["version"] != json.Number("1") || md["command"] != "create_user_session" {
		t.Fatalf("metadata %v, want result %d reason %q", md, result, reason)
	}
	if _, has := v["data"]; has != (result == 1) {
		t.Fatalf("data present=%v for result %d: %v", has, result, v)
	}
}

func TestCreateUserSessionReasons(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	res := testserver.WHMToken("res", testserver.ResToken)
	cases := []struct {
		name, authz string
		q           url.Values
		want        string
	}{
		{"no user", rootBasic, url.Values{"service": {"cpaneld"}}, "The “user” parameter is required."},
		{"no service", rootBasic, url.Values{"user": {"alice"}}, "The “service” parameter is required."},
		{"empty user first", rootBasic, url.Values{"user": {""}, "service": {""}}, "The “user” parameter is required."},
		{"bad service", rootBasic, url.Values{"user": {"alice"}, "service": {"ftpd"}}, "The “service” parameter is invalid. The only supported services for this API call are “cpaneld”, “webmaild”, and “whostmgrd”."},
		{"bad service before unknown user", rootBasic, url.Values{"user": {"ghost"}, "service": {"x"}}, "The “service” parameter is invalid. The only supported services for this API call are “cpaneld”, “webmaild”, and “whostmgrd”."},
		{"unknown user", rootBasic, url.Values{"user": {"ghost"}, "service": {"cpaneld"}}, "You cannot create a session for the user “ghost” because they do not exist."},
		{"unknown mailbox", rootBasic, url.Values{"user": {"nobody@alice.test"}, "service": {"webmaild"}}, "You cannot create a session for the user “nobody@alice.test” because they do not exist."},
		{"suspended", rootBasic, url.Values{"user": {"sam"}, "service": {"cpaneld"}}, "You cannot create a session for the user “sam” because they are currently suspended."},
		{"reseller, account it does not own", res, url.Values{"user": {"alice"}, "service": {"cpaneld"}}, "You do not have permission to create sessions for the user “alice”."},
		{"reseller, mailbox it does not own", res, url.Values{"user": {"info@alice.test"}, "service": {"webmaild"}}, "You do not have permission to create sessions for the user “info@alice.test”."},
		{"whostmgrd for non-reseller", rootBasic, url.Values{"user": {"alice"}, "service": {"whostmgrd"}}, "You cannot create a “whostmgrd” session for the user “alice” because they are not a reseller."},
		{"reseller, whostmgrd for its non-reseller account", res, url.Values{"user": {"carol"}, "service": {"whostmgrd"}}, "You cannot create a “whostmgrd” session for the user “carol” because they are not a reseller."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantReason(t, whm(t, srv, c.authz, "create_user_session", c.q), 0, c.want)
		})
	}
}

var ssoSessionRE = regexp.MustCompile(`^([^:]+):[0-9A-Za-z_]{16}:create_user_session,[0-9a-f]{32}$`)

func TestCreateUserSessionSuccessAndLogin(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	res := testserver.WHMToken("res", testserver.ResToken)
	cases := []struct {
		name, authz, user, service, landing string
	}{
		{"root, cpaneld", rootBasic, "alice", "cpaneld", "alice"},
		{"root, webmaild for account", rootBasic, "alice", "webmaild", "alice"},
		{"root, webmaild for mailbox", rootBasic, "info@alice.test", "webmaild", "info@alice.test"},
		{"root, whostmgrd for reseller", testserver.WHMToken("root", testserver.RootToken), "res", "whostmgrd", "res"},
		{"reseller, its account", res, "carol", "cpaneld", "carol"},
		{"reseller, its account's mailbox", res, "box@carol.test", "webmaild", "box@carol.test"},
		{"reseller, itself on WHM", res, "res", "whostmgrd", "res"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := time.Now().Unix()
			v := whm(t, srv, c.authz, "create_user_session", url.Values{"user": {c.user}, "service": {c.service}})
			wantReason(t, v, 1, "Created session")
			d := v["data"].(map[string]any)
			tok, _ := d["cp_security_token"].(string)
			sess, _ := d["session"].(string)
			if !tokenRE.MatchString(tok) || d["service"] != c.service {
				t.Fatalf("data %v", d)
			}
			if m := ssoSessionRE.FindStringSubmatch(sess); m == nil || m[1] != c.user {
				t.Fatalf("session %q", sess)
			}
			exp, _ := d["expires"].(json.Number).Int64()
			if exp < before+299 || exp > time.Now().Unix()+301 {
				t.Fatalf("expires %d, want about now+300", exp)
			}
			if _, has := d["locale"]; has {
				t.Fatalf("locale present without being asked: %v", d)
			}
			u, err := url.Parse(d["url"].(string))
			if err != nil {
				t.Fatal(err)
			}
			_, port, _ := strings.Cut(srv.Addrs[c.service], ":")
			if u.Scheme != "https" || u.Hostname() != "localhost" || u.Port() != port || u.Path != tok+"/login/" || u.Query().Get("session") != sess {
				t.Fatalf("url %s (service port %s)", u, port)
			}
			// Following the URL logs in once.
			cl := srv.Client()
			r := srv.Do(cl, mustReq(t, "GET", srv.URL(c.service, u.RequestURI())))
			if r.StatusCode != http.StatusFound || r.Header.Get("Location") != tok+"/" {
				t.Fatalf("follow URL: HTTP %d Location %q: %s", r.StatusCode, r.Header.Get("Location"), r.Body)
			}
			if strings.Contains(r.Header.Get("Location"), "session") {
				t.Fatal("redirect carries the secret")
			}
			if r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("Referrer-Policy") != "no-referrer" {
				t.Fatalf("headers %v", r.Header)
			}
			cookie := map[string]string{"cpaneld": "cpsession=", "webmaild": "webmailsession=", "whostmgrd": "whostmgrsession="}[c.service]
			if !strings.HasPrefix(r.Header.Get("Set-Cookie"), cookie) {
				t.Fatalf("Set-Cookie %q, want %s…", r.Header.Get("Set-Cookie"), cookie)
			}
			r = srv.Do(cl, mustReq(t, "GET", srv.URL(c.service, tok+"/")))
			if r.StatusCode != 200 || !strings.Contains(string(r.Body), `id="user">`+c.landing+`<`) {
				t.Fatalf("landing HTTP %d: %s", r.StatusCode, r.Body)
			}
			r = srv.Do(srv.Client(), mustReq(t, "GET", srv.URL(c.service, u.RequestURI())))
			wantLoginFailure(t, r, "invalid_session")
		})
	}
}

func TestCreateUserSessionURLOptions(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{Args: []string{"--hostname", "panel.example.com", "--public-port-cpaneld", "443"}})
	v := whm(t, srv, rootBasic, "create_user_session", url.Values{"user": {"alice"}, "service": {"cpaneld"}, "locale": {"de"}})
	d := v["data"].(map[string]any)
	u, _ := url.Parse(d["url"].(string))
	if u.Host != "panel.example.com:443" || d["locale"] != "de" {
		t.Fatalf("url %s locale %v", u, d["locale"])
	}
	v = whm(t, srv, rootBasic, "create_user_session", url.Values{"user": {"alice"}, "service": {"webmaild"}, "preferred_domain": {"alice.test"}})
	u, _ = url.Parse(v["data"].(map[string]any)["url"].(string))
	_, port, _ := strings.Cut(srv.Addrs["webmaild"], ":")
	if u.Hostname() != "alice.test" || u.Port() != port {
		t.Fatalf("preferred_domain url %s", u)
	}
	md := whm(t, srv, rootBasic, "create_user_session", url.Values{"user": {"alice"}, "service": {"cpaneld"}, "locale": {strings.Repeat("x", 17)}})["metadata"].(map[string]any)
	if md["result"] != json.Number("0") {
		t.Fatalf("17-character locale accepted: %v", md)
	}
	md = whm(t, srv, rootBasic, "create_user_session", url.Values{"user": {"alice"}, "service": {"cpaneld"}, "preferred_domain": {"evil.example/x?"}})["metadata"].(map[string]any)
	if md["result"] != json.Number("0") {
		t.Fatalf("bad preferred_domain accepted: %v", md)
	}
}

func TestJSONAPICPanelProxy(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	q := func(user string, extra ...string) url.Values {
		v := url.Values{"cpanel_jsonapi_user": {user}, "cpanel_jsonapi_module": {"Session"},
			"cpanel_jsonapi_func": {"create_webmail_session_for_mail_user"}, "cpanel_jsonapi_apiversion": {"3"}}
		for i := 0; i+1 < len(extra); i += 2 {
			v.Set(extra[i], extra[i+1])
		}
		return v
	}
	call := func(authz string, v url.Values) map[string]any {
		r := srv.Get("whostmgrd", "/json-api/cpanel?"+v.Encode(), authz)
		if r.StatusCode != 200 {
			t.Fatalf("HTTP %d: %s", r.StatusCode, r.Body)
		}
		w := r.JSON(t)
		if w["apiversion"] != json.Number("3") || w["module"] != "Session" || w["func"] != "create_webmail_session_for_mail_user" {
			t.Fatalf("not the wrapped form: %s", r.Body)
		}
		return w["result"].(map[string]any)
	}
	res := testserver.WHMToken("res", testserver.ResToken)
	r := call(rootBasic, q("alice", "login", "info", "domain", "alice.test"))
	if r["status"] != json.Number("1") || !tokenRE.MatchString(r["data"].(map[string]any)["token"].(string)) {
		t.Fatalf("root as alice: %v", r)
	}
	r = call(res, q("carol", "login", "box", "domain", "carol.test"))
	if r["status"] != json.Number("1") {
		t.Fatalf("reseller as its account: %v", r)
	}
	// Argument errors of the inner function come through unchanged.
	r = call(rootBasic, q("alice"))
	if r["status"] != json.Number("0") || r["errors"].([]any)[0] != "Provide the “login” and “domain” arguments." {
		t.Fatalf("inner errors: %v", r)
	}
	for _, c := range []struct {
		name, authz string
		v           url.Values
	}{
		{"reseller, account it does not own", res, q("alice", "login", "info", "domain", "alice.test")},
		{"unknown account", rootBasic, q("ghost", "login", "info", "domain", "alice.test")},
		{"wrong apiversion", rootBasic, q("alice", "cpanel_jsonapi_apiversion", "2")},
	} {
		t.Run(c.name, func(t *testing.T) {
			if r := call(c.authz, c.v); r["status"] != json.Number("0") {
				t.Fatalf("accepted: %v", r)
			}
		})
	}
	// Only WHM credentials reach the proxy.
	if r := srv.Get("whostmgrd", "/json-api/cpanel?"+q("alice").Encode(), aliceToken()); r.StatusCode != 401 {
		t.Fatalf("cpanel token on WHM: HTTP %d", r.StatusCode)
	}
}

func TestCreateUserSessionIPv6Hostname(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{Args: []string{"--hostname", "::1"}})
	v := whm(t, srv, rootBasic, "create_user_session", url.Values{"user": {"alice"}, "service": {"cpaneld"}})
	u, err := url.Parse(v["data"].(map[string]any)["url"].(string))
	if err != nil || u.Hostname() != "::1" || !strings.HasPrefix(u.Host, "[::1]:") {
		t.Fatalf("url %v (%v)", u, err)
	}
}
