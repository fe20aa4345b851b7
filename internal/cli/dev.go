package cli

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"

	"github.com/uapid/uapid/internal/app"
	"github.com/uapid/uapid/internal/auth"
	"github.com/uapid/uapid/internal/passwd"
	"github.com/uapid/uapid/internal/server"
	"github.com/uapid/uapid/internal/store"
	"github.com/uapid/uapid/internal/uapi"
)

// devSetup adds (or refreshes) the demo account of `serve --dev` with fresh
// secrets and prints them with a ready-to-paste curl line. The secrets go to
// standard output only, never to the log.
func devSetup(ctx context.Context, a *app.App, srv *server.Server, env *Env) error {
	const user, domain, local = "demo", "demo.test", "info"
	acctPass := "Demo-" + rand.Text()[:12]
	mailPass := "Mail-" + rand.Text()[:12]
	token := auth.NewTokenSecret()
	acctHash, err := passwd.Hash(acctPass)
	if err != nil {
		return err
	}
	mailHash, err := passwd.Hash(mailPass)
	if err != nil {
		return err
	}
	if err := a.Dir.PutAccount(ctx, store.Account{
		User: user, PasswordHash: acctHash, Domains: []string{domain}, Locale: "en",
		Owner: store.RootUser, Databases: []string{"demo_wp"},
	}); err != nil {
		return fmt.Errorf("dev account: %w", err)
	}
	if err := a.Dir.PutMailbox(ctx, store.Mailbox{Address: local + "@" + domain, Account: user, PasswordHash: mailHash}); err != nil {
		return fmt.Errorf("dev mailbox: %w", err)
	}
	if err := a.Dir.PutToken(ctx, store.Token{User: user, Name: "dev", Hash: auth.HashToken(token)}); err != nil {
		return fmt.Errorf("dev token: %w", err)
	}
	cp := srv.BoundPort(uapi.ServiceCPanel)
	wm := srv.BoundPort(uapi.ServiceWebmail)
	var b strings.Builder
	fmt.Fprintf(&b, "\n--dev: demo data (new secrets at every start)\n")
	fmt.Fprintf(&b, "  cPanel account  %s / %s   (domain %s)\n", user, acctPass, domain)
	fmt.Fprintf(&b, "  mailbox         %s@%s / %s\n", local, domain, mailPass)
	fmt.Fprintf(&b, "  API token       %s:%s\n\n", user, token)
	if cp != 0 {
		fmt.Fprintf(&b, "Create a one-time Webmail session:\n  curl -sk -H 'Authorization: cpanel %s:%s' 'https://127.0.0.1:%d/execute/Session/create_webmail_session_for_mail_user?login=%s&domain=%s'\n",
			user, token, cp, local, domain)
		if wm != 0 {
			fmt.Fprintf(&b, "Then open https://127.0.0.1:%d<token>/login/?session=<session, URL-encoded> in a browser on this machine.\n", wm)
		}
	}
	fmt.Fprintln(&b)
	_, err = fmt.Fprint(env.Stdout, b.String())
	return err
}
