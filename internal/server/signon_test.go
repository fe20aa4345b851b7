package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/uapid/uapid/internal/testserver"
)

// TestPhpMyAdminOffByDefault: without --phpmyadmin-url the landing page
// has no phpMyAdmin link, the link's path issues no ticket and the
// sign-on endpoint does not exist (the sign-on itself is tested against
// MariaDB in internal/e2e and with the real phpMyAdmin in
// internal/browsertest).
func TestPhpMyAdminOffByDefault(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	w := whm(t, srv, rootBasic, "create_user_session", url.Values{"user": {"alice"}, "service": {"cpaneld"}})
	d := w["data"].(map[string]any)
	u, _ := url.Parse(d["url"].(string))
	c := srv.Client()
	if r := srv.Do(c, mustReq(t, "GET", srv.URL("cpaneld", u.RequestURI()))); r.StatusCode != http.StatusFound {
		t.Fatalf("login: HTTP %d", r.StatusCode)
	}
	token := d["cp_security_token"].(string)
	r := srv.Do(c, mustReq(t, "GET", srv.URL("cpaneld", token+"/")))
	if r.StatusCode != 200 || strings.Contains(string(r.Body), "phpmyadmin") {
		t.Fatalf("landing page: HTTP %d, or a phpMyAdmin link without --phpmyadmin-url:\n%s", r.StatusCode, r.Body)
	}
	if r := srv.Do(c, mustReq(t, "GET", srv.URL("cpaneld", token+"/3rdparty/phpMyAdmin/"))); r.StatusCode == http.StatusFound || r.Header.Get("Location") != "" {
		t.Fatalf("phpMyAdmin link without --phpmyadmin-url: HTTP %d Location %q", r.StatusCode, r.Header.Get("Location"))
	}
	if r := srv.PostForm(srv.Client(), "cpaneld", "/3rdparty/phpMyAdmin/signon", testserver.Basic("phpmyadmin", "x"), url.Values{"ticket": {"x"}}); r.StatusCode != http.StatusNotFound {
		t.Fatalf("sign-on endpoint without --phpmyadmin-url: HTTP %d", r.StatusCode)
	}
}
