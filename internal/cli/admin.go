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
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/uapid/uapid/internal/accounts"
	"github.com/uapid/uapid/internal/app"
	"github.com/uapid/uapid/internal/config"
	"github.com/uapid/uapid/internal/fixture"
	"github.com/uapid/uapid/internal/passwd"
	"github.com/uapid/uapid/internal/store"
)

// adminFlags returns a flag set with the store options plus the command's
// own, and the store option values.
func adminFlags(name string, env *Env) (*flag.FlagSet, *config.Values) {
	fs, vals := config.FlagSet(name, env.Stderr)
	return fs, vals
}

// cliActor is who the admin commands act as: root, with the command as
// the method in the audit trail.
func cliActor(command string) accounts.Actor {
	return accounts.Actor{User: store.RootUser, Method: "uapid " + command}
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
	const usage = "usage: uapid account add USER --domain D [--domain D2] [--owner R] [--reseller] [--locale L] [--database DB] [--plan P] [--contact-email E] [--password-stdin] | list | suspend USER [--reason R] [--lock] | unsuspend USER | remove USER | passwd USER [--password-stdin]"
	if len(args) == 0 || !slices.Contains([]string{"add", "list", "suspend", "unsuspend", "remove", "passwd"}, args[0]) {
		return usageErr(usage)
	}
	fs, vals := adminFlags("uapid account "+args[0], env)
	var domains, dbs multiFlag
	fs.Var(&domains, "domain", "domain (repeatable; the first is the main domain)")
	fs.Var(&dbs, "database", "database name (repeatable)")
	owner := fs.String("owner", store.RootUser, "owner: root or a reseller")
	reseller := fs.Bool("reseller", false, "make the account a reseller")
	locale := fs.String("locale", "en", "locale")
	plan := fs.String("plan", "", "hosting plan (package) name")
	contact := fs.String("contact-email", "", "contact e-mail address")
	reason := fs.String("reason", "", "suspension reason (suspend)")
	lock := fs.Bool("lock", false, "only root may lift the suspension (suspend)")
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
			if _, err := a.Accounts.Create(ctx, store.Account{User: user, PasswordHash: hash, Domains: domains,
				Locale: *locale, Owner: *owner, Reseller: *reseller, Databases: dbs, Plan: *plan, ContactEmail: *contact},
				cliActor("account add")); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "account %s added\n", user)
			return nil
		})
	case "suspend":
		return withApp(vals, env, func(ctx context.Context, a *app.App) error {
			_, n, err := a.Accounts.Suspend(ctx, user, *reason, *lock, cliActor("account suspend"))
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "account %s suspended; %d session(s) ended\n", user, n)
			return nil
		})
	case "unsuspend":
		return withApp(vals, env, func(ctx context.Context, a *app.App) error {
			if _, err := a.Accounts.Unsuspend(ctx, user, cliActor("account unsuspend")); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "account %s unsuspended\n", user)
			return nil
		})
	case "remove":
		return withApp(vals, env, func(ctx context.Context, a *app.App) error {
			n, err := a.Accounts.Remove(ctx, user, cliActor("account remove"))
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
			n, err := a.Accounts.SetPassword(ctx, user, hash, cliActor("account passwd"))
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
			fmt.Fprintln(tw, "ADDRESS\tACCOUNT\tLOGIN SUSPENDED\tQUOTA")
			for _, m := range ms {
				quota := "unlimited"
				if m.Quota > 0 {
					quota = strconv.FormatInt(m.Quota, 10)
				}
				fmt.Fprintf(tw, "%s\t%s\t%t\t%s\n", m.Address, m.Account, m.SuspendedLogin, quota)
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
			if err := a.Accounts.AddMailbox(ctx, store.Mailbox{Address: addr, Account: acct, PasswordHash: hash}, cliActor("mailbox add")); err != nil {
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
			by := cliActor("mailbox " + sub)
			var n int
			var err error
			switch sub {
			case "suspend", "unsuspend":
				n, err = a.Accounts.SetMailboxSuspended(ctx, addr, sub == "suspend", by)
			case "remove":
				n, err = a.Accounts.RemoveMailbox(ctx, addr, by)
			case "passwd":
				n, err = a.Accounts.SetMailboxPassword(ctx, addr, hash, by)
			}
			if err != nil {
				return err
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
		if msg := accounts.TokenNameProblem(name); msg != "" {
			return errors.New(msg)
		}
		var expiresAt time.Time
		if *expires > 0 {
			expiresAt = time.Now().Add(*expires)
		}
		return withApp(vals, env, func(ctx context.Context, a *app.App) error {
			_, secret, err := a.Accounts.IssueToken(ctx, user, name, expiresAt, prefixes, cliActor("token create"))
			if errors.Is(err, store.ErrExists) {
				return fmt.Errorf("%s already has a token “%s” (revoke it first to replace it)", user, name)
			}
			if err != nil {
				return err
			}
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
			if err := a.Accounts.RevokeToken(ctx, pos[0], pos[1], cliActor("token revoke")); err != nil {
				return err
			}
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
