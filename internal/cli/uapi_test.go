package cli_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/uapid/uapid/internal/cli"
	"github.com/uapid/uapid/internal/testserver"
)

const noRemoteAddress = "The system failed to determine a suitable remote IP address for the Webmail session. Submit a “remote_address”."

var (
	tokenLine  = regexp.MustCompile(`(?m)^    token: /cpsess[0-9]{10}$`)
	sessionStr = regexp.MustCompile(`^info@alice\.test:[0-9A-Za-z_]{16}:CREATE_WEBMAIL_SESSION_FOR_MAIL_USER,[0-9a-f]{32}$`)
)

// uapiRun runs `uapi args…` against dir.
func uapiRun(t *testing.T, dir string, args ...string) result {
	t.Helper()
	return run(t, cli.UAPIMain, "", nil, append([]string{"--data", dir}, args...)...)
}

// parseYAML decodes the YAML output into a generic map.
func parseYAML(t *testing.T, s string) map[string]any {
	t.Helper()
	var v map[string]any
	if err := yaml.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("output is not YAML (%v):\n%s", err, s)
	}
	return v
}

// parseJSON decodes JSON output into a generic map.
func parseJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("output is not JSON (%v):\n%s", err, s)
	}
	return v
}

// checkXML asserts that s is one well-formed XML document.
func checkXML(t *testing.T, s string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(s))
	depth, roots := 0, 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("output is not well-formed XML (%v):\n%s", err, s)
		}
		switch tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
			}
			depth++
		case xml.EndElement:
			depth--
		}
	}
	if depth != 0 || roots != 1 {
		t.Fatalf("XML output has %d root elements (depth %d):\n%s", roots, depth, s)
	}
}

// resultOf returns the result map of wrapped output and checks the wrapper.
func resultOf(t *testing.T, v map[string]any, function string) map[string]any {
	t.Helper()
	if v["module"] != "Session" || v["func"] != function || !isNum(v["apiversion"], 3) {
		t.Errorf("wrapper = module %v func %v apiversion %v", v["module"], v["func"], v["apiversion"])
	}
	r, ok := v["result"].(map[string]any)
	if !ok {
		t.Fatalf("no result object in %v", v)
	}
	return r
}

// isNum reports whether v, decoded from JSON (float64) or YAML (int), is n.
func isNum(v any, n int) bool {
	switch x := v.(type) {
	case int:
		return x == n
	case float64:
		return x == float64(n)
	}
	return false
}

func TestUAPICreateWebmailSessionYAML(t *testing.T) {
	dir := importedDir(t)
	r := uapiRun(t, dir, "--user=alice", "Session", "create_webmail_session_for_mail_user", "login=info", "domain=alice.test", "remote_address=127.0.0.1")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("uapi: %s", r)
	}
	if first, _, _ := strings.Cut(r.stdout, "\n"); first != "--- " {
		t.Errorf("first line %q, want \"--- \"", first)
	}
	for _, want := range []string{"\napiversion: 3\n", "\nfunc: create_webmail_session_for_mail_user\n", "\nmodule: Session\n", "\n  status: 1\n", "\n    hostname: ~\n", "\n  errors: ~\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	if !tokenLine.MatchString(r.stdout) {
		t.Errorf("output has no token line:\n%s", r.stdout)
	}
	res := resultOf(t, parseYAML(t, r.stdout), "create_webmail_session_for_mail_user")
	data, _ := res["data"].(map[string]any)
	if s, _ := data["session"].(string); !sessionStr.MatchString(s) {
		t.Errorf("session %q", data["session"])
	}
	if md, _ := res["metadata"].(map[string]any); !isNum(md["transformed"], 1) {
		t.Errorf("metadata %v", res["metadata"])
	}
}

func TestUAPIOutputFormatsAndOptionPlacement(t *testing.T) {
	dir := importedDir(t)
	call := []string{"Session", "create_webmail_session_for_mail_user", "login=info", "domain=alice.test", "remote_address=127.0.0.1"}
	tests := []struct {
		name string
		args []string
		kind string
	}{
		{"options first", append([]string{"--user=alice", "--output=json"}, call...), "json"},
		{"options after the arguments", append(append([]string{}, call...), "--user=alice", "--output=json"), "json"},
		{"options with separate values", append(append([]string{"--output", "jsonpretty"}, call...), "--user", "alice"), "json"},
		{"options in the middle", []string{"Session", "--user=alice", "create_webmail_session_for_mail_user", "login=info", "--output=xml", "domain=alice.test", "remote_address=127.0.0.1"}, "xml"},
		{"explicit yaml", append([]string{"--output=yaml", "--user=alice"}, call...), "yaml"},
		{"upper-case user", append([]string{"--user=ALICE"}, call...), "yaml"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := uapiRun(t, dir, tc.args...)
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("uapi %q: %s", tc.args, r)
			}
			switch tc.kind {
			case "json":
				res := resultOf(t, parseJSON(t, r.stdout), "create_webmail_session_for_mail_user")
				if !isNum(res["status"], 1) || res["errors"] != nil {
					t.Errorf("result %v", res)
				}
				data, _ := res["data"].(map[string]any)
				if s, _ := data["session"].(string); !sessionStr.MatchString(s) {
					t.Errorf("session %v", data["session"])
				}
			case "xml":
				checkXML(t, r.stdout)
				for _, want := range []string{"<status>1</status>", "<module>Session</module>", "<token>/cpsess"} {
					if !strings.Contains(r.stdout, want) {
						t.Errorf("XML lacks %q:\n%s", want, r.stdout)
					}
				}
			case "yaml":
				res := resultOf(t, parseYAML(t, r.stdout), "create_webmail_session_for_mail_user")
				if !isNum(res["status"], 1) {
					t.Errorf("result %v", res)
				}
			}
		})
	}
}

func TestUAPIResults(t *testing.T) {
	dir := importedDir(t)
	tests := []struct {
		name     string
		args     []string
		function string
		status   int
		errors   []any
		data     map[string]any // expected data (nil: not checked)
		session  bool           // data holds an info@alice.test session
	}{
		{name: "URI-decoded login", function: "create_webmail_session_for_mail_user", status: 1, session: true,
			args: []string{"login=in%66o", "domain=alice%2Etest", "remote_address=127.0.0.1"}},
		{name: "URI-decoded key", function: "create_webmail_session_for_mail_user", status: 1, session: true,
			args: []string{"lo%67in=info", "domain=alice.test", "remote_address=%31%32%37.0.0.1"}},
		{name: "missing remote_address", function: "create_webmail_session_for_mail_user", status: 0, errors: []any{noRemoteAddress},
			args: []string{"login=info", "domain=alice.test"}},
		{name: "empty remote_address", function: "create_webmail_session_for_mail_user", status: 0, errors: []any{noRemoteAddress},
			args: []string{"login=info", "domain=alice.test", "remote_address="}},
		{name: "missing login", function: "create_webmail_session_for_mail_user", status: 0, errors: []any{"Provide the “login” argument."},
			args: []string{"domain=alice.test", "remote_address=127.0.0.1"}},
		{name: "other account's mailbox", function: "create_webmail_session_for_mail_user", status: 0, errors: []any{"You do not have a user named “info@bob.test”."},
			args: []string{"login=info", "domain=bob.test", "remote_address=127.0.0.1"}},
		{name: "bad remote_address", function: "create_webmail_session_for_mail_user", status: 0, errors: []any{"“1.2.3” is not a valid IP address."},
			args: []string{"login=info", "domain=alice.test", "remote_address=1.2.3"}},
		{name: "create_temp_user", function: "create_temp_user", status: 1, data: map[string]any{"created": 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--user=alice", "--output=json", "Session", tc.function}, tc.args...)
			r := uapiRun(t, dir, args...)
			if r.code != 0 {
				t.Fatalf("uapi %q: %s", args, r)
			}
			res := resultOf(t, parseJSON(t, r.stdout), tc.function)
			if !isNum(res["status"], tc.status) {
				t.Errorf("status %v, want %d: %s", res["status"], tc.status, r.stdout)
			}
			if tc.errors != nil && !reflect.DeepEqual(res["errors"], tc.errors) {
				t.Errorf("errors %q, want %q", res["errors"], tc.errors)
			}
			if tc.status == 0 && res["data"] != nil {
				t.Errorf("data %v, want null", res["data"])
			}
			if tc.data != nil {
				got, _ := json.Marshal(res["data"])
				want, _ := json.Marshal(tc.data)
				if !bytes.Equal(got, want) {
					t.Errorf("data %s, want %s", got, want)
				}
			}
			if tc.session {
				data, _ := res["data"].(map[string]any)
				if s, _ := data["session"].(string); !sessionStr.MatchString(s) {
					t.Errorf("session %v", data["session"])
				}
			}
		})
	}
	t.Run("create_temp_user yaml", func(t *testing.T) {
		r := uapiRun(t, dir, "--user=alice", "Session", "create_temp_user")
		if r.code != 0 || !strings.Contains(r.stdout, "\n    created: 0\n") || !strings.Contains(r.stdout, "\n  status: 1\n") {
			t.Errorf("uapi create_temp_user: %s", r)
		}
	})
	t.Run("missing remote_address yaml", func(t *testing.T) {
		r := uapiRun(t, dir, "--user=alice", "Session", "create_webmail_session_for_mail_user", "login=info", "domain=alice.test")
		if r.code != 0 || !strings.Contains(r.stdout, "\n    - "+noRemoteAddress+"\n") || !strings.Contains(r.stdout, "\n  status: 0\n") {
			t.Errorf("uapi without remote_address: %s", r)
		}
	})
	t.Run("unknown module", func(t *testing.T) {
		r := uapiRun(t, dir, "--user=alice", "--output=json", "Nonesuch", "f")
		res := parseJSON(t, r.stdout)["result"].(map[string]any)
		if r.code != 0 || !reflect.DeepEqual(res["errors"], []any{"Failed to load module “Nonesuch”."}) {
			t.Errorf("unknown module: %s", r)
		}
	})
	t.Run("unknown function", func(t *testing.T) {
		r := uapiRun(t, dir, "--user=alice", "--output=json", "Session", "nonesuch")
		res := parseJSON(t, r.stdout)["result"].(map[string]any)
		if r.code != 0 || !reflect.DeepEqual(res["errors"], []any{"The system could not find the function “nonesuch” in the module “Session”."}) {
			t.Errorf("unknown function: %s", r)
		}
	})
}

func TestUAPIUsageErrors(t *testing.T) {
	dir := importedDir(t)
	call := []string{"Session", "create_webmail_session_for_mail_user", "login=info", "domain=alice.test", "remote_address=127.0.0.1"}
	tests := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"missing --user", call, "--user"},
		{"empty --user", append([]string{"--user="}, call...), "--user"},
		{"unknown user", append([]string{"--user=nobody"}, call...), "nobody"},
		{"root is not an account", append([]string{"--user=root"}, call...), "root"},
		{"unknown output", append([]string{"--user=alice", "--output=toml"}, call...), "toml"},
		{"argument without =", []string{"--user=alice", "Session", "create_webmail_session_for_mail_user", "login"}, "login"},
		{"bad escape", []string{"--user=alice", "Session", "create_webmail_session_for_mail_user", "login=%zz"}, "login"},
		{"no module or function", []string{"--user=alice"}, "module"},
		{"no function", []string{"--user=alice", "Session"}, "function"},
		{"unknown option", append([]string{"--user=alice", "--frobnicate"}, call...), "frobnicate"},
		{"option without value", append([]string{"--user=alice"}, append(call, "--output")...), "--output"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := uapiRun(t, dir, tc.args...)
			if r.code == 0 {
				t.Errorf("exit 0, want non-zero\n%s", r)
			}
			if r.stdout != "" {
				t.Errorf("stdout not empty: %q", r.stdout)
			}
			if !strings.HasPrefix(r.stderr, "uapi: ") || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("stderr %q does not start with \"uapi: \" and mention %q", r.stderr, tc.want)
			}
		})
	}
	t.Run("config error", func(t *testing.T) {
		r := uapiRun(t, dir, append([]string{"--user=alice", "--store", "mysql://u:Sekr1t@h/db"}, call...)...)
		if r.code != 1 || r.stdout != "" || !strings.HasPrefix(r.stderr, "uapi: ") || strings.Contains(r.stderr, "Sekr1t") || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("config error: %s", r)
		}
	})
	t.Run("help", func(t *testing.T) {
		r := uapiRun(t, dir, "--help")
		if r.code != 0 || !strings.Contains(r.stdout, "usage: uapi") {
			t.Errorf("--help: %s", r)
		}
	})
}

// TestUAPIFromEnvironment finds the store through UAPID_DATA.
func TestUAPIFromEnvironment(t *testing.T) {
	dir := importedDir(t)
	r := run(t, cli.UAPIMain, "", map[string]string{"UAPID_DATA": dir}, "--user=alice", "Session", "create_webmail_session_for_mail_user", "login=info", "domain=alice.test", "remote_address=127.0.0.1")
	if r.code != 0 || !tokenLine.MatchString(r.stdout) {
		t.Errorf("uapi with UAPID_DATA: %s", r)
	}
}

func TestWHMAPI1(t *testing.T) {
	dir := importedDir(t)
	whm := func(args ...string) result {
		return run(t, cli.WHMAPIMain, "", nil, append([]string{"--data", dir}, args...)...)
	}
	t.Run("version", func(t *testing.T) {
		r := whm("version")
		if r.code != 0 || r.stderr != "" || !strings.HasPrefix(r.stdout, "--- \n") || !strings.Contains(r.stdout, "\nmetadata: \n") || !strings.Contains(r.stdout, "\n  result: 1\n") {
			t.Errorf("whmapi1 version: %s", r)
		}
		v := parseYAML(t, r.stdout)
		md, _ := v["metadata"].(map[string]any)
		if md["command"] != "version" || !isNum(md["version"], 1) {
			t.Errorf("metadata %v", md)
		}
	})
	t.Run("version json after", func(t *testing.T) {
		r := whm("version", "--output=json")
		v := parseJSON(t, r.stdout)
		if md, _ := v["metadata"].(map[string]any); r.code != 0 || !isNum(md["result"], 1) {
			t.Errorf("whmapi1 version --output=json: %s", r)
		}
	})
	t.Run("version xml", func(t *testing.T) {
		r := whm("--output=xml", "version")
		checkXML(t, r.stdout)
		if r.code != 0 || !strings.Contains(r.stdout, "<result>1</result>") {
			t.Errorf("whmapi1 --output=xml version: %s", r)
		}
	})
	t.Run("unknown function", func(t *testing.T) {
		r := whm("nonesuch")
		if r.code != 0 || !strings.Contains(r.stdout, "\n  result: 0\n") || !strings.Contains(r.stdout, "Unknown app (“nonesuch”) requested for this version (1) of the API.") {
			t.Errorf("whmapi1 nonesuch: %s", r)
		}
	})
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"no function", nil},
		{"only options", []string{"--output=json"}},
		{"--user is not an option", []string{"--user=alice", "version"}},
		{"bad output", []string{"--output=csv", "version"}},
		{"argument without =", []string{"version", "x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := whm(tc.args...)
			if r.code == 0 || r.stdout != "" || !strings.HasPrefix(r.stderr, "whmapi1: ") {
				t.Errorf("whmapi1 %q: %s", tc.args, r)
			}
		})
	}
}

// TestUAPIWhileServing runs uapi against the data directory of a running
// server; the session it creates logs in on that server.
func TestUAPIWhileServing(t *testing.T) {
	dir := importedDir(t)
	srv := testserver.Start(t, testserver.Options{DataDir: dir})
	r := uapiRun(t, dir, "--user=alice", "--output=json", "Session", "create_webmail_session_for_mail_user", "login=info", "domain=alice.test", "remote_address=127.0.0.1")
	if r.code != 0 {
		t.Fatalf("uapi: %s", r)
	}
	res := resultOf(t, parseJSON(t, r.stdout), "create_webmail_session_for_mail_user")
	data, _ := res["data"].(map[string]any)
	token, _ := data["token"].(string)
	session, _ := data["session"].(string)
	if token == "" || session == "" {
		t.Fatalf("no session: %s", r.stdout)
	}
	c := srv.Client()
	resp := srv.PostForm(c, "webmaild", token+"/login/", "", url.Values{"session": {session}})
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("login: %d %s", resp.StatusCode, resp.Body)
	}
	if loc := resp.Header.Get("Location"); !strings.HasSuffix(loc, token+"/") {
		t.Errorf("Location %q, want …%s/", loc, token)
	}
	// The session is used up.
	resp = srv.PostForm(srv.Client(), "webmaild", token+"/login/", "", url.Values{"session": {session}})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("second login: %d, want 401", resp.StatusCode)
	}
	// whmapi1 works too while the server runs.
	if r := run(t, cli.WHMAPIMain, "", nil, "--data", dir, "version"); r.code != 0 {
		t.Errorf("whmapi1 while serving: %s", r)
	}
}
