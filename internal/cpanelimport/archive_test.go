package cpanelimport_test

import (
	"archive/tar"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/uapid/uapid/internal/cpanelimport"
	"github.com/uapid/uapid/internal/cpanelimport/cpaneltest"
	"github.com/uapid/uapid/internal/importer"
)

// TestArchiveSafety: unsafe entries are refused and reported, nothing is
// read from outside the archive (nothing is written anywhere), damaged
// archives and archives beyond the limits give nothing at all.
func TestArchiveSafety(t *testing.T) {
	b := sample(t)
	files := b.ArchiveFiles("alice")
	outside := t.TempDir()
	// What a link or a "../" entry would reach if it were followed or
	// extracted: a shadow file with a mailbox of its own.
	evilShadow := "evil:$6$salt$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA:19700::::::\n"
	cpaneltest.WriteFile(t, filepath.Join(outside, "shadow"), []byte(evilShadow))
	base := cpaneltest.Entries("cpmove-alice", files)
	without := func(name string) []cpaneltest.Entry {
		var out []cpaneltest.Entry
		for _, e := range base {
			if e.Name != name {
				out = append(out, e)
			}
		}
		return out
	}
	good := cpaneltest.Tar(t, base, true)
	small := cpanelimport.Options{Limits: cpanelimport.Limits{MaxEntries: 1000, MaxFileSize: 4096, MaxTotal: 64 << 10}}

	for _, c := range []struct {
		name    string
		data    []byte
		opt     cpanelimport.Options
		imports bool // alice comes over
		where   string
		reason  []string
		check   func(t *testing.T, b importer.Batch)
	}{
		{"truncated", good[:len(good)/2], cpanelimport.Options{}, false, "", []string{"damaged", "truncated", "nothing of it was imported"}, nil},
		{"truncated, uncompressed", func() []byte {
			plain := cpaneltest.Tar(t, base, false)
			return plain[:len(plain)-2048]
		}(), cpanelimport.Options{}, false, "", []string{"damaged", "nothing of it was imported"}, nil},
		{"dot-dot entry", cpaneltest.Tar(t, append(base, cpaneltest.Entry{Name: "cpmove-alice/../../../" + outside + "/x/shadow", Data: []byte(evilShadow)},
			cpaneltest.Entry{Name: "cpmove-alice/homedir/etc/../../../etc/alice.test/shadow", Data: []byte(evilShadow)}), true),
			cpanelimport.Options{}, true, "cpmove-alice/../../..", []string{"“..” component", "ignored"}, nil},
		{"absolute entry", cpaneltest.Tar(t, append(base, cpaneltest.Entry{Name: "/etc/shadow", Data: []byte(evilShadow)}), true),
			cpanelimport.Options{}, true, "/etc/shadow", []string{"absolute"}, nil},
		{"symbolic link", cpaneltest.Tar(t, append(without("cpmove-alice/homedir/etc/alice.test/shadow"),
			cpaneltest.Entry{Name: "cpmove-alice/homedir/etc/alice.test/shadow", Type: tar.TypeSymlink, Linkname: filepath.Join(outside, "shadow")}), true),
			cpanelimport.Options{}, true, "cpmove-alice/homedir/etc/alice.test/shadow", []string{"symbolic link", "ignored"}, func(t *testing.T, b importer.Batch) {
				if ms := b.Accounts[0].Mailboxes; len(ms) != 1 || ms[0].Address != "sales@shop.test" {
					t.Errorf("mailboxes %+v", ms)
				}
			}},
		{"symbolic link to the account's hash", cpaneltest.Tar(t, append(without("cpmove-alice/shadow"),
			cpaneltest.Entry{Name: "cpmove-alice/shadow", Type: tar.TypeSymlink, Linkname: "/etc/shadow"}), true),
			cpanelimport.Options{}, true, "cpmove-alice/shadow", []string{"symbolic link"}, func(t *testing.T, b importer.Batch) {
				if h := b.Accounts[0].PasswordHash; h != "" {
					t.Errorf("hash %q", h)
				}
			}},
		{"hard link", cpaneltest.Tar(t, append(without("cpmove-alice/shadow"),
			cpaneltest.Entry{Name: "cpmove-alice/shadow", Type: tar.TypeLink, Linkname: "cpmove-alice/homedir/etc/alice.test/shadow"}), true),
			cpanelimport.Options{}, true, "cpmove-alice/shadow", []string{"hard link"}, nil},
		{"device", cpaneltest.Tar(t, append(without("cpmove-alice/userdata/main"),
			cpaneltest.Entry{Name: "cpmove-alice/userdata/main", Type: tar.TypeChar}), true),
			cpanelimport.Options{}, true, "cpmove-alice/userdata/main", []string{"not a regular file"}, nil},
		{"links elsewhere are not read", cpaneltest.Tar(t, append(base,
			cpaneltest.Entry{Name: "cpmove-alice/homedir/www", Type: tar.TypeSymlink, Linkname: "public_html"}), true),
			cpanelimport.Options{}, true, "", nil, func(t *testing.T, b importer.Batch) {
				if len(b.Problems) != 1 { // alice/limited only
					t.Errorf("problems %v", problems(b))
				}
			}},
		{"too many entries", good, cpanelimport.Options{Limits: cpanelimport.Limits{MaxEntries: 5, MaxFileSize: 1 << 20, MaxTotal: 1 << 20}},
			false, "", []string{"more than 5 entries"}, nil},
		{"file too large", cpaneltest.Tar(t, append(base, cpaneltest.Entry{Name: "cpmove-alice/suspended/alice", Data: []byte(strings.Repeat("x", 5000))}), true),
			small, true, "cpmove-alice/suspended/alice", []string{"larger than 4096 bytes", "ignored"}, func(t *testing.T, b importer.Batch) {
				if b.Accounts[0].Suspended {
					t.Error("the ignored file suspended the account")
				}
			}},
		{"total too large", func() []byte {
			es := base
			for i := range 20 {
				es = append(es, cpaneltest.Entry{Name: "cpmove-alice/homedir/etc/d" + string(rune('a'+i)) + ".test/shadow", Data: []byte(strings.Repeat("y", 4000))})
			}
			return cpaneltest.Tar(t, es, true)
		}(), small, false, "", []string{"exceed 65536 bytes", "nothing of it was imported"}, nil},
		{"skipped files do not count", cpaneltest.Tar(t, append(base, cpaneltest.Entry{Name: "cpmove-alice/homedir/public_html/big.iso", Data: make([]byte, 200<<10)}), true),
			small, true, "", nil, nil},
		{"two accounts", cpaneltest.Tar(t, append(base, cpaneltest.Entries("cpmove-bob", b.ArchiveFiles("bob"))...), true),
			cpanelimport.Options{}, false, "", []string{"several top directories"}, nil},
		{"two account files", cpaneltest.Tar(t, append(base, cpaneltest.Entry{Name: "cpmove-alice/cp/bob", Data: []byte("USER=bob\nDNS=bob.test\n")}), true),
			cpanelimport.Options{}, false, "cpmove-alice/cp", []string{"several account files"}, nil},
		{"no account file", cpaneltest.Tar(t, without("cpmove-alice/cp/alice"), true),
			cpanelimport.Options{}, false, "", []string{"no cp/USER file"}, nil},
		{"empty", cpaneltest.Tar(t, nil, true), cpanelimport.Options{}, false, "", []string{"empty"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "cpmove-alice.tar.gz")
			cpaneltest.WriteFile(t, p, c.data)
			batch := cpanelimport.Read(p, c.opt)
			if got := len(batch.Accounts) == 1; got != c.imports {
				t.Errorf("alice imported = %v, want %v; problems:\n%s", got, c.imports, strings.Join(problems(batch), "\n"))
			}
			if c.reason != nil && !hasProblem(batch, importer.KindFile, "", c.where, c.reason...) {
				t.Errorf("no problem %q at %q:\n%s", c.reason, c.where, strings.Join(problems(batch), "\n"))
			}
			for _, a := range batch.Accounts {
				for _, m := range a.Mailboxes {
					if strings.HasPrefix(m.Address, "evil@") {
						t.Errorf("mailbox %s came from outside the archive", m.Address)
					}
				}
			}
			if c.check != nil && len(batch.Accounts) == 1 {
				c.check(t, batch)
			}
			// Nothing was written: the directory holds the archive only,
			// and nothing appeared next to the outside file.
			for _, d := range []string{dir, outside} {
				es, err := os.ReadDir(d)
				if err != nil || len(es) != 1 {
					t.Errorf("%s holds %v (%v)", d, es, err)
				}
			}
		})
	}
}
