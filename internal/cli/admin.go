package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/uapid/uapid/internal/app"
	"github.com/uapid/uapid/internal/audit"
	"github.com/uapid/uapid/internal/config"
	"github.com/uapid/uapid/internal/directory"
	"github.com/uapid/uapid/internal/fixture"
	"github.com/uapid/uapid/internal/passwd"
)

// adminFlags returns a flag set with the store options plus the command's
// own, and the store option values.
func adminFlags(name string, env *Env) (*flag.FlagSet, *config.Values) {
	fs, vals := config.FlagSet(name, env.Stderr)
	return fs, vals
}

func withApp(vals *config.Values, env *Env, f func(ctx context.Context, a *app.App) error) error {
	ctx := context.Background()
	a, err := openApp(ctx, vals, env, slog.LevelWarn)
	if err != nil {
		return err
	}
	defer a.Close()
	return f(ctx, a)
}

func importCmd(args []string, env *Env) error {
	fs, vals := adminFlags("uapid import", env)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErr("usage: uapid import FILE")
	}
	fx, err := fixture.Load(pos[0])
	if err != nil {
		return err
	}
	return withApp(vals, env, func(ctx context.Context, a *app.App) error {
		if err := fx.Apply(ctx, a.Dir); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "imported %s\n", pos[0])
		return nil
	})
}

// readSecret reads a password from standard input (--password-stdin: the
// first line) or from a prompt without echo when standard input is a
// terminal.
func readSecret(env *Env, fromStdin bool, prompt string) (string, error) {
	if !fromStdin {
		if f, ok := env.Stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			fmt.Fprint(env.Stderr, prompt)
			b, err := term.ReadPassword(int(f.Fd()))
			fmt.Fprintln(env.Stderr)
			if err != nil {
				return "", err
			}
			if len(b) == 0 {
				return "", usageErr("the password must not be empty")
			}
			return string(b), nil
		}
		return "", usageErr("no terminal to prompt on: pass the password with --password-stdin")
	}
	line, err := bufio.NewReader(env.Stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", usageErr("the password read from standard input is empty")
	}
	return line, nil
}

func accountCmd(args []string, env *Env) error {
	const usage = "usage: uapid account add USER --domain D [--domain D2] [--owner R] [--reseller] [--locale L] [--database DB] [--password-stdin] | list | suspend USER | unsuspend USER | remove USER | passwd USER [--password-stdin]"
	if len(args) == 0 || !slices.Contains([]string{"add", "list", "suspend", "unsuspend", "remove", "passwd"}, args[0]) {
		return usageErr(usage)
	}
	fs, vals := adminFlags("uapid account "+args[0], env)
	var domains, dbs multiFlag
	fs.Var(&domains, "domain", "domain (repeatable; the first is the main domain)")
	fs.Var(&dbs, "database", "database name (repeatable)")
	owner := fs.String("owner", directory.RootUser, "owner: root or a reseller")
	reseller := fs.Bool("reseller", false, "make the account a reseller")
	locale := fs.String("locale", "en", "locale")
	stdin := fs.Bool("password-stdin", false, "read the password from standard input")
	pos, err := parseArgs(fs, args[1:])
	if err != nil {
		return err
	}
	sub := args[0]
	if sub == "list" {
		return withApp(vals, env, func(ctx context.Context, a *app.App) error {
			accts, err := a.Dir.ListAccounts(ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "USER\tOWNER\tRESELLER\tSUSPENDED\tLOCALE\tDOMAINS")
			for _, ac := range accts {
				fmt.Fprintf(tw, "%s\t%s\t%t\t%t\t%s\t%s\n", ac.User, ac.Owner, ac.Reseller, ac.Suspended, ac.Locale, strings.Join(ac.Domains, ","))
			}
			return tw.Flush()
		})
	}
	if len(pos) != 1 {
		return usageErr(usage)
	}
	user := strings.ToLower(pos[0])
	switch sub {
	case "add":
		if len(domains) == 0 {
			return usageErr("account add needs at least one --domain")
		}
		pw, err := readSecret(env, *stdin, "Password for "+user+": ")
		if err != nil {
			return err
		}
		hash, err := passwd.Hash(pw)
		if err != nil {
			return err
		}
		return withApp(vals, env, func(ctx context.Context, a *app.App) error {
			if _, err := a.Dir.GetAccount(ctx, user); err == nil {
				return fmt.Errorf("the account “%s” already exists", user)
			}
			if err := a.Dir.PutAccount(ctx, directory.Account{User: user, PasswordHash: hash, Domains: domains,
				Locale: *locale, Owner: *owner, Reseller: *reseller, Databases: dbs}); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "account %s added\n", user)
			return nil
		})
	case "suspend", "unsuspend":
		return withApp(vals, env, func(ctx context.Context, a *app.App) error {
			if err := a.Dir.SetAccountSuspended(ctx, user, sub == "suspend"); err != nil {
				return err
			}
			msg := fmt.Sprintf("account %s %sed", user, sub)
			if sub == "suspend" {
				n, err := a.Sessions.EndAccount(ctx, user, "", "account suspended")
				if err != nil {
					return err
				}
				msg += fmt.Sprintf("; %d session(s) ended", n)
			}
			fmt.Fprintln(env.Stdout, msg)
			return nil
		})
	case "remove":
		return withApp(vals, env, func(ctx context.Context, a *app.App) error {
			if err := a.Dir.RemoveAccount(ctx, user); err != nil {
				return err
			}
			n, err := a.Sessions.EndAccount(ctx, user, "", "account removed")
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "account %s removed; %d session(s) ended\n", user, n)
			return nil
		})
	case "passwd":
		pw, err := readSecret(env, *stdin, "New password for "+user+": ")
		if err != nil {
			return err
		}
		hash, err := passwd.Hash(pw)
		if err != nil {
			return err
		}
		return withApp(vals, env, func(ctx context.Context, a *app.App) error {
			if err := a.Dir.SetAccountPasswordHash(ctx, user, hash); err != nil {
				return err
			}
			n, err := a.Sessions.EndAccount(ctx, user, "", "password changed")
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "password of %s changed; %d session(s) ended\n", user, n)
			return nil
		})
	}
	return usageErr(usage)
}

func mailboxCmd(args []string, env *Env) error {
	const usage = "usage: uapid mailbox add ADDRESS --account USER [--password-stdin] | list [--account USER] | suspend ADDRESS | unsuspend ADDRESS | remove ADDRESS | passwd ADDRESS [--password-stdin]"
	if len(args) == 0 || !slices.Contains([]string{"add", "list", "suspend", "unsuspend", "remove", "passwd"}, args[0]) {
		return usageErr(usage)
	}
	fs, vals := adminFlags("uapid mailbox "+args[0], env)
	account := fs.String("account", "", "owning account (default: the owner of the address's domain)")
	stdin := fs.Bool("password-stdin", false, "read the password from standard input")
	pos, err := parseArgs(fs, args[1:])
	if err != nil {
		return err
	}
	sub := args[0]
	if sub == "list" {
		return withApp(vals, env, func(ctx context.Context, a *app.App) error {
			ms, err := a.Dir.ListMailboxes(ctx, strings.ToLower(*account))
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ADDRESS\tACCOUNT\tLOGIN SUSPENDED")
			for _, m := range ms {
				fmt.Fprintf(tw, "%s\t%s\t%t\n", m.Address, m.Account, m.SuspendedLogin)
			}
			return tw.Flush()
		})
	}
	if len(pos) != 1 {
		return usageErr(usage)
	}
	addr := strings.ToLower(pos[0])
	_, domain, ok := strings.Cut(addr, "@")
	if !ok {
		return usageErr("“%s” is not an address of the form login@domain", pos[0])
	}
	owner := func(ctx context.Context, a *app.App) (string, error) {
		m, err := a.Dir.GetMailbox(ctx, addr)
		if err != nil {
			return "", err
		}
		return m.Account, nil
	}
	switch sub {
	case "add":
		pw, err := readSecret(env, *stdin, "Password for "+addr+": ")
		if err != nil {
			return err
		}
		hash, err := passwd.Hash(pw)
		if err != nil {
			return err
		}
		return withApp(vals, env, func(ctx context.Context, a *app.App) error {
			acct := strings.ToLower(*account)
			if acct == "" {
				if acct, err = a.Dir.DomainOwner(ctx, domain); err != nil {
					return fmt.Errorf("no account owns the domain “%s”", domain)
				}
			}
			if _, err := a.Dir.GetMailbox(ctx, addr); err == nil {
				return fmt.Errorf("the mailbox “%s” already exists", addr)
			}
			if err := a.Dir.PutMailbox(ctx, directory.Mailbox{Address: addr, Account: acct, PasswordHash: hash}); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "mailbox %s added to %s\n", addr, acct)
			return nil
		})
	case "suspend", "unsuspend", "remove", "passwd":
		var hash string
		if sub == "passwd" {
			pw, err := readSecret(env, *stdin, "New password for "+addr+": ")
			if err != nil {
				return err
			}
			if hash, err = passwd.Hash(pw); err != nil {
				return err
			}
		}
		return withApp(vals, env, func(ctx context.Context, a *app.App) error {
			acct, err := owner(ctx, a)
			if err != nil {
				return err
			}
			switch sub {
			case "suspend", "unsuspend":
				err = a.Dir.SetMailboxSuspendedLogin(ctx, addr, sub == "suspend")
			case "remove":
				err = a.Dir.RemoveMailbox(ctx, addr)
			case "passwd":
				err = a.Dir.SetMailboxPasswordHash(ctx, addr, hash)
			}
			if err != nil {
				return err
			}
			n := 0
			if sub != "unsuspend" {
				if n, err = a.Sessions.EndAccount(ctx, acct, addr, "mailbox "+sub); err != nil {
					return err
				}
			}
			fmt.Fprintf(env.Stdout, "mailbox %s: %s done; %d session(s) ended\n", addr, sub, n)
			return nil
		})
	}
	return usageErr(usage)
}

func tokenCmd(args []string, env *Env) error {
	const usage = "usage: uapid token create USER NAME [--expires DURATION] [--allow-ip CIDR ...] | list USER | revoke USER NAME"
	if len(args) == 0 || !slices.Contains([]string{"create", "list", "revoke"}, args[0]) {
		return usageErr(usage)
	}
	fs, vals := adminFlags("uapid token "+args[0], env)
	expires := fs.Duration("expires", 0, "lifetime of the token (0: no expiry)")
	var allow multiFlag
	fs.Var(&allow, "allow-ip", "address or CIDR the token may be used from (repeatable)")
	pos, err := parseArgs(fs, args[1:])
	if err != nil {
		return err
	}
	switch {
	case args[0] == "create" && len(pos) == 2:
		user, name := strings.ToLower(pos[0]), pos[1]
		if *expires < 0 {
			return usageErr("--expires must not be negative (0: no expiry)")
		}
		var prefixes []netip.Prefix
		for _, s := range allow {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				a, err2 := netip.ParseAddr(s)
				if err2 != nil {
					return usageErr("“%s” is not an address or CIDR", s)
				}
				p = netip.PrefixFrom(a, a.BitLen())
			}
			prefixes = append(prefixes, p.Masked())
		}
		return withApp(vals, env, func(ctx context.Context, a *app.App) error {
			if user != directory.RootUser {
				if _, err := a.Dir.GetAccount(ctx, user); err != nil {
					return fmt.Errorf("the user “%s” does not exist", user)
				}
			}
			// PutToken replaces a token of the same name, which would
			// silently invalidate the secret in use: refuse, as account
			// add and mailbox add refuse existing names.
			existing, err := a.Dir.ListTokens(ctx, user)
			if err != nil {
				return err
			}
			if slices.ContainsFunc(existing, func(t directory.Token) bool { return t.Name == name }) {
				return fmt.Errorf("%s already has a token “%s” (revoke it first to replace it)", user, name)
			}
			secret := directory.NewTokenSecret()
			t := directory.Token{User: user, Name: name, Hash: directory.HashToken(secret), AllowIPs: prefixes, CreatedAt: time.Now()}
			if *expires > 0 {
				t.ExpiresAt = time.Now().Add(*expires)
			}
			if err := a.Dir.PutToken(ctx, t); err != nil {
				return err
			}
			a.Audit.Log(ctx, audit.Event{Event: audit.TokenCreate, Actor: "cli", Method: "uapid token create",
				Target: user, SecretFP: audit.Fingerprint(secret), Reason: "name " + name})
			fmt.Fprintf(env.Stdout, "token %q for %s (shown once):\n%s\n", name, user, secret)
			return nil
		})
	case args[0] == "list" && len(pos) == 1:
		return withApp(vals, env, func(ctx context.Context, a *app.App) error {
			ts, err := a.Dir.ListTokens(ctx, strings.ToLower(pos[0]))
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tCREATED\tEXPIRES\tALLOWED FROM")
			for _, t := range ts {
				exp := "never"
				if !t.ExpiresAt.IsZero() {
					exp = t.ExpiresAt.UTC().Format(time.RFC3339)
				}
				var ips []string
				for _, p := range t.AllowIPs {
					ips = append(ips, p.String())
				}
				allowed := strings.Join(ips, ",")
				if allowed == "" {
					allowed = "any"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Name, t.CreatedAt.UTC().Format(time.RFC3339), exp, allowed)
			}
			return tw.Flush()
		})
	case args[0] == "revoke" && len(pos) == 2:
		return withApp(vals, env, func(ctx context.Context, a *app.App) error {
			if err := a.Dir.RevokeToken(ctx, strings.ToLower(pos[0]), pos[1]); err != nil {
				return err
			}
			a.Audit.Log(ctx, audit.Event{Event: audit.TokenRevoke, Actor: "cli", Method: "uapid token revoke",
				Target: strings.ToLower(pos[0]), Reason: "name " + pos[1]})
			fmt.Fprintf(env.Stdout, "token %q of %s revoked\n", pos[1], strings.ToLower(pos[0]))
			return nil
		})
	}
	return usageErr(usage)
}

func sessionCmd(args []string, env *Env) error {
	const usage = "usage: uapid session list [--user U] | revoke --user U | revoke --id ID"
	if len(args) == 0 || !slices.Contains([]string{"list", "revoke"}, args[0]) {
		return usageErr(usage)
	}
	fs, vals := adminFlags("uapid session "+args[0], env)
	user := fs.String("user", "", "account (or mailbox address)")
	id := fs.String("id", "", "session id as shown by list")
	pos, err := parseArgs(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usageErr(usage)
	}
	u := strings.ToLower(*user)
	switch args[0] {
	case "list":
		return withApp(vals, env, func(ctx context.Context, a *app.App) error {
			account := u
			if strings.Contains(u, "@") {
				m, err := a.Dir.GetMailbox(ctx, u)
				if err != nil {
					return fmt.Errorf("no mailbox “%s”", u)
				}
				account = m.Account
			}
			rs, err := a.Store.List(ctx, account)
			if err != nil {
				return err
			}
			now := time.Now()
			tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tUSER\tSERVICE\tSTATE\tCREATED\tEXPIRES\tORIGIN\tMETHOD")
			for _, r := range rs {
				if strings.Contains(u, "@") && r.User != u {
					continue
				}
				state := "unused"
				switch {
				case r.Expired(now):
					state = "expired"
				case r.Consumed:
					state = "active"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.User, r.Service, state,
					r.CreatedAt.UTC().Format(time.RFC3339), r.ExpiresAt.UTC().Format(time.RFC3339), orDash(r.Origin), r.Method)
			}
			return tw.Flush()
		})
	case "revoke":
		if (u == "") == (*id == "") {
			return usageErr("session revoke needs exactly one of --user or --id")
		}
		return withApp(vals, env, func(ctx context.Context, a *app.App) error {
			if *id != "" {
				if err := a.Sessions.End(ctx, *id, "revoked"); err != nil {
					return fmt.Errorf("no session with id “%s”", *id)
				}
				fmt.Fprintf(env.Stdout, "session %s revoked\n", *id)
				return nil
			}
			account, only := u, ""
			if strings.Contains(u, "@") {
				m, err := a.Dir.GetMailbox(ctx, u)
				if err != nil {
					return fmt.Errorf("no mailbox “%s”", u)
				}
				account, only = m.Account, u
			}
			n, err := a.Sessions.EndAccount(ctx, account, only, "revoked")
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "%d session(s) of %s revoked\n", n, u)
			return nil
		})
	}
	return usageErr(usage)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// multiFlag collects a repeatable flag; commas also separate values.
type multiFlag []string

func (m *multiFlag) String() string { return strings.Join(*m, ",") }

func (m *multiFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*m = append(*m, strings.ToLower(s))
		}
	}
	return nil
}
