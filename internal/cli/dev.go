package cli

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/uapid/uapid/internal/app"
	"github.com/uapid/uapid/internal/auth"
	"github.com/uapid/uapid/internal/fixture"
	"github.com/uapid/uapid/internal/server"
	"github.com/uapid/uapid/internal/store"
	"github.com/uapid/uapid/internal/uapi"
)

// The demo data of `serve --dev`: root, a reseller owning an account, and
// the account demo with a mailbox and an API token. The README's examples
// use these names.
const (
	devReseller       = "reseller"
	devResellerDomain = "reseller.test"
	devOwned          = "alice" // owned by devReseller
	devOwnedDomain    = "alice.test"
	devUser           = "demo"
	devDomain         = "demo.test"
	devLocal          = "info" // the mailbox info@demo.test
	devTokenName      = "dev"
)

// devSecrets are the credentials `serve --dev` sets at every start. The
// field comments name the shell variable the banner exports each one as.
type devSecrets struct {
	rootPass     string // ROOT_PASS
	rootToken    string // ROOT_TOKEN
	resellerPass string // RESELLER_PASS
	ownedPass    string // ALICE_PASS
	userPass     string // DEMO_PASS
	userToken    string // DEMO_TOKEN
	mailPass     string // MAIL_PASS
}

func newDevSecrets() devSecrets {
	pw := func(prefix string) string { return prefix + "-" + rand.Text()[:12] }
	return devSecrets{
		rootPass:     pw("Root"),
		rootToken:    auth.NewTokenSecret(),
		resellerPass: pw("Res"),
		ownedPass:    pw("Alice"),
		userPass:     pw("Demo"),
		userToken:    auth.NewTokenSecret(),
		mailPass:     pw("Mail"),
	}
}

// devFixture is the demo data as a fixture, so that --dev writes the store
// the way --fixture and `uapid import` do (idempotent; nothing else is
// touched). Existing accounts of these names get the fixture's settings
// and the new secrets.
func devFixture(s devSecrets) *fixture.Fixture {
	return &fixture.Fixture{
		Name: "--dev",
		Root: &fixture.Root{Password: s.rootPass, Tokens: []fixture.Token{{Name: devTokenName, Token: s.rootToken}}},
		Accounts: []fixture.Account{
			{User: devReseller, Password: s.resellerPass, Domains: []string{devResellerDomain}, Locale: "en",
				Owner: store.RootUser, Reseller: true},
			{User: devOwned, Password: s.ownedPass, Domains: []string{devOwnedDomain}, Locale: "en", Owner: devReseller},
			{User: devUser, Password: s.userPass, Domains: []string{devDomain}, Locale: "en", Owner: store.RootUser,
				Databases: []string{devUser + "_wp"},
				Tokens:    []fixture.Token{{Name: devTokenName, Token: s.userToken}},
				Mailboxes: []fixture.Mailbox{{Address: devLocal + "@" + devDomain, Password: s.mailPass}}},
		},
	}
}

// devSetup writes the demo data of `serve --dev` with fresh secrets and
// prints them with ready-to-paste commands (devBanner). The secrets go to
// standard output only, never to the log.
func devSetup(ctx context.Context, a *app.App, srv *server.Server, env *Env) error {
	s := newDevSecrets()
	if err := devFixture(s).Apply(ctx, a.Dir); err != nil {
		// A conflict with data already in the store, such as another
		// account owning demo.test. The fixture's "file:line" means
		// nothing here.
		var fe *fixture.Error
		if errors.As(err, &fe) {
			return fmt.Errorf("--dev cannot add its demo data to this store: %s", fe.Reason)
		}
		return fmt.Errorf("--dev: %w", err)
	}
	base := func(service string) string {
		p := srv.BoundPort(service)
		if p == 0 {
			return ""
		}
		return "https://" + net.JoinHostPort(a.Config.Hostname, strconv.Itoa(p))
	}
	return devBanner(env.Stdout, s, base(uapi.ServiceCPanel), base(uapi.ServiceWebmail), base(uapi.ServiceWHM))
}

// devBanner prints the demo credentials, `export` lines for the shell
// variables the README's examples use (base URLs and secrets), and the
// commands of the Quick start. A base URL is "" when its listener is off;
// its variable and commands are left out then.
//
// The README-examples test parses this banner: keep "export NAME=value"
// lines with values that need no quoting.
func devBanner(w io.Writer, s devSecrets, cpanel, webmail, whm string) error {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("")
	p("--dev: demo data, with new secrets at every start (never use --dev in production)")
	p("")
	tw := tabwriter.NewWriter(&b, 0, 4, 3, ' ', 0)
	fmt.Fprintf(tw, "  WHM root\troot / %s\tAPI token root:%s\n", s.rootPass, s.rootToken)
	fmt.Fprintf(tw, "  reseller\t%s / %s\towns the account %s\n", devReseller, s.resellerPass, devOwned)
	fmt.Fprintf(tw, "  cPanel account\t%s / %s\tdomain %s, owned by %s\n", devOwned, s.ownedPass, devOwnedDomain, devReseller)
	fmt.Fprintf(tw, "  cPanel account\t%s / %s\tdomain %s, API token %s:%s\n", devUser, s.userPass, devDomain, devUser, s.userToken)
	fmt.Fprintf(tw, "  mailbox\t%s@%s / %s\n", devLocal, devDomain, s.mailPass)
	tw.Flush()
	p("")
	p("Paste into the shell you try uapid in (the README's examples use these variables):")
	p("")
	var urls []string
	for _, u := range []struct{ name, url string }{{"CPANEL", cpanel}, {"WEBMAIL", webmail}, {"WHM", whm}} {
		if u.url != "" {
			urls = append(urls, u.name+"="+u.url)
		}
	}
	if len(urls) > 0 {
		p("export %s", strings.Join(urls, " "))
	}
	p("export ROOT_PASS=%s ROOT_TOKEN=%s RESELLER_PASS=%s ALICE_PASS=%s", s.rootPass, s.rootToken, s.resellerPass, s.ownedPass)
	p("export DEMO_PASS=%s DEMO_TOKEN=%s MAIL_PASS=%s", s.userPass, s.userToken, s.mailPass)
	p("")
	mailbox := "login=" + devLocal + "&domain=" + devDomain
	if cpanel != "" {
		p("# A one-time Webmail session for %s@%s, asked for by the account %s with its API token:", devLocal, devDomain, devUser)
		p(`curl -sk -H "Authorization: cpanel %s:$DEMO_TOKEN" "$CPANEL/execute/Session/create_webmail_session_for_mail_user?%s"`, devUser, mailbox)
		p("# The same, only if the mailbox's password is right (check_password); keep the answer in R:")
		p(`R=$(curl -sk -H "Authorization: cpanel %s:$DEMO_TOKEN" --data-urlencode "password=$MAIL_PASS" \`, devUser)
		p(`  "$CPANEL/execute/Session/create_webmail_session_for_mail_user_check_password?%s"); echo "$R"`, mailbox)
		if webmail != "" {
			p("# Log in with that session, exactly once (302; a second try answers 401):")
			p(`SESSION=$(echo "$R" | sed -E 's/.*"session":"([^"]*)".*/\1/'); CPSESS=$(echo "$R" | sed -E 's/.*"token":"([^"]*)".*/\1/')`)
			p(`curl -sk -c jar -o /dev/null -w '%%{http_code} %%{redirect_url}\n' --data-urlencode "session=$SESSION" "$WEBMAIL$CPSESS/login/"`)
		}
	}
	if whm != "" {
		p(`# WHM single sign-on: a one-time login URL ("url") for %s's cPanel, as root; a browser here opens it:`, devOwned)
		p(`curl -sk -u "root:$ROOT_PASS" "$WHM/json-api/create_user_session?api.version=1&user=%s&service=cpaneld"`, devOwned)
	}
	p("")
	_, err := io.WriteString(w, b.String())
	return err
}
