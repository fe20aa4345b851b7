// Package mailstack wires Dovecot and Roundcube (the Debian 12 packages) to
// a uapid server, as their authority (docs/webmail.md): it renders their
// configuration from the files of packaging/webmail, and starts private
// instances (dovecot -F, php -S) on loopback ports in a directory of their
// own, which it stops by PID. `uapid webmail config` writes the
// configuration for a server; `uapid webmail demo` and the end-to-end tests
// run the private instances.
package mailstack

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"text/template"

	"github.com/uapid/uapid/packaging/webmail"
)

// Wiring is what Dovecot and Roundcube need to know of uapid.
type Wiring struct {
	// UapidURL is uapid's Webmail listener as Dovecot and Roundcube reach
	// it: "https://host:port", no trailing slash.
	UapidURL string
	// CAFile is a PEM file with uapid's certificate or the CA that issued
	// it; "" trusts the system's CAs.
	CAFile string
	// ResourceServer and ResourceSecret are Dovecot's credentials at uapid
	// (--resource-servers NAME:SECRET_FILE).
	ResourceServer, ResourceSecret string
	// ClientID and ClientSecret are Roundcube's (--oauth-clients).
	ClientID, ClientSecret string
}

// Check reports the first thing wrong with w.
func (w Wiring) Check() error {
	u, err := url.Parse(w.UapidURL)
	switch {
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil:
		return fmt.Errorf("uapid's URL %q is not http(s)://host[:port] without a path", w.UapidURL)
	case w.ResourceServer == "" || w.ResourceSecret == "":
		return fmt.Errorf("the resource server name and secret (Dovecot's) are required")
	case w.ClientID == "" || w.ClientSecret == "":
		return fmt.Errorf("the OAuth client id and secret (Roundcube's) are required")
	case strings.ContainsAny(w.ResourceSecret+w.ClientSecret+w.ClientID+w.CAFile, "'\"\\\n\r"):
		return fmt.Errorf("secrets, ids and paths may not contain quotes, backslashes or line breaks")
	}
	return nil
}

// DovecotFiles are the Dovecot files of a server, for its configuration
// directory confDir (e.g. /etc/dovecot): auth-uapid.conf.ext (included
// instead of auth-system.conf.ext), dovecot-oauth2.conf.ext and
// uapid-auth.lua. The last two hold Dovecot's secret.
func DovecotFiles(w Wiring, confDir string) (map[string]File, error) {
	if err := w.Check(); err != nil {
		return nil, err
	}
	intro, err := url.Parse(w.UapidURL + "/oauth2/introspect")
	if err != nil {
		return nil, err
	}
	intro.User = url.UserPassword(w.ResourceServer, w.ResourceSecret)
	data := map[string]any{
		"ConfDir":          confDir,
		"CAFile":           w.CAFile,
		"UapidURL":         w.UapidURL,
		"IntrospectionURL": intro.String(),
		"Authorization":    "Basic " + base64.StdEncoding.EncodeToString([]byte(w.ResourceServer+":"+w.ResourceSecret)),
	}
	out := map[string]File{}
	for name, secret := range map[string]bool{"auth-uapid.conf.ext": false, "dovecot-oauth2.conf.ext": true, "uapid-auth.lua": true} {
		text, err := render("dovecot/"+name+".tmpl", data)
		if err != nil {
			return nil, err
		}
		out[name] = File{Text: text, Secret: secret}
	}
	return out, nil
}

// RoundcubeSettings are what a Roundcube configuration needs besides the
// wiring.
type RoundcubeSettings struct {
	// IMAPHost is Dovecot's address for Roundcube ("localhost:143",
	// "ssl://mail.example.com:993").
	IMAPHost string
	// SMTPHost is where Roundcube sends mail ("" for none).
	SMTPHost string
	// DESKey is Roundcube's key for what it keeps encrypted in its
	// session (24 characters).
	DESKey string
	// DBPath, LogDir and TempDir make a self-contained Roundcube with an
	// SQLite database; when DBPath is "" the configuration uses Debian's
	// database settings (/etc/roundcube/debian-db-roundcube.php).
	DBPath, LogDir, TempDir string
	// TokenURL is where Roundcube asks for tokens ("": uapid's token
	// endpoint; tests put a proxy there that records the tokens).
	TokenURL string
}

// RoundcubeConfig is Roundcube's config.inc.php for w and s.
func RoundcubeConfig(w Wiring, s RoundcubeSettings) (File, error) {
	if err := w.Check(); err != nil {
		return File{}, err
	}
	if len(s.DESKey) != 24 || strings.ContainsAny(s.DESKey+s.IMAPHost+s.SMTPHost+s.DBPath+s.LogDir+s.TempDir+s.TokenURL, "'\\\n\r") {
		return File{}, fmt.Errorf("the Roundcube settings must be plain text (and the key 24 characters)")
	}
	verify := "true"
	if w.CAFile != "" {
		verify = "'" + w.CAFile + "'"
	}
	tokenURL := s.TokenURL
	if tokenURL == "" {
		tokenURL = w.UapidURL + "/oauth2/token"
	}
	text, err := render("roundcube/config.inc.php.tmpl", map[string]any{
		"UapidURL": w.UapidURL, "TokenURL": tokenURL, "ClientID": w.ClientID, "ClientSecret": w.ClientSecret, "VerifyPeer": verify,
		"IMAPHost": s.IMAPHost, "SMTPHost": s.SMTPHost, "DESKey": s.DESKey,
		"DBPath": s.DBPath, "LogDir": s.LogDir, "TempDir": s.TempDir,
	})
	return File{Text: text, Secret: true}, err
}

// PluginFiles are the files of the Roundcube plugin "uapid", by their path
// below the plugin's directory.
func PluginFiles() (map[string]File, error) {
	sub, err := fs.Sub(webmail.Files, "roundcube/uapid")
	if err != nil {
		return nil, err
	}
	out := map[string]File{}
	err = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(sub, p)
		out[p] = File{Text: string(b)}
		return err
	})
	return out, err
}

// File is one file to write: its text, and whether it holds a secret
// (then it must not be world-readable).
type File struct {
	Text   string
	Secret bool
}

func render(name string, data any) (string, error) {
	t, err := template.New(name).Option("missingkey=error").ParseFS(webmail.Files, name)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, strings.TrimPrefix(name[strings.LastIndex(name, "/")+1:], ""), data); err != nil {
		return "", fmt.Errorf("render %s: %w", name, err)
	}
	return b.String(), nil
}
