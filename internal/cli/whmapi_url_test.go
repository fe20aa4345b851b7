package cli_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/uapid/uapid/internal/cli"
	"github.com/uapid/uapid/internal/testserver"
)

// TestWHMAPI1CreateUserSessionPrintsWorkingURL: the acceptance line of the
// SSO issue. whmapi1 runs in-process against the data directory of a
// running server and prints a URL that logs in on that server.
func TestWHMAPI1CreateUserSessionPrintsWorkingURL(t *testing.T) {
	dir := t.TempDir()
	srv := testserver.Start(t, testserver.Options{DataDir: dir})
	for _, service := range []string{"cpaneld", "webmaild"} {
		var out, errb bytes.Buffer
		code := cli.WHMAPIMain([]string{"create_user_session", "user=alice", "service=" + service, "--output=json", "--data", dir},
			&cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }})
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errb.String())
		}
		var v struct {
			Metadata struct {
				Result int    `json:"result"`
				Reason string `json:"reason"`
			} `json:"metadata"`
			Data struct {
				URL   string `json:"url"`
				Token string `json:"cp_security_token"`
			} `json:"data"`
		}
		if err := json.Unmarshal(out.Bytes(), &v); err != nil {
			t.Fatalf("output is not JSON: %s", out.String())
		}
		if v.Metadata.Result != 1 || v.Metadata.Reason != "Created session" {
			t.Fatalf("metadata %+v", v.Metadata)
		}
		want := "https://localhost:" + strings.Split(srv.Addrs[service], ":")[1] + v.Data.Token + "/login/?session="
		if !strings.HasPrefix(v.Data.URL, want) {
			t.Fatalf("url %q, want prefix %q", v.Data.URL, want)
		}
		// The URL names "localhost" (the certificate's name); dial the
		// loopback address it stands for.
		req, _ := http.NewRequest("GET", strings.Replace(v.Data.URL, "localhost", "127.0.0.1", 1), nil)
		r := srv.Do(srv.Client(), req)
		if r.StatusCode != http.StatusFound || r.Header.Get("Location") != v.Data.Token+"/" {
			t.Fatalf("following the URL: HTTP %d Location %q: %s", r.StatusCode, r.Header.Get("Location"), r.Body)
		}
	}
}
