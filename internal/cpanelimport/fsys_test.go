package cpanelimport

import (
	"archive/tar"
	"bytes"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
)

// TestMemFS: the in-memory view of an archive is a correct fs.FS.
func TestMemFS(t *testing.T) {
	m := &memFS{files: map[string][]byte{
		"cp/alice":                      []byte("USER=alice\n"),
		"shadow":                        []byte("$6$x$y"),
		"homedir/etc/alice.test/shadow": []byte("info:$6$x$y:1::::::\n"),
		"mysql/alice_wp.create":         nil,
	}}
	if err := fstest.TestFS(m, "cp/alice", "shadow", "homedir/etc/alice.test/shadow", "mysql/alice_wp.create"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.ReadFile("homedir"); !errors.Is(err, ErrNotRegular) {
		t.Errorf("ReadFile(dir): %v", err)
	}
	if _, err := m.ReadFile("../shadow"); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("ReadFile(../shadow): %v", err)
	}
	if _, err := m.ReadDir("nothing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadDir(nothing): %v", err)
	}
}

// TestDirFS: the view of a directory is a correct fs.FS that follows no
// symbolic link (of a file, of a directory on the way, inside the tree or
// out of it) and reads no file beyond its bound.
func TestDirFS(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	write := func(p, s string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(dir, "etc/shadow"), "root:x:1::::::\n")
	write(filepath.Join(dir, "var/cpanel/users/alice"), "USER=alice\n")
	write(filepath.Join(dir, "big"), strings.Repeat("z", 100))
	write(filepath.Join(outside, "secret"), "outside\n")
	for _, l := range [][2]string{
		{filepath.Join(outside, "secret"), "etc/link-out"},
		{"shadow", "etc/link-in"},
		{filepath.Join(dir, "var"), "var2"},
		{"/", "root"},
	} {
		if err := os.Symlink(l[0], filepath.Join(dir, l[1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := openDir(dir, 64)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	b, err := fs.ReadFile(d, "var/cpanel/users/alice")
	if err != nil || string(b) != "USER=alice\n" {
		t.Fatalf("ReadFile = %q, %v", b, err)
	}
	for _, c := range []struct {
		name string
		want error
	}{
		{"etc/link-out", ErrSymlink},
		{"etc/link-in", ErrSymlink},
		{"var2/cpanel/users/alice", ErrSymlink},
		{"root/etc/passwd", ErrSymlink},
		{"big", ErrTooLarge},
		{"fifo", ErrNotRegular},
		{"etc", ErrNotRegular},
		{"missing", fs.ErrNotExist},
		{"../" + filepath.Base(outside) + "/secret", fs.ErrInvalid},
		{"/etc/passwd", fs.ErrInvalid},
	} {
		if _, err := fs.ReadFile(d, c.name); !errors.Is(err, c.want) {
			t.Errorf("ReadFile(%s): %v, want %v", c.name, err, c.want)
		}
		if _, err := d.Open(c.name); c.want != ErrTooLarge && !errors.Is(err, c.want) && !(c.name == "etc" && err == nil) {
			t.Errorf("Open(%s): %v, want %v", c.name, err, c.want)
		}
	}
	if _, err := fs.ReadDir(d, "var2/cpanel"); !errors.Is(err, ErrSymlink) {
		t.Errorf("ReadDir through a link: %v", err)
	}
	es, err := fs.ReadDir(d, "etc")
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	if err != nil || !slices.Equal(names, []string{"link-in", "link-out", "shadow"}) {
		t.Errorf("ReadDir(etc) = %v, %v", names, err)
	}
	// Without the links, the pipe and the large file it is a correct fs.FS.
	for _, p := range []string{"etc/link-out", "etc/link-in", "var2", "root", "fifo", "big"} {
		if err := os.Remove(filepath.Join(dir, p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := fstest.TestFS(d, "etc/shadow", "var/cpanel/users/alice"); err != nil {
		t.Fatal(err)
	}
}

// TestParsers covers the details of the formats that the tree and archive
// tests do not.
func TestParsers(t *testing.T) {
	kv, probs := parseCPUser([]byte("# header\r\nUSER = alice\r\n\nDNS=Alice.Test\nbad line\nK-EY=x\nPLAN=a=b\n"))
	if kv["USER"] != "alice" || kv["DNS"] != "Alice.Test" || kv["PLAN"] != "a=b" || len(probs) != 2 || probs[0].line != 5 || probs[1].line != 6 {
		t.Errorf("parseCPUser = %v, %v", kv, probs)
	}
	for _, c := range []struct {
		in, hash  string
		suspended bool
	}{
		{"$6$s$h", "$6$s$h", false},
		{"!!$6$s$h", "$6$s$h", true},
		{"!$6$s$h", "$6$s$h", true},
		{"*LOCKED*$6$s$h", "$6$s$h", false},
		{"*LOCKED*!!$6$s$h", "$6$s$h", true},
		{"!!*LOCKED*$6$s$h", "$6$s$h", true},
		{"*", "*", false},
		{"", "", false},
	} {
		if h, s := mailboxHash(c.in); h != c.hash || s != c.suspended {
			t.Errorf("mailboxHash(%q) = %q, %v", c.in, h, s)
		}
	}
	if n := note([]byte("Payment\r\noverdue \x00 since\tMay\n")); n != "Payment overdue since May" {
		t.Errorf("note = %q", n)
	}
	if n := note([]byte(strings.Repeat("é", 600))); len(n) > 1024 || !strings.HasPrefix(n, "éé") || strings.ToValidUTF8(n, "") != n {
		t.Errorf("long note: %d bytes", len(n))
	}
	for s, want := range map[string]int64{"1700000000": 1700000000, "0000000000": 0, "": 0, "x": 0, "-5": 0} {
		got, ok := epoch(s)
		if (want != 0) != ok || (ok && got.Unix() != want) {
			t.Errorf("epoch(%q) = %v, %v", s, got, ok)
		}
	}

	digest := strings.Repeat("ab", 64)
	ts, probs := parseTokens([]byte(`{"` + strings.ToUpper(digest) + `": {"name": "ci", "create_time": "1700000000", "expires_at": "0",
		"whitelist_ips": ["10.0.0.1", "10.1.0.0/16", "::ffff:10.2.0.1"], "has_full_access": "1", "features": []}}`))
	if len(probs) != 0 || len(ts) != 1 || ts[0].name != "ci" || ts[0].created.Unix() != 1700000000 || !ts[0].expires.IsZero() || !ts[0].fullCP ||
		len(ts[0].digest) != 64 || len(ts[0].allow) != 3 || ts[0].allow[2].String() != "10.2.0.1/32" {
		t.Errorf("parseTokens = %+v, %v", ts, probs)
	}
	for body, want := range map[string]string{
		`[1]`:                          "not a JSON object",
		`{"tokens": []}`:               "“tokens” member is not a JSON object",
		`{"x": 5}`:                     "not a JSON object",
		`{"x": {"name": "bad name!"}}`: "no valid name",
		`{"x": {"name": "n"}}`:         "“n” is not under a SHA-512 digest",
		`{"D": {"name": "n", "create_time": "soon"}}`:      "invalid create_time",
		`{"D": {"name": "n", "expires_at": -1}}`:           "invalid expires_at",
		`{"D": {"name": "n", "whitelist_ips": "1.2.3.4"}}`: "invalid whitelist_ips",
		`{"D": {"name": "n", "acls": "all"}}`:              "invalid acls",
		`{"D": {"name": "n", "features": 3}}`:              "invalid features",
	} {
		body = strings.ReplaceAll(body, `"D"`, `"`+digest+`"`)
		if _, probs := parseTokens([]byte(body)); len(probs) != 1 || !strings.Contains(probs[0].reason, want) || strings.Contains(probs[0].reason, digest) {
			t.Errorf("parseTokens(%s): %v, want %q", body, probs, want)
		}
	}
	two := `{"` + digest + `": {"name": "n"}, "` + strings.Repeat("cd", 64) + `": {"name": "n"}}`
	if ts, probs := parseTokens([]byte(two)); len(ts) != 1 || len(probs) != 1 || !strings.Contains(probs[0].reason, "two tokens are named “n”") {
		t.Errorf("duplicate names: %v, %v", ts, probs)
	}

	for _, c := range []struct {
		tok  apiToken
		user string
		acls []string
		full bool
	}{
		{apiToken{}, "root", nil, true},
		{apiToken{hasACLs: true, acls: []string{"all"}}, "root", nil, true},
		{apiToken{hasACLs: true, acls: []string{"list-accts"}}, "root", nil, false},
		{apiToken{hasACLs: true}, "root", nil, false},
		{apiToken{hasACLs: true, acls: []string{"a", "b", "c"}}, "res", []string{"a", "b"}, true},
		{apiToken{hasACLs: true, acls: []string{"a"}}, "res", []string{"a", "b"}, false},
		{apiToken{hasACLs: true, acls: []string{"a"}}, "res", []string{"all"}, false},
		{apiToken{hasACLs: true, acls: []string{"a"}}, "res", nil, false},
	} {
		if got := fullWHM(c.tok, c.user, c.acls); got != c.full {
			t.Errorf("fullWHM(%+v, %s, %v) = %v", c.tok, c.user, c.acls, got)
		}
	}

	u, probs := parseUserdataMain([]byte("---\nmain_domain: a.test\naddon_domains:\n  z.test: z.a.test\n  b.test: b.a.test\nparked_domains: [p.test]\nsub_domains: [z.a.test]\n"))
	if len(probs) != 0 || !slices.Equal(u.domains(), []string{"a.test", "b.test", "z.test", "p.test", "z.a.test"}) {
		t.Errorf("userdata = %v, %v", u.domains(), probs)
	}
	if _, probs := parseUserdataMain([]byte("main_domain: [unclosed\n")); len(probs) != 1 {
		t.Errorf("bad YAML: %v", probs)
	}
	dbs, probs := parseDBMap([]byte(`{"MYSQL": {"dbs": {"a_b": {}, "a_a": 1}}, "PGSQL": {"dbs": {"a_pg": {}}}, "version": 3}`))
	if len(probs) != 0 || !slices.Equal(dbs, []string{"a_a", "a_b", "a_pg"}) {
		t.Errorf("parseDBMap = %v, %v", dbs, probs)
	}
	if _, probs := parseDBMap([]byte("{\n\"MYSQL\": ")); len(probs) != 1 || probs[0].line != 2 {
		t.Errorf("bad database map: %v", probs)
	}
}

// FuzzReadArchive: no input makes the archive reader panic, exceed its
// limits, or keep a path that is not a valid relative path.
func FuzzReadArchive(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0})
	f.Add(bytes.Repeat([]byte{0}, 1024))
	f.Add(tarOf(f, map[string]string{"cpmove-a/cp/a": "USER=a\nDNS=a.test\n", "cpmove-a/shadow": "$6$x$y", "../x": "y"}))
	lim := Limits{MaxEntries: 50, MaxFileSize: 1 << 10, MaxTotal: 4 << 10}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := readArchive(bytes.NewReader(data), lim)
		if err != nil {
			return
		}
		var total int
		for p, b := range a.fs.files {
			if !fs.ValidPath(p) || strings.Contains(p, "..") {
				t.Fatalf("kept %q", p)
			}
			total += len(b)
		}
		if total > int(lim.MaxTotal) {
			t.Fatalf("kept %d bytes", total)
		}
	})
}

// FuzzParseFiles: no file makes a parser panic.
func FuzzParseFiles(f *testing.F) {
	f.Add([]byte("USER=a\nDNS=a.test\n"))
	f.Add([]byte("info:$6$salt$hash:19700::::::\nbad\n"))
	f.Add([]byte(`{"tokens":{"` + strings.Repeat("ab", 64) + `":{"name":"x","whitelist_ips":["1.2.3.4"]}}}`))
	f.Add([]byte("main_domain: a.test\nsub_domains: [b.a.test]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		parseCPUser(data)
		parseShadow(data)
		parsePairs(data)
		parseUserdataMain(data)
		parseTokens(data)
		parseDBMap(data)
	})
}

func tarOf(tb testing.TB, files map[string]string) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(files[name]))}); err != nil {
			tb.Fatal(err)
		}
		if _, err := tw.Write([]byte(files[name])); err != nil {
			tb.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}
