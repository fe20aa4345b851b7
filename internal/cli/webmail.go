package cli

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/uapid/uapid/internal/app"
	"github.com/uapid/uapid/internal/config"
	"github.com/uapid/uapid/internal/mailstack"
	"github.com/uapid/uapid/internal/server"
	"github.com/uapid/uapid/internal/session"
	"github.com/uapid/uapid/internal/tlsutil"
	"github.com/uapid/uapid/internal/uapi"
)

const webmailUsage = `usage: uapid webmail config|demo [options]

  config   write the Dovecot and Roundcube configuration that makes uapid
           their authority, and the secrets uapid needs for them
  demo     run uapid (with --dev's demo data), Dovecot and Roundcube wired
           together on free loopback ports, until interrupted

See docs/webmail.md.
`

func webmailCmd(args []string, env *Env) error {
	if len(args) == 0 {
		return usageErr("webmail needs a subcommand\n\n%s", webmailUsage)
	}
	switch args[0] {
	case "config":
		return webmailConfig(args[1:], env)
	case "demo":
		return webmailDemo(args[1:], env)
	case "help", "-h", "--help":
		fmt.Fprint(env.Stdout, webmailUsage)
		return nil
	}
	return usageErr("unknown webmail subcommand %q\n\n%s", args[0], webmailUsage)
}

// newSecret is a secret for a configuration file: 26 characters of
// crypto/rand (130 bits).
func newSecret() string { return rand.Text() }

// webmailConfig writes the files of docs/webmail.md into a new directory.
func webmailConfig(args []string, env *Env) error {
	fs := flag.NewFlagSet("uapid webmail config", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	out := fs.String("out", "", "directory to create and write the files into (required)")
	uapidURL := fs.String("uapid-url", "", "uapid's Webmail address as Dovecot and Roundcube reach it, e.g. https://mail.example.com:2096 (required)")
	rcURL := fs.String("roundcube-url", "", "Roundcube's public address, e.g. https://mail.example.com/roundcube/ (required)")
	caFile := fs.String("ca-file", "", "PEM file of uapid's certificate or its CA, for Dovecot and Roundcube (default: the system's CAs)")
	imapHost := fs.String("imap-host", "localhost:143", "Dovecot's address for Roundcube")
	smtpHost := fs.String("smtp-host", "localhost:587", "where Roundcube sends mail")
	dovecotDir := fs.String("dovecot-dir", "/etc/dovecot", "Dovecot's configuration directory on the mail server")
	secretDir := fs.String("secret-dir", "/etc/uapid", "where uapid will read the secret files from")
	clientID := fs.String("client-id", "roundcube", "Roundcube's OAuth client id")
	rsName := fs.String("resource-server", "dovecot", "Dovecot's resource server name")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: uapid webmail config --out DIR --uapid-url URL --roundcube-url URL [options]\n\n")
		fs.PrintDefaults()
	}
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr("webmail config takes no arguments (got %q)", pos[0])
	}
	if *out == "" || *uapidURL == "" || *rcURL == "" {
		return usageErr("webmail config needs --out, --uapid-url and --roundcube-url")
	}
	redirect, err := redirectURI(*rcURL)
	if err != nil {
		return usageErr("--roundcube-url: %v", err)
	}
	if *caFile != "" && !filepath.IsAbs(*caFile) {
		return usageErr("--ca-file must be an absolute path (Dovecot and Roundcube read it)")
	}
	w := mailstack.Wiring{UapidURL: strings.TrimSuffix(*uapidURL, "/"), CAFile: *caFile,
		ResourceServer: *rsName, ResourceSecret: newSecret(), ClientID: *clientID, ClientSecret: newSecret()}
	if err := w.Check(); err != nil {
		return usageErr("%v", err)
	}
	dovecot, err := mailstack.DovecotFiles(w, *dovecotDir)
	if err != nil {
		return err
	}
	rc, err := mailstack.RoundcubeConfig(w, mailstack.RoundcubeSettings{IMAPHost: *imapHost, SMTPHost: *smtpHost, DESKey: rand.Text()[:24]})
	if err != nil {
		return err
	}
	plugin, err := mailstack.PluginFiles()
	if err != nil {
		return err
	}
	files := map[string]mailstack.File{
		"uapid/" + *clientID + ".secret": {Text: w.ClientSecret + "\n", Secret: true},
		"uapid/" + *rsName + ".secret":   {Text: w.ResourceSecret + "\n", Secret: true},
		"roundcube/config.inc.php":       rc,
	}
	for name, f := range dovecot {
		files["dovecot/"+name] = f
	}
	for name, f := range plugin {
		files["roundcube/plugins/uapid/"+name] = f
	}
	if err := os.Mkdir(*out, 0o700); err != nil {
		return fmt.Errorf("cannot create %s (it must not exist yet): %v", *out, errors.Unwrap(err))
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		f := files[name]
		p := filepath.Join(*out, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if f.Secret {
			mode = 0o600
		}
		if err := os.WriteFile(p, []byte(f.Text), mode); err != nil {
			return err
		}
	}
	p := func(format string, a ...any) { fmt.Fprintf(env.Stdout, format+"\n", a...) }
	p("Wrote into %s (secrets with mode 0600):", *out)
	for _, name := range names {
		p("  %s", name)
	}
	p("")
	p("uapid: copy uapid/*.secret to %s and add to its configuration:", *secretDir)
	p("  --oauth-clients %s:%s/%s.secret:%s", *clientID, *secretDir, *clientID, redirect)
	p("  --resource-servers %s:%s/%s.secret", *rsName, *secretDir, *rsName)
	p("  --webmail-redirect %s", *rcURL)
	p("Dovecot: copy dovecot/* to %s (the .ext and .lua files root:dovecot, mode 0640), and in", *dovecotDir)
	p("  conf.d/10-auth.conf replace \"!include auth-system.conf.ext\" with \"!include auth-uapid.conf.ext\".")
	p("Roundcube: use roundcube/config.inc.php as /etc/roundcube/config.inc.php (root:www-data, 0640)")
	p("  and copy roundcube/plugins/uapid to /usr/share/roundcube/plugins/uapid.")
	return nil
}

// redirectURI is Roundcube's OAuth redirect URI for its public address.
func redirectURI(rc string) (string, error) {
	u, err := url.Parse(rc)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%q is not an http(s) URL without query", rc)
	}
	return strings.TrimSuffix(rc, "/") + "/index.php/login/oauth", nil
}

// webmailDemo runs uapid with --dev's data, Dovecot and Roundcube wired
// together on loopback until interrupted.
func webmailDemo(args []string, env *Env) error {
	fs := flag.NewFlagSet("uapid webmail demo", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	dir := fs.String("dir", "./uapid-webmail-demo", "directory for uapid's data, Dovecot, Roundcube and the mail (created if needed)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: uapid webmail demo [--dir DIR]\n\n")
		fs.PrintDefaults()
	}
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr("webmail demo takes no arguments (got %q)", pos[0])
	}
	if missing := mailstack.Missing(); len(missing) > 0 {
		return fmt.Errorf("the demo needs Dovecot and Roundcube from Debian; missing: %s\ninstall them with:\n  "+
			"echo 'roundcube-core roundcube/dbconfig-install boolean false' | debconf-set-selections\n  apt-get install -y --no-install-recommends %s",
			strings.Join(missing, ", "), mailstack.Packages)
	}
	root, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	w := mailstack.Wiring{ResourceServer: "dovecot", ResourceSecret: newSecret(), ClientID: "roundcube", ClientSecret: newSecret()}
	write := func(name, content string) (string, error) {
		p := filepath.Join(root, name)
		return p, os.WriteFile(p, []byte(content+"\n"), 0o600)
	}
	rcSecret, err := write("roundcube.secret", w.ClientSecret)
	if err != nil {
		return err
	}
	dcSecret, err := write("dovecot.secret", w.ResourceSecret)
	if err != nil {
		return err
	}
	rcPort, err := mailstack.FreePort()
	if err != nil {
		return err
	}
	rcBase := "http://127.0.0.1:" + strconv.Itoa(rcPort) + "/"
	vals := map[string]string{
		"data": filepath.Join(root, "uapid"), "dev": "true", "hostname": config.DevHost,
		"cpanel-addr": "127.0.0.1:0", "webmail-addr": "127.0.0.1:0", "whm-addr": "127.0.0.1:0",
		"oauth-clients":    "roundcube:" + rcSecret + ":" + mailstack.RedirectURI(rcPort),
		"resource-servers": "dovecot:" + dcSecret,
		"webmail-redirect": rcBase,
	}
	_, v := config.FlagSet("uapid webmail demo", io.Discard)
	for k, val := range vals {
		v.Set(k, val)
	}
	cfg, err := config.Load(v, env.Getenv)
	if err != nil {
		return err
	}
	return runServer(cfg, env, func(ctx context.Context, a *app.App, srv *server.Server) (func(), error) {
		port := srv.BoundPort(uapi.ServiceWebmail)
		w.UapidURL = "https://127.0.0.1:" + strconv.Itoa(port)
		w.CAFile = filepath.Join(cfg.DataDir, tlsutil.CertFile)
		sctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		d, err := mailstack.StartDovecot(sctx, w, mailstack.DovecotOptions{Dir: filepath.Join(root, "dovecot")})
		if err != nil {
			return nil, err
		}
		rc, err := mailstack.StartRoundcube(sctx, w, mailstack.RoundcubeOptions{Dir: filepath.Join(root, "roundcube"), Port: rcPort, IMAPAddr: d.IMAPAddr})
		if err != nil {
			d.Stop()
			return nil, err
		}
		mailbox := devLocal + "@" + devDomain
		// A message to read (once uapid serves: Dovecot asks it whether
		// the recipient exists).
		go func() {
			msg := "From: uapid demo <demo@uapid.invalid>\r\nTo: " + mailbox + "\r\nSubject: Welcome to Webmail through uapid\r\n\r\n" +
				"uapid logged you in to Roundcube without a password; Dovecot asked uapid about the token.\r\n"
			for range 50 {
				dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				err := mailstack.Deliver(dctx, d.LMTPAddr, "demo@uapid.invalid", mailbox, []byte(msg))
				cancel()
				if err == nil || ctx.Err() != nil {
					return
				}
				time.Sleep(200 * time.Millisecond)
			}
		}()
		r, secret, err := a.Sessions.Create(ctx, session.NewSession{User: mailbox, Account: devUser, Service: uapi.ServiceWebmail,
			Tag: session.TagMailUser, Creator: devUser, Method: "create_webmail_session_for_mail_user", Locale: "en"})
		if err != nil {
			rc.Stop()
			d.Stop()
			return nil, err
		}
		login := w.UapidURL + r.Token + "/login/?session=" + url.QueryEscape(secret)
		p := func(format string, a ...any) { fmt.Fprintf(env.Stdout, format+"\n", a...) }
		p("Webmail demo: uapid, Dovecot and Roundcube wired together (docs/webmail.md)")
		p("")
		p("  uapid Webmail   %s (self-signed certificate: accept it once)", w.UapidURL)
		p("  Roundcube       %s", rcBase)
		p("  IMAP            %s  (no TLS, loopback only; %s with $MAIL_PASS)", d.IMAPAddr, mailbox)
		p("  LMTP            %s", d.LMTPAddr)
		p("  files           %s", root)
		p("")
		p("Open this one-time login (valid for %s) in a browser on this machine: it ends in Roundcube's inbox", a.Config.LoginTTL)
		p("without a password prompt. Make more with the create_webmail_session_for_mail_user command above.")
		p("  %s", login)
		p("")
		p("Stop with Ctrl-C.")
		return func() {
			rc.Stop()
			d.Stop()
		}, nil
	})
}
