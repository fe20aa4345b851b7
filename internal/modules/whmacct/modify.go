package whmacct

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/uapid/uapid/internal/store"
	"github.com/uapid/uapid/internal/uapi"
	"github.com/uapid/uapid/internal/whmapi"
)

func registerModify(reg *whmapi.Registry, d *Deps) {
	reg.Register("modifyacct", d.guard(aclEditAccount, d.modifyacct))
	reg.Register("verify_new_username", d.guard(aclCreateAcct, d.verifyNewUsername))
}

// takenText is cPanel's refusal of a user name in use.
func takenText(user string) string {
	return "This system already has an account named “" + user + "”."
}

// verify_new_username checks that user can name a new account: cPanel's
// rules for new user names, and not in use.
func (d *Deps) verifyNewUsername(ctx context.Context, c uapi.Caller, args *uapi.Args) (whmapi.Envelope, error) {
	if f := required(args, "user"); f != nil {
		return *f, nil
	}
	arg, _ := args.Get("user")
	user := strings.ToLower(arg)
	if msg := usernameProblem(user); msg != "" {
		return whmapi.Fail(msg), nil
	}
	_, err := d.Dir.GetAccount(ctx, user)
	switch {
	case err == nil:
		return whmapi.Fail(takenText(user)), nil
	case !errors.Is(err, store.ErrNotFound):
		return whmapi.Envelope{}, err
	}
	return whmapi.OK(nil), nil
}

// cpuserConfig is an account as cPanel's user file (/var/cpanel/users)
// names its keys: modifyacct answers it as data.newcfg.
func cpuserConfig(a store.Account) map[string]any {
	l := a.Limits
	dns := ""
	if len(a.Domains) > 0 {
		dns = a.Domains[0]
	}
	plan := a.Plan
	if plan == "" {
		plan = defaultPlan
	}
	return map[string]any{
		"USER": a.User, "DNS": dns, "OWNER": a.Owner, "PLAN": plan, "CONTACTEMAIL": a.ContactEmail,
		"LOCALE": a.Locale, "STARTDATE": a.CreatedAt.Unix(), "SUSPENDED": boolInt(a.Suspended),
		"MAXPOP": l.MaxPOP.String(), "MAXFTP": l.MaxFTP.String(), "MAXSQL": l.MaxSQL.String(), "MAXLST": l.MaxLists.String(),
		"MAXSUB": l.MaxSub.String(), "MAXPARK": l.MaxPark.String(), "MAXADDON": l.MaxAddon.String(),
		"MAXPASSENGERAPPS": l.MaxPassengerApps.String(), "MAX_EMAIL_PER_HOUR": l.MaxEmailPerHour.String(),
		"MAX_DEFER_FAIL_PERCENTAGE": l.MaxDeferFailPercent.String(), "MAX_EMAILACCT_QUOTA": l.MaxEmailAcctQuota.String(),
		"BWLIMIT": l.BWLimit.String(), "HASCGI": boolInt(l.CGI), "HASSHELL": boolInt(l.HasShell),
		"FEATURELIST": defaultTo(l.FeatureList, "default"), "RS": defaultTo(l.Theme, "jupiter"),
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// modifyacct changes an account (user): newuser (a new user name: its
// domains, databases, mailboxes, tokens and sessions move or end in one
// step), domain or DNS (a new main domain, its mailboxes moving along),
// owner (root only), contactemail, LOCALE or LANG, PLAN (the plan name
// alone; changepackage applies a package's limits) and the limits MAXPOP,
// MAXFTP, MAXSQL, MAXLST, MAXSUB, MAXPARK, MAXADDON, MAXPASSENGERAPPS,
// MAX_EMAIL_PER_HOUR, MAX_DEFER_FAIL_PERCENTAGE, MAX_EMAILACCT_QUOTA,
// HASCGI, shell/HASSHELL, CPTHEME/RS, FEATURELIST (any letter case).
// Reason "Account Modified"; data: newcfg (the account as cPanel's user
// file keys it), messages, warnings.
func (d *Deps) modifyacct(ctx context.Context, c uapi.Caller, args *uapi.Args) (whmapi.Envelope, error) {
	if f := required(args, "user"); f != nil {
		return *f, nil
	}
	name, _ := args.Get("user")
	acct, f, err := d.managed(ctx, c, name)
	if err != nil || f != nil {
		return deref(f), err
	}
	var to store.Rename
	var changes []string
	if v, ok := lowerArg(args, "newuser"); ok && v != "" && strings.ToLower(v) != acct.User {
		nu := strings.ToLower(v)
		if msg := usernameProblem(nu); msg != "" {
			return whmapi.Fail(msg), nil
		}
		to.User = nu
		changes = append(changes, "user "+nu)
	}
	domainArg, ok := lowerArg(args, "domain")
	if !ok {
		domainArg, ok = lowerArg(args, "dns")
	}
	if ok && domainArg != "" {
		dom := strings.TrimPrefix(strings.ToLower(strings.TrimSuffix(domainArg, ".")), "www.")
		if !store.ValidDomain(dom) {
			return whmapi.Fail("“" + domainArg + "” is not a valid domain name."), nil
		}
		if len(acct.Domains) == 0 || dom != acct.Domains[0] {
			to.Domain = dom
			changes = append(changes, "domain "+dom)
		}
	}
	owner, hasOwner := lowerArg(args, "owner")
	owner = strings.ToLower(owner)
	if hasOwner && owner != "" && owner != acct.Owner {
		if c.User != store.RootUser {
			return whmapi.Fail("You do not have permission to change the owner of “" + acct.User + "”."), nil
		}
		changes = append(changes, "owner "+owner)
	}
	contact, hasContact := lowerArg(args, "contactemail")
	if hasContact && contact != "" && !store.ValidContactEmail(contact) {
		return whmapi.Fail("“" + contact + "” is not a valid email address."), nil
	}
	locale, hasLocale := lowerArg(args, "locale")
	if !hasLocale {
		locale, hasLocale = lowerArg(args, "lang")
	}
	if hasLocale && locale != "" && len(d.Locales) > 0 && !slices.Contains(d.Locales, locale) {
		return whmapi.Fail("“" + locale + "” does not refer to any of this system’s locales."), nil
	}
	plan, hasPlan := lowerArg(args, "plan")
	limits := acct.Limits
	for _, x := range []struct {
		name string
		dst  *store.Limit
	}{
		{"maxpop", &limits.MaxPOP}, {"maxftp", &limits.MaxFTP}, {"maxsql", &limits.MaxSQL}, {"maxlst", &limits.MaxLists},
		{"maxsub", &limits.MaxSub}, {"maxpark", &limits.MaxPark}, {"maxaddon", &limits.MaxAddon},
		{"maxpassengerapps", &limits.MaxPassengerApps}, {"max_email_per_hour", &limits.MaxEmailPerHour},
		{"max_defer_fail_percentage", &limits.MaxDeferFailPercent}, {"max_emailacct_quota", &limits.MaxEmailAcctQuota},
	} {
		if *x.dst, f = limitArg(args, x.name, *x.dst, false); f != nil {
			return *f, nil
		}
	}
	if limits.CGI, f = flagArg(args, "hascgi", limits.CGI); f != nil {
		return *f, nil
	}
	for _, k := range []string{"shell", "hasshell"} {
		if limits.HasShell, f = flagArg(args, k, limits.HasShell); f != nil {
			return *f, nil
		}
	}
	for _, k := range []string{"cptheme", "rs"} {
		if v, ok := lowerArg(args, k); ok && v != "" {
			limits.Theme = v
		}
	}
	if v, ok := lowerArg(args, "featurelist"); ok && v != "" {
		limits.FeatureList = v
	}
	if limits != acct.Limits {
		changes = append(changes, "limits")
	}
	if owner != "" && owner != store.RootUser && owner != acct.User && hasOwner {
		o, err := d.Dir.GetAccount(ctx, owner)
		if errors.Is(err, store.ErrNotFound) || (err == nil && !o.Reseller) {
			return whmapi.Fail("The owner “" + owner + "” is neither root nor a reseller on this server."), nil
		}
		if err != nil {
			return whmapi.Envelope{}, err
		}
	}
	a, _, err := d.Accounts.Modify(ctx, acct.User, to, func(a *store.Account) error {
		if hasOwner && owner != "" {
			a.Owner = owner
			if owner == acct.User {
				a.Owner = a.User
			}
		}
		if hasContact {
			a.ContactEmail = contact
		}
		if hasLocale && locale != "" {
			a.Locale = locale
		}
		if hasPlan && plan != "" {
			a.Plan = plan
		}
		a.Limits = limits
		return nil
	}, actor(c, "modifyacct"), strings.Join(changes, "; "))
	switch {
	case errors.Is(err, store.ErrExists) && store.FieldOf(err) == "user":
		return whmapi.Fail(takenText(to.User)), nil
	case errors.Is(err, store.ErrExists) && store.FieldOf(err) == "domain":
		return whmapi.Fail("The domain “" + to.Domain + "” already belongs to an account on this server."), nil
	case errors.Is(err, store.ErrExists):
		return whmapi.Fail(invalidText(err)), nil
	case errors.Is(err, store.ErrNotFound):
		return *noAccount(name), nil
	case errors.Is(err, store.ErrInvalid):
		return whmapi.Fail(invalidText(err)), nil
	case err != nil:
		return whmapi.Envelope{}, err
	}
	messages := []string{}
	if to.User != "" {
		messages = append(messages, "Renamed the account “"+acct.User+"” to “"+a.User+"”.")
	}
	if to.Domain != "" {
		messages = append(messages, "Changed the main domain of “"+a.User+"” to “"+to.Domain+"”.")
	}
	env := whmapi.OK(map[string]any{"newcfg": cpuserConfig(a), "messages": messages, "warnings": []string{}})
	env.Metadata.Reason = "Account Modified"
	return env, nil
}
