package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/uapid/uapid/internal/cli"
)

// tree lists every path under dir (relative), to check that a command
// created nothing.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if rel, _ := filepath.Rel(dir, p); rel != "." {
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var (
	uapiCall   = []string{"--user=demo", "Session", "create_webmail_session_for_mail_user", "login=info", "domain=demo.test", "remote_address=127.0.0.1"}
	whmapiCall = []string{"create_user_session", "user=alice", "service=cpaneld"}
)

// TestAPIRefusesMissingDataDir: run where no server ever ran, uapi and
// whmapi1 say where they looked and how to point them at the server's
// data, exit 1, and create nothing (no ./uapid-data).
func TestAPIRefusesMissingDataDir(t *testing.T) {
	empty := t.TempDir()
	t.Chdir(empty)
	abs := filepath.Join(empty, "uapid-data")
	for _, tc := range []struct {
		name string
		main func([]string, *cli.Env) int
		args []string
	}{{"uapi", cli.UAPIMain, uapiCall}, {"whmapi1", cli.WHMAPIMain, whmapiCall}} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, tc.main, "", nil, tc.args...)
			want := tc.name + ": no uapid data directory at " + abs + " (start `uapid serve` there, or pass --data DIR / set UAPID_DATA)\n"
			if r.code != 1 || r.stdout != "" || r.stderr != want {
				t.Errorf("got %s\nwant exit 1 and stderr %q", r, want)
			}
			if got := tree(t, empty); len(got) != 0 {
				t.Errorf("%s created %q", tc.name, got)
			}
		})
	}
}

// TestAPIRefusesMissingStore covers the other places a store can be
// missing: --data and UAPID_DATA naming nothing, a data directory without
// a store, an --store file that does not exist. Nothing is created.
func TestAPIRefusesMissingStore(t *testing.T) {
	root := t.TempDir()
	missing := filepath.Join(root, "missing")
	emptyDir := filepath.Join(root, "empty")
	if err := os.Mkdir(emptyDir, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := writeFile(t, "uapid.yaml", "data: "+missing+"\n")
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"--data", nil, []string{"--data", missing}, "no uapid data directory at " + missing + " ("},
		{"UAPID_DATA", map[string]string{"UAPID_DATA": missing}, nil, "no uapid data directory at " + missing + " ("},
		{"--config", nil, []string{"--config", cfg}, "no uapid data directory at " + missing + " ("},
		{"data directory without a store", nil, []string{"--data", emptyDir}, "no uapid store in " + emptyDir + ": it has no uapid.db"},
		{"--store", nil, []string{"--data", emptyDir, "--store", filepath.Join(missing, "x.db")}, "no uapid store at " + filepath.Join(missing, "x.db") + " ("},
		{"sqlite:// --store", nil, []string{"--data", emptyDir, "--store", "sqlite://" + filepath.Join(emptyDir, "x.db")}, "no uapid store at " + filepath.Join(emptyDir, "x.db") + " ("},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, p := range []struct {
				name string
				main func([]string, *cli.Env) int
				args []string
			}{{"uapi", cli.UAPIMain, uapiCall}, {"whmapi1", cli.WHMAPIMain, whmapiCall}} {
				r := run(t, p.main, "", tc.env, append(tc.args, p.args...)...)
				if r.code != 1 || r.stdout != "" || !strings.HasPrefix(r.stderr, p.name+": "+tc.want) || strings.Count(r.stderr, "\n") != 1 {
					t.Errorf("%s: got %s\nwant exit 1 and one line starting %q", p.name, r, p.name+": "+tc.want)
				}
			}
			if got := tree(t, root); len(got) != 1 || got[0] != "empty" {
				t.Errorf("created %q", got)
			}
		})
	}
}

// TestAPIStoreOutsideDataDir: with --store naming an existing SQLite file,
// uapi and whmapi1 work without the data directory and do not create it.
func TestAPIStoreOutsideDataDir(t *testing.T) {
	dir := importedDir(t)
	missing := filepath.Join(t.TempDir(), "missing")
	store := []string{"--store", filepath.Join(dir, "uapid.db"), "--data", missing}
	r := run(t, cli.UAPIMain, "", nil, append(store, "--user=alice", "Session", "create_webmail_session_for_mail_user", "login=info", "domain=alice.test", "remote_address=127.0.0.1")...)
	if r.code != 0 || !tokenLine.MatchString(r.stdout) {
		t.Errorf("uapi --store: %s", r)
	}
	r = run(t, cli.WHMAPIMain, "", nil, append(store, whmapiCall...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "reason: Created session") {
		t.Errorf("whmapi1 --store: %s", r)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("the data directory %s was created (%v)", missing, err)
	}
}
