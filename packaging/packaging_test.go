package packaging_test

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/uapid/uapid/internal/config"
)

const (
	sampleFile = "config.sample.yaml"
	unitFile   = "uapid.service"
)

// option is one entry of config.Usage.
type option struct{ name, env, def string }

var usageRE = regexp.MustCompile(`^  --([a-z0-9-]+) \((UAPID_[A-Z0-9_]+), default (".*")\)$`)

// options lists every option by parsing config.Usage, so that a new option
// shows up here without a change to this test.
func options(t *testing.T) []option {
	t.Helper()
	var b bytes.Buffer
	config.Usage(&b)
	var out []option
	sc := bufio.NewScanner(&b)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "  --") {
			continue
		}
		m := usageRE.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("config.Usage line %q has an unexpected form", line)
		}
		def, err := strconv.Unquote(m[3])
		if err != nil {
			t.Fatalf("config.Usage line %q: default: %v", line, err)
		}
		out = append(out, option{m[1], m[2], def})
	}
	if len(out) < 30 {
		t.Fatalf("config.Usage listed only %d options", len(out))
	}
	return out
}

// sampleKeys returns the top-level keys of the sample, active and commented
// out ("#key: value"), and checks that each has a comment line above it.
func sampleKeys(t *testing.T, text string) (active, commented map[string]bool) {
	t.Helper()
	active, commented = map[string]bool{}, map[string]bool{}
	keyRE := regexp.MustCompile(`^(#)?([a-z0-9-]+):`)
	lines := strings.Split(text, "\n")
	for i, line := range lines {
		m := keyRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		set := active
		if m[1] == "#" {
			set = commented
		}
		if active[m[2]] || commented[m[2]] {
			t.Errorf("%s:%d: key %s appears twice", sampleFile, i+1, m[2])
		}
		set[m[2]] = true
		if i == 0 || !strings.HasPrefix(lines[i-1], "# ") {
			t.Errorf("%s:%d: key %s has no comment line above it", sampleFile, i+1, m[2])
		}
	}
	return active, commented
}

func noEnv(string) string { return "" }

func load(t *testing.T, getenv func(string) string, flags ...string) *config.Config {
	t.Helper()
	fs, v := config.FlagSet("uapid serve", &bytes.Buffer{})
	if err := fs.Parse(flags); err != nil {
		t.Fatalf("flags %q: %v", flags, err)
	}
	c, err := config.Load(v, getenv)
	if err != nil {
		t.Fatalf("config.Load with %q: %v", flags, err)
	}
	return c
}

// TestSampleConfig: the sample is a valid configuration, names every option
// of internal/config, and sets each to its default (except data, which is
// the packaged location).
func TestSampleConfig(t *testing.T) {
	data, err := os.ReadFile(sampleFile)
	if err != nil {
		t.Fatal(err)
	}
	opts := options(t)
	active, commented := sampleKeys(t, string(data))
	known := map[string]bool{}
	for _, o := range opts {
		known[o.name] = true
		if !active[o.name] && !commented[o.name] {
			t.Errorf("%s does not mention the option %s (default %q); add it with its default and a comment", sampleFile, o.name, o.def)
		}
	}
	for k := range active {
		if !known[k] {
			t.Errorf("%s sets %s, which is not an option", sampleFile, k)
		}
	}
	for k := range commented {
		if !known[k] {
			t.Errorf("%s mentions #%s, which is not an option", sampleFile, k)
		}
	}

	fromSample := load(t, noEnv, "--config", sampleFile)
	if fromSample.ConfigFile != sampleFile || fromSample.DataDir != "/var/lib/uapid" {
		t.Fatalf("sample: config file %q, data %q", fromSample.ConfigFile, fromSample.DataDir)
	}
	defaults := load(t, noEnv)
	got, want := *fromSample, *defaults
	got.ConfigFile, got.DataDir = "", ""
	want.ConfigFile, want.DataDir = "", ""
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("the sample does not set the defaults:\n sample   %+v\n defaults %+v", got, want)
	}

	// The commented-out keys are the ones that conflict with the
	// environment: the sample must stay usable with the key given as
	// UAPID_SECRET_KEY (e.g. in /etc/uapid/uapid.env).
	key := strings.Repeat("ab", 32)
	c := load(t, func(k string) string {
		if k == "UAPID_SECRET_KEY" {
			return key
		}
		return ""
	}, "--config", sampleFile)
	if string(c.SecretKey) != key {
		t.Fatal("UAPID_SECRET_KEY was not taken with the sample config")
	}
}

// TestUnit: the unit's ExecStart is a valid `uapid serve` command line with
// the sample config, its data directory is the unit's StateDirectory, and
// the sandbox settings are there. systemd-analyze verify checks the unit
// when it is installed.
func TestUnit(t *testing.T) {
	data, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	unit := string(data)
	directive := func(name string) []string {
		var vals []string
		for _, line := range strings.Split(unit, "\n") {
			if v, ok := strings.CutPrefix(line, name+"="); ok {
				vals = append(vals, v)
			}
		}
		return vals
	}
	execStart := directive("ExecStart")
	if len(execStart) != 1 {
		t.Fatalf("ExecStart lines: %q", execStart)
	}
	args := strings.Fields(execStart[0])
	if len(args) < 2 || args[0] != "/usr/bin/uapid" || args[1] != "serve" {
		t.Fatalf("ExecStart %q", execStart[0])
	}
	flags := args[2:]
	want := map[string]string{"--config": "/etc/uapid/config.yaml", "--data": "/var/lib/uapid"}
	for i := 0; i+1 < len(flags); i += 2 {
		if w, ok := want[flags[i]]; ok && flags[i+1] == w {
			delete(want, flags[i])
		}
	}
	if len(want) != 0 {
		t.Fatalf("ExecStart %q lacks %v", execStart[0], want)
	}
	// The same flags, with the config file replaced by the sample, load.
	for i := range flags {
		if flags[i] == "/etc/uapid/config.yaml" {
			flags[i] = sampleFile
		}
	}
	if c := load(t, noEnv, flags...); c.DataDir != "/var/lib/uapid" {
		t.Fatalf("data %q", c.DataDir)
	}
	for _, d := range []string{
		"StateDirectory=uapid", "ConfigurationDirectory=uapid", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
		"NoNewPrivileges=yes", "CapabilityBoundingSet=", "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
		"SystemCallFilter=@system-service", "MemoryDenyWriteExecute=yes", "LockPersonality=yes", "RestrictNamespaces=yes",
		"ProtectKernelTunables=yes", "ProtectKernelModules=yes", "ProtectKernelLogs=yes", "ProtectControlGroups=yes",
		"KillSignal=SIGTERM", "TimeoutStopSec=35", "Restart=on-failure", "User=uapid",
	} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(d) + `$`).MatchString(unit) {
			t.Errorf("%s lacks %s", unitFile, d)
		}
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("systemd-analyze not found; skipping systemd-analyze verify")
		return
	}
	// verify wants ExecStart's binary to exist: point it at this test
	// binary in a copy of the unit.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(t.TempDir(), unitFile)
	if err := os.WriteFile(tmp, []byte(strings.Replace(unit, "/usr/bin/uapid", self, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", tmp).CombinedOutput()
	if err != nil || bytes.Contains(out, []byte(unitFile)) {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	if len(bytes.TrimSpace(out)) != 0 {
		t.Logf("systemd-analyze verify (about other units):\n%s", out)
	}
}
