package mailstack

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPackagesEverywhere: CI installs the packages the stack runs, and the
// documentation's apt-get line names the same, with the preseed that keeps
// Debian's Roundcube from creating a database of its own.
func TestPackagesEverywhere(t *testing.T) {
	root := filepath.Join("..", "..")
	ci, err := os.ReadFile(filepath.Join(root, ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range strings.Fields(Packages) {
		if !strings.Contains(string(ci), " "+p) {
			t.Errorf(".ci/run does not install %s", p)
		}
	}
	doc, err := os.ReadFile(filepath.Join(root, "docs", "webmail.md"))
	if err != nil {
		t.Fatal(err)
	}
	const preseed = "'roundcube-core roundcube/dbconfig-install boolean false'"
	for _, text := range []struct{ name, text string }{{".ci/run", string(ci)}, {"docs/webmail.md", string(doc)}} {
		if !strings.Contains(text.text, preseed) {
			t.Errorf("%s lacks the preseed %q", text.name, preseed)
		}
	}
	if !strings.Contains(string(doc), "apt-get install -y --no-install-recommends "+Packages+"\n") {
		t.Errorf("docs/webmail.md does not show the apt-get line of %q", Packages)
	}
}

// TestWiringCheck refuses what would break the generated files.
func TestWiringCheck(t *testing.T) {
	good := Wiring{UapidURL: "https://mail.example.com:2096", ResourceServer: "dovecot", ResourceSecret: "s3cret-s3cret-s3cret",
		ClientID: "roundcube", ClientSecret: "an0ther-s3cret-s3cret"}
	if err := good.Check(); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(w *Wiring){
		"path":            func(w *Wiring) { w.UapidURL += "/uapid" },
		"trailing slash":  func(w *Wiring) { w.UapidURL += "/" },
		"scheme":          func(w *Wiring) { w.UapidURL = "imap://mail.example.com" },
		"userinfo":        func(w *Wiring) { w.UapidURL = "https://u:p@mail.example.com" },
		"no secret":       func(w *Wiring) { w.ResourceSecret = "" },
		"no client":       func(w *Wiring) { w.ClientID = "" },
		"quote in secret": func(w *Wiring) { w.ClientSecret = "a'b-c-d-e-f-g-h-i" },
		"newline in path": func(w *Wiring) { w.CAFile = "/etc/a\nb" },
	} {
		w := good
		mut(&w)
		if err := w.Check(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// A secret with URL-special characters stays intact in the
	// introspection URL.
	w := good
	w.ResourceSecret = "a/b?c#d@e%f:g+h"
	files, err := DovecotFiles(w, "/etc/dovecot")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(files["dovecot-oauth2.conf.ext"].Text, "introspection_url = https://dovecot:a%2Fb%3Fc%23d%40e%25f%3Ag+h@mail.example.com:2096/oauth2/introspect") {
		t.Errorf("introspection URL:\n%s", files["dovecot-oauth2.conf.ext"].Text)
	}
}
