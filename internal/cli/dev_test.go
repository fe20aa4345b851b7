package cli_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/cli"
	"github.com/uapid/uapid/internal/tlsutil"
)

// devServer is a running `uapid serve --dev`.
type devServer struct {
	t      *testing.T
	out    *syncBuilder
	errb   *syncBuilder
	vars   map[string]string // the banner's export lines
	client *http.Client
	stop   func()
}

// startDev runs `uapid serve --dev` on dir with random loopback ports and
// the extra flags, and parses the banner's export lines.
func startDev(t *testing.T, dir string, extra ...string) *devServer {
	t.Helper()
	d := &devServer{t: t, out: &syncBuilder{}, errb: &syncBuilder{}, vars: map[string]string{}}
	ready, stopc := make(chan struct{}), make(chan struct{})
	env := &cli.Env{Stdin: strings.NewReader(""), Stdout: d.out, Stderr: d.errb,
		Getenv: func(string) string { return "" }, Ready: ready, Stop: stopc}
	args := append([]string{"serve", "--dev", "--data", dir, "--log-level", "debug",
		"--cpanel-addr", "127.0.0.1:0", "--webmail-addr", "127.0.0.1:0", "--whm-addr", "127.0.0.1:0"}, extra...)
	done := make(chan int, 1)
	go func() { done <- cli.Main(args, env) }()
	select {
	case <-ready:
	case code := <-done:
		t.Fatalf("serve --dev exited with %d:\n%s", code, d.errb.String())
	case <-time.After(60 * time.Second):
		t.Fatal("serve --dev did not start")
	}
	var once bool
	d.stop = func() {
		if once {
			return
		}
		once = true
		close(stopc)
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("serve --dev exited with %d:\n%s", code, d.errb.String())
			}
		case <-time.After(60 * time.Second):
			t.Error("serve --dev did not stop")
		}
	}
	t.Cleanup(d.stop)
	for _, line := range strings.Split(d.out.String(), "\n") {
		rest, ok := strings.CutPrefix(line, "export ")
		if !ok {
			continue
		}
		for _, kv := range strings.Fields(rest) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				t.Fatalf("export line %q: %q is not NAME=value", line, kv)
			}
			d.vars[k] = v
		}
	}
	pem, err := os.ReadFile(filepath.Join(dir, tlsutil.CertFile))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	d.client = &http.Client{
		Timeout:       30 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return d
}

// v returns the banner variable name; the test fails without it.
func (d *devServer) v(name string) string {
	d.t.Helper()
	v, ok := d.vars[name]
	if !ok || v == "" {
		d.t.Fatalf("the banner exports no %s:\n%s", name, d.out.String())
	}
	return v
}

// call sends a request (form values in the body when form is not nil) and
// returns the status and the body.
func (d *devServer) call(method, rawURL, authz string, form url.Values) (int, string) {
	d.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, rawURL, body)
	if err != nil {
		d.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		d.t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("not JSON (%v): %s", err, s)
	}
	return v
}

var devSecretVars = []string{"ROOT_PASS", "ROOT_TOKEN", "RESELLER_PASS", "ALICE_PASS", "DEMO_PASS", "DEMO_TOKEN", "MAIL_PASS"}

// TestServeDev checks that everything the banner of `serve --dev` prints
// works: the URLs, root's password and token, the reseller and its
// account, the demo account's token and its mailbox's password, and that
// URLs name 127.0.0.1 (which resolves here) when --hostname is not given.
// The README-examples test runs the banner's commands themselves.
func TestServeDev(t *testing.T) {
	dir := t.TempDir()
	d := startDev(t, dir)
	out := d.out.String()
	for _, want := range []string{"root / ", "reseller / ", "alice / ", "demo / ", "info@demo.test / ",
		"create_webmail_session_for_mail_user?", "create_webmail_session_for_mail_user_check_password?",
		"$WEBMAIL$CPSESS/login/", "create_user_session?api.version=1&user=alice"} {
		if !strings.Contains(out, want) {
			t.Errorf("banner lacks %q:\n%s", want, out)
		}
	}
	urlRE := regexp.MustCompile(`^https://127\.0\.0\.1:[1-9][0-9]*$`)
	for _, name := range []string{"CPANEL", "WEBMAIL", "WHM"} {
		if !urlRE.MatchString(d.v(name)) {
			t.Errorf("%s=%s, want https://127.0.0.1:PORT", name, d.v(name))
		}
	}
	for _, name := range devSecretVars {
		if s := d.v(name); strings.Contains(d.errb.String(), s) {
			t.Errorf("the log (standard error) contains the secret %s", name)
		}
	}
	cp, wm, whm := d.v("CPANEL"), d.v("WEBMAIL"), d.v("WHM")
	mailbox := "?login=info&domain=demo.test"

	// The account's token: a Webmail session for its mailbox.
	code, body := d.call("GET", cp+"/execute/Session/create_webmail_session_for_mail_user"+mailbox, "cpanel demo:"+d.v("DEMO_TOKEN"), nil)
	if code != 200 || decode(t, body)["status"] != 1.0 {
		t.Fatalf("create_webmail_session_for_mail_user with DEMO_TOKEN: %d %s", code, body)
	}
	// check_password with the mailbox's password, then one login.
	code, body = d.call("POST", cp+"/execute/Session/create_webmail_session_for_mail_user_check_password"+mailbox,
		"cpanel demo:"+d.v("DEMO_TOKEN"), url.Values{"password": {d.v("MAIL_PASS")}})
	res := decode(t, body)
	if code != 200 || res["status"] != 1.0 {
		t.Fatalf("check_password with MAIL_PASS: %d %s", code, body)
	}
	data := res["data"].(map[string]any)
	login := wm + data["token"].(string) + "/login/"
	if code, body := d.call("POST", login, "", url.Values{"session": {data["session"].(string)}}); code != 302 {
		t.Fatalf("login: %d %s", code, body)
	}
	if code, _ := d.call("POST", login, "", url.Values{"session": {data["session"].(string)}}); code != 401 {
		t.Errorf("second login: %d, want 401", code)
	}
	// The account's and the mailbox's passwords.
	if code, body := d.call("GET", cp+"/execute/Tokens/list", basic("demo", d.v("DEMO_PASS")), nil); code != 200 || decode(t, body)["status"] != 1.0 {
		t.Errorf("demo with DEMO_PASS: %d %s", code, body)
	}
	if code, body := d.call("GET", wm+"/execute/Email/list_pops", basic("info@demo.test", d.v("MAIL_PASS")), nil); code != 200 || decode(t, body)["status"] != 1.0 {
		t.Errorf("info@demo.test with MAIL_PASS: %d %s", code, body)
	}
	if code, body := d.call("GET", cp+"/execute/Tokens/list", basic("alice", d.v("ALICE_PASS")), nil); code != 200 || decode(t, body)["status"] != 1.0 {
		t.Errorf("alice with ALICE_PASS: %d %s", code, body)
	}

	// WHM SSO for alice: as root (password and token) and as its reseller;
	// the URL names 127.0.0.1 and the cPanel port, and logs in.
	sso := whm + "/json-api/create_user_session?api.version=1&user=alice&service=cpaneld"
	for _, authz := range []string{basic("root", d.v("ROOT_PASS")), "whm root:" + d.v("ROOT_TOKEN"), basic("reseller", d.v("RESELLER_PASS"))} {
		code, body := d.call("GET", sso, authz, nil)
		res := decode(t, body)
		meta, _ := res["metadata"].(map[string]any)
		if code != 200 || meta["result"] != 1.0 {
			t.Fatalf("create_user_session as %s: %d %s", strings.Fields(authz)[0], code, body)
		}
		u := res["data"].(map[string]any)["url"].(string)
		if !strings.HasPrefix(u, cp+"/cpsess") {
			t.Errorf("SSO url %s does not start with %s/cpsess", u, cp)
		}
		if code, body := d.call("GET", u, "", nil); code != 302 {
			t.Errorf("SSO url: %d %s", code, body)
		}
	}

	// A restart issues new secrets: the old ones stop working.
	old := d.v("DEMO_TOKEN")
	d.stop()
	d2 := startDev(t, dir)
	for _, name := range devSecretVars {
		if d2.v(name) == d.v(name) {
			t.Errorf("%s is the same after a restart", name)
		}
	}
	if code, _ := d2.call("GET", d2.v("CPANEL")+"/execute/Tokens/list", "cpanel demo:"+old, nil); code != 401 {
		t.Errorf("the previous start's DEMO_TOKEN: %d, want 401", code)
	}
}

// TestServeDevHostname: with --hostname, the banner's URLs and SSO URLs use
// that name.
func TestServeDevHostname(t *testing.T) {
	d := startDev(t, t.TempDir(), "--hostname", "localhost")
	if !strings.HasPrefix(d.v("WHM"), "https://localhost:") {
		t.Errorf("WHM=%s, want https://localhost:PORT", d.v("WHM"))
	}
	_, body := d.call("GET", d.v("WHM")+"/json-api/create_user_session?api.version=1&user=demo&service=cpaneld", basic("root", d.v("ROOT_PASS")), nil)
	if u, _ := decode(t, body)["data"].(map[string]any)["url"].(string); !strings.HasPrefix(u, d.v("CPANEL")+"/cpsess") {
		t.Errorf("SSO url %q does not start with %s", u, d.v("CPANEL"))
	}
}

// TestServeDevListenerOff: a listener that is off has no variable and no
// commands in the banner.
func TestServeDevListenerOff(t *testing.T) {
	d := startDev(t, t.TempDir(), "--whm-addr", "off")
	if _, ok := d.vars["WHM"]; ok {
		t.Errorf("WHM exported although the WHM listener is off")
	}
	if strings.Contains(d.out.String(), "$WHM") {
		t.Errorf("the banner uses $WHM although the WHM listener is off:\n%s", d.out.String())
	}
	d.v("ROOT_PASS")
}

// TestServeDevBannerLayout: no line of the banner ends in white space (it
// is meant to be copied from).
func TestServeDevBannerLayout(t *testing.T) {
	d := startDev(t, t.TempDir())
	for i, l := range strings.Split(d.out.String(), "\n") {
		if strings.TrimRight(l, " \t") != l {
			t.Errorf("banner line %d ends in white space: %q", i+1, l)
		}
	}
}

// TestServeDevConflict: when the store holds data the demo data clashes
// with (another account owning demo.test), serve --dev stops with one line
// saying so, exit 1.
func TestServeDevConflict(t *testing.T) {
	dir := t.TempDir()
	fx := writeFile(t, "fixture.yaml", "accounts:\n  - user: zed\n    password: Zed-pass-1\n    domains: [demo.test]\n")
	if r := uapid(t, "import", "--data", dir, fx); r.code != 0 {
		t.Fatalf("import: %s", r)
	}
	r := serveResult(t, nil, "--dev", "--data", dir, "--cpanel-addr", "127.0.0.1:0", "--webmail-addr", "127.0.0.1:0", "--whm-addr", "127.0.0.1:0")
	want := "uapid: --dev cannot add its demo data to this store: accounts[2]: "
	if r.code != 1 || !strings.HasPrefix(r.stderr, want) || !strings.Contains(r.stderr, "demo.test") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("got %s\nwant exit 1 and one line starting %q", r, want)
	}
}
