package server_test

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/uapid/uapid/internal/testserver"
)

func TestMetricsAfterFlow(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{Args: []string{"--metrics-addr", "127.0.0.1:0"}})
	lines := strings.Split(strings.TrimSpace(srv.Stdout.String()), "\n")
	addr := strings.TrimPrefix(lines[3], "listening service=metrics tls=false addr=")

	s := createSession(t, srv, aliceToken(), mailQ("info", "alice.test"))
	c := srv.Client()
	login(srv, c, "webmaild", s.Token, s.Session)
	login(srv, srv.Client(), "webmaild", s.Token, s.Session) // refused: already used
	srv.Do(c, mustReq(t, "POST", srv.URL("webmaild", s.Token+"/logout/")))
	srv.Get("cpaneld", "/execute/NoSuchModule/"+strings.Repeat("x", 50), aliceToken())
	srv.Get("cpaneld", selfFn, testserver.Basic("alice", "wrong"))

	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(body)
	want := []string{
		`uapid_sessions_created_total{method="create_webmail_session_for_mail_user",service="webmaild"} 1`,
		`uapid_logins_total{service="webmaild"} 1`,
		`uapid_login_failures_total{reason="invalid_session"} 1`,
		`uapid_sessions_ended_total{how="logout"} 1`,
		`uapid_http_requests_total{code="200",function="create_webmail_session_for_mail_user",module="Session",service="cpaneld"} 1`,
		`uapid_http_requests_total{code="302",function="session_login",module="web",service="webmaild"} 1`,
		`uapid_http_requests_total{code="401",function="session_login",module="web",service="webmaild"} 1`,
		`uapid_http_requests_total{code="200",function="unknown",module="unknown",service="cpaneld"} 1`,
		`uapid_http_requests_total{code="401",function="create_webmail_session_for_self",module="Session",service="cpaneld"} 1`,
	}
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("metrics lack %s", w)
		}
	}
	for _, re := range []string{
		`uapid_http_request_duration_seconds_bucket\{function="session_login",module="web",service="webmaild",le="[0-9.]+"\} [0-9]+`,
		`uapid_store_operation_duration_seconds_count\{operation="consume"\} [1-9]`,
		`uapid_temp_users_live 0`,
		`go_goroutines [0-9]+`,
	} {
		if !regexp.MustCompile(re).MatchString(text) {
			t.Errorf("metrics lack %s", re)
		}
	}
	// Conventions: counters end in _total, durations in _seconds; raw input
	// never becomes a label value.
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "# TYPE uapid_") {
			f := strings.Fields(line)
			if (f[3] == "counter") != strings.HasSuffix(f[2], "_total") {
				t.Errorf("metric naming: %s", line)
			}
			if f[3] == "histogram" && !strings.HasSuffix(f[2], "_seconds") {
				t.Errorf("metric naming: %s", line)
			}
		}
	}
	if strings.Contains(text, "NoSuchModule") {
		t.Error("a caller-supplied module name became a label value")
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", text)
	}
}
