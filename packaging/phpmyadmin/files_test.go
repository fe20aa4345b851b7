package phpmyadmin_test

import (
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/uapid/uapid/internal/testutil"
)

// php runs a PHP snippet and returns its output.
func php(t *testing.T, code string) string {
	t.Helper()
	out, err := exec.Command(testutil.RequireTool(t, "php"), "-n", "-r", code).CombinedOutput()
	if err != nil {
		t.Fatalf("php -r %s: %v\n%s", code, err, out)
	}
	return string(out)
}

// TestFilesParse: every PHP file that ships is valid PHP.
func TestFilesParse(t *testing.T) {
	for _, f := range []string{"uapid-signon.php", "uapid.inc.php", "phpmyadmin-signon.sample.php"} {
		out, err := exec.Command(testutil.RequireTool(t, "php"), "-n", "-l", f).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "No syntax errors") {
			t.Errorf("php -l %s: %v\n%s", f, err, out)
		}
	}
}

// TestSampleSettings: the sample settings name every key the script
// reads, and nothing else.
func TestSampleSettings(t *testing.T) {
	var keys []string
	if err := json.Unmarshal([]byte(php(t, `echo json_encode(array_keys(include "phpmyadmin-signon.sample.php"));`)), &keys); err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	want := []string{"ca_file", "cpanel_url", "name", "secret_file", "timeout", "tls_peer_name", "uapid_url"}
	if !slices.Equal(keys, want) {
		t.Fatalf("sample settings keys %q, want %q", keys, want)
	}
}

// TestConfig: phpMyAdmin's configuration signs on with the script, which
// is also the page phpMyAdmin sends the browser to, after its logout too;
// through the socket (temporary users are localhost only), never as root
// or without a password.
func TestConfig(t *testing.T) {
	var cfg struct {
		Servers map[string]map[string]any `json:"Servers"`
		Default int                       `json:"ServerDefault"`
		ChgPass bool                      `json:"ShowChgPassword"`
		Create  bool                      `json:"ShowCreateDb"`
	}
	out := php(t, `$cfg = []; $i = 1; include "uapid.inc.php"; echo json_encode($cfg);`)
	if err := json.Unmarshal([]byte(out), &cfg); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	s := cfg.Servers["1"]
	for k, want := range map[string]any{"auth_type": "signon", "host": "localhost", "AllowRoot": false, "AllowNoPassword": false} {
		if s[k] != want {
			t.Errorf("Servers[1][%s] = %v, want %v", k, s[k], want)
		}
	}
	script, _ := s["SignonScript"].(string)
	page, _ := s["SignonURL"].(string)
	logout, _ := s["LogoutURL"].(string)
	if !strings.HasSuffix(script, "/uapid-signon.php") || !strings.HasSuffix(page, "/uapid-signon.php") ||
		logout != page+"?uapid_error=logged_out" || s["socket"] == "" {
		t.Errorf("sign-on paths: script %q, page %q, logout %q, socket %v", script, page, logout, s["socket"])
	}
	if cfg.Default != 1 || cfg.ChgPass || cfg.Create {
		t.Errorf("ServerDefault %d, ShowChgPassword %v, ShowCreateDb %v", cfg.Default, cfg.ChgPass, cfg.Create)
	}
}
