// Package whmacct is WHM API 1's account provisioning: createacct,
// listaccts, accountsummary, suspendacct, unsuspendacct, removeacct and
// passwd, plus the WHM user's own API tokens (api_token_create,
// api_token_revoke).
//
// Callers are root or a reseller (authentication admits nobody else to
// WHM). Root manages every account. A reseller manages the accounts it owns,
// never itself and never root; an account it creates is owned by it. An
// account outside a reseller's reach is named in the refusal (as in
// create_user_session), so a reseller can tell "not yours" from "no such
// account".
//
// Failures answer result 0 with a reason and no data. Passwords and token
// secrets never appear in reasons or logs; a new token's secret appears
// once, in the answer that creates it.
package whmacct

import (
	"context"
	"crypto/rand"
	"errors"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/uapid/uapid/internal/accounts"
	"github.com/uapid/uapid/internal/modules/tokens"
	"github.com/uapid/uapid/internal/passwd"
	"github.com/uapid/uapid/internal/store"
	"github.com/uapid/uapid/internal/uapi"
	"github.com/uapid/uapid/internal/whmapi"
)

// Deps are what the account functions need.
type Deps struct {
	Dir store.Directory
	// Packages keeps the hosting packages and ACL lists.
	Packages store.Packages
	// Nameservers are the server's name servers (--nameservers);
	// SharedIP the address accounts are shown on (--shared-ip).
	Nameservers []string
	SharedIP    string
	// Accounts runs every change (with its session endings, temporary
	// user drops and audit events).
	Accounts *accounts.Service
	// Locales are the server's locales (createacct's "language").
	Locales []string
	// Now returns the current time (tests override it).
	Now func() time.Time
}

func (d *Deps) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// actor is the caller of a WHM function, for the account lifecycle.
func actor(c uapi.Caller, function string) accounts.Actor {
	return accounts.Actor{User: c.User, Method: function}
}

// Register adds the functions to reg.
func Register(reg *whmapi.Registry, d *Deps) {
	reg.Register("createacct", d.guard(aclCreateAcct, d.createacct))
	reg.Register("listaccts", d.guard(aclListAccts, d.listaccts))
	reg.Register("accountsummary", d.guard(aclListAccts, d.accountsummary))
	reg.Register("suspendacct", d.guard(aclSuspendAcct, d.suspendacct))
	reg.Register("unsuspendacct", d.guard(aclSuspendAcct, d.unsuspendacct))
	reg.Register("removeacct", d.guard(aclKillAcct, d.removeacct))
	reg.Register("passwd", d.guard(aclPasswd, d.passwd))
	reg.Register("api_token_create", d.apiTokenCreate)
	reg.Register("api_token_revoke", d.apiTokenRevoke)
	registerPackages(reg, d)
	registerModify(reg, d)
	registerResellers(reg, d)
	registerInfo(reg, d)
	registerAPI0(reg)
}

// ---- shared helpers ----

// required returns the failure for the first of names that is missing or
// empty, in WHM's wording.
func required(args *uapi.Args, names ...string) *whmapi.Envelope {
	for _, n := range names {
		if v, _ := args.Get(n); v == "" {
			f := whmapi.Fail("The “" + n + "” parameter is required.")
			return &f
		}
	}
	return nil
}

func fail(reason string) *whmapi.Envelope {
	f := whmapi.Fail(reason)
	return &f
}

func noAccount(name string) *whmapi.Envelope {
	return fail("The account “" + name + "” does not exist.")
}

// boolArg reads a 0/1 flag (also y/n, yes/no, true/false, on/off).
func boolArg(args *uapi.Args, name string) (value bool, problem *whmapi.Envelope) {
	v, _ := args.Get(name)
	switch strings.ToLower(v) {
	case "", "0", "n", "no", "false", "off":
		return false, nil
	case "1", "y", "yes", "true", "on":
		return true, nil
	}
	return false, fail("The “" + name + "” parameter must be 1 or 0.")
}

// managed returns the account name that caller c may manage: any account
// for root, the accounts it owns (other than itself) for a reseller.
func (d *Deps) managed(ctx context.Context, c uapi.Caller, name string) (store.Account, *whmapi.Envelope, error) {
	user := strings.ToLower(name)
	if user == store.RootUser {
		return store.Account{}, fail("The user “root” is not a cPanel account."), nil
	}
	acct, err := d.Dir.GetAccount(ctx, user)
	if errors.Is(err, store.ErrNotFound) {
		return store.Account{}, noAccount(name), nil
	}
	if err != nil {
		return store.Account{}, nil, err
	}
	if c.User == store.RootUser || (acct.Owner == c.User && acct.User != c.User) {
		return acct, nil, nil
	}
	if acct.User == c.User {
		return store.Account{}, fail("You cannot use this function on your own account “" + acct.User + "”."), nil
	}
	return store.Account{}, fail("You do not have permission to manage the account “" + name + "”."), nil
}

// visible reports whether caller c sees acct in listaccts and
// accountsummary: root sees all accounts, a reseller the ones it owns.
func visible(c uapi.Caller, acct store.Account) bool {
	return c.User == store.RootUser || acct.Owner == c.User
}

// invalidText is the reason for a store's refusal: its explanation (which
// never holds a secret) as a sentence.
func invalidText(err error) string {
	msg := err.Error()
	if msg == "" {
		return msg
	}
	return strings.ToUpper(msg[:1]) + msg[1:] + "."
}

// ---- account entries (listaccts, accountsummary) ----

// defaultPlan is the plan of an account created without one, as cPanel
// names its default package.
const defaultPlan = "default"

// entry is one account as listaccts and accountsummary show it. uapid
// answers the fields it can know (cPanel documents more: disk usage,
// limits, IP addresses, theme, … which uapid does not model):
//
//   - user, domain (the main domain), owner;
//   - suspended (0/1), suspendreason ("not suspended" when not suspended;
//     the reason given to suspendacct, or "Unknown" as cPanel's default when
//     the account was suspended otherwise), suspendtime (unix time or null),
//     is_locked (1 when suspended with disallowun=1);
//   - startdate ("YY Mon DD HH:MM" in server time, as cPanel) and
//     unix_startdate;
//   - plan (the plan given to createacct, else "default"), email (the
//     contact address given to createacct, else "*unknown*" as cPanel
//     shows accounts without one);
//   - temporary and is_temporary_domain, always 0.
func (d *Deps) entry(a store.Account) map[string]any {
	e := entry(a)
	l := a.Limits
	disk := "unlimited"
	if l.Quota.Limited && l.Quota.N > 0 {
		disk = l.Quota.String() + "M"
	}
	for k, v := range map[string]any{
		"ip": d.SharedIP, "ipv6": []string{}, "disklimit": disk, "diskused": "0M", "inodeslimit": "unlimited", "inodesused": 0,
		"maxpop": l.MaxPOP.String(), "maxftp": l.MaxFTP.String(), "maxsql": l.MaxSQL.String(), "maxlst": l.MaxLists.String(),
		"maxsub": l.MaxSub.String(), "maxparked": l.MaxPark.String(), "maxaddons": l.MaxAddon.String(),
		"max_email_per_hour": l.MaxEmailPerHour.String(), "max_defer_fail_percentage": l.MaxDeferFailPercent.String(),
		"max_emailacct_quota": l.MaxEmailAcctQuota.String(), "theme": defaultTo(l.Theme, "jupiter"),
		"shell":     map[bool]string{true: "/bin/bash", false: "/usr/local/cpanel/bin/noshell"}[l.HasShell],
		"partition": "home", "backup": 0, "legacy_backup": 0, "has_backup": 0, "mailbox_format": "maildir",
		"outgoing_mail_hold": 0, "outgoing_mail_suspended": 0, "uid": 0,
	} {
		e[k] = v
	}
	return e
}

func entry(a store.Account) map[string]any {
	domain := ""
	if len(a.Domains) > 0 {
		domain = a.Domains[0]
	}
	plan := a.Plan
	if plan == "" {
		plan = defaultPlan
	}
	contact := a.ContactEmail
	if contact == "" {
		contact = "*unknown*"
	}
	e := map[string]any{
		"user":                a.User,
		"domain":              domain,
		"owner":               a.Owner,
		"suspended":           0,
		"suspendreason":       "not suspended",
		"suspendtime":         nil,
		"is_locked":           0,
		"startdate":           a.CreatedAt.Local().Format("06 Jan 02 15:04"),
		"unix_startdate":      a.CreatedAt.Unix(),
		"plan":                plan,
		"email":               contact,
		"temporary":           0,
		"is_temporary_domain": 0,
	}
	if a.Suspended {
		e["suspended"] = 1
		e["suspendreason"] = "Unknown"
		if a.SuspendReason != "" {
			e["suspendreason"] = a.SuspendReason
		}
		if !a.SuspendedAt.IsZero() {
			e["suspendtime"] = a.SuspendedAt.Unix()
		}
		if a.SuspendLocked {
			e["is_locked"] = 1
		}
	}
	return e
}

// ---- createacct ----

// reservedUsers are names cPanel refuses for accounts (system users and
// service names); uapid refuses the same.
var reservedUsers = []string{
	"abuse", "adm", "admin", "all", "apache", "bin", "cpanel", "cphulkd", "cpses", "daemon", "dovecot",
	"exim", "ftp", "games", "halt", "help", "lp", "mail", "mailman", "mailnull", "mysql",
	"named", "news", "nobody", "operator", "postfix", "postgres", "postmaster", "root",
	"shutdown", "sshd", "sync", "system", "toor", "uucp", "virtfs", "webmaster", "wheel",
}

// usernameProblem applies cPanel's rules for new usernames on top of the
// directory's form ([a-z][a-z0-9]{0,15}): not "test…", not reserved.
func usernameProblem(user string) string {
	switch {
	case !store.ValidUser(user) && user != store.RootUser:
		return "“" + user + "” is not a valid username: use 1 to 16 lower-case letters and digits, starting with a letter."
	case strings.HasPrefix(user, "test"):
		return "The username “" + user + "” is not allowed: a username cannot begin with “test”."
	case slices.Contains(reservedUsers, user):
		return "The username “" + user + "” is reserved for the system."
	}
	return ""
}

// generatedPassword is used when createacct gets no password, as cPanel
// generates one. createacct prints it once in metadata.output, as cPanel
// does; it is never logged.
func generatedPassword() string { return rand.Text() }

// createacct creates a cPanel account. Arguments:
//
//   - username (required; lower-cased, as cPanel does).
//   - domain (required by uapid: cPanel would make a temporary domain,
//     which uapid does not model).
//   - password or pass (not both; optional: without one the account gets
//     an unknown random password, as cPanel generates one).
//   - reseller=1 grants reseller rights (root only); owner (root only: root
//     or an existing reseller; default root); ownerself=1 makes a reseller
//     own itself. A reseller caller always becomes the owner.
//   - language (a locale of this server; default "en"), plan and
//     contactemail (remembered for listaccts), quota (validated: 0 to
//     999999 or "unlimited").
//   - Every other cPanel parameter (bwlimit, cgi, featurelist, ip, max*,
//     spf, dkim, …) is accepted and ignored.
//
// Success: reason "Account Creation Ok", data with cPanel's keys: package
// (the plan) and the nameserver and IP keys, which are null because uapid
// has no DNS or IP addresses. cPanel's metadata.output.raw log is not
// produced.
func (d *Deps) createacct(ctx context.Context, c uapi.Caller, args *uapi.Args) (whmapi.Envelope, error) {
	if f := required(args, "username"); f != nil {
		return *f, nil
	}
	nameArg, _ := args.Get("username")
	user := strings.ToLower(nameArg)
	if msg := usernameProblem(user); msg != "" {
		return whmapi.Fail(msg), nil
	}
	if f := required(args, "domain"); f != nil {
		return *f, nil
	}
	domainArg, _ := args.Get("domain")
	domain := strings.ToLower(strings.TrimSuffix(domainArg, "."))
	domain = strings.TrimPrefix(domain, "www.")
	if !store.ValidDomain(domain) {
		return whmapi.Fail("“" + domainArg + "” is not a valid domain name."), nil
	}

	pw, hasPassword := args.Get("password")
	pass, hasPass := args.Get("pass")
	if hasPassword && hasPass {
		return whmapi.Fail("Use either the “password” or the “pass” parameter, not both."), nil
	}
	if hasPass {
		pw, hasPassword = pass, true
	}
	if hasPassword {
		if msg := accounts.PasswordProblem(pw); msg != "" {
			return whmapi.Fail(msg), nil
		}
	} else {
		pw = generatedPassword()
	}

	reseller, f := boolArg(args, "reseller")
	if f != nil {
		return *f, nil
	}
	ownerself, f := boolArg(args, "ownerself")
	if f != nil {
		return *f, nil
	}
	ownerArg, hasOwner := args.Get("owner")
	owner := strings.ToLower(ownerArg)
	if c.User == store.RootUser {
		switch {
		case hasOwner && owner != "":
		case ownerself:
			owner = user
		default:
			owner = store.RootUser
		}
	} else {
		if reseller {
			return whmapi.Fail("You do not have permission to create reseller accounts."), nil
		}
		if (hasOwner && owner != "" && owner != c.User) || ownerself {
			return whmapi.Fail("You do not have permission to create accounts for another owner: accounts you create are yours."), nil
		}
		owner = c.User
	}
	if owner == user && !reseller {
		return whmapi.Fail("Only a reseller can own itself: add “reseller=1” to own the account “" + user + "” by itself."), nil
	}

	locale, hasLocale := args.Get("language")
	if locale == "" {
		locale = "en"
	}
	if len(d.Locales) > 0 && !slices.Contains(d.Locales, locale) {
		return whmapi.Fail("“" + locale + "” does not refer to any of this system’s locales."), nil
	}
	contact, _ := args.Get("contactemail")
	if contact != "" && !store.ValidContactEmail(contact) {
		return whmapi.Fail("“" + contact + "” is not a valid email address."), nil
	}
	if q, _ := args.Get("quota"); q != "" && !strings.EqualFold(q, "unlimited") {
		if n, err := strconv.ParseUint(q, 10, 64); err != nil || n > 999999 {
			return whmapi.Fail("The “quota” parameter must be a number of megabytes from 0 (unlimited) to 999999, or “unlimited”."), nil
		}
	}
	plan, _ := args.Get("plan")
	if plan == "" {
		plan = defaultPlan
	}
	// A package the caller may use gives its limits (and its language
	// when none is given); parameters given override them.
	limits := defaultLimits
	if d.Packages != nil && plan != defaultPlan {
		p, f, err := d.visiblePackage(ctx, c, plan)
		if err != nil {
			return whmapi.Envelope{}, err
		}
		if f == nil {
			limits = p.Limits
			if !hasLocale && p.Language != "" {
				locale = p.Language
			}
		} else if _, err := d.Packages.GetPackage(ctx, plan); err == nil {
			// It exists but is not the caller's to use.
			return *f, nil
		}
	}
	limits, _, f = d.packageArgs(args, limits, "")
	if f != nil {
		return *f, nil
	}

	hash, err := passwd.Hash(pw)
	if err != nil {
		return whmapi.Envelope{}, err
	}

	// The owner is checked again inside the creation (the store's
	// transaction); this look only chooses the clearer text.
	if owner != store.RootUser && owner != user {
		o, err := d.Dir.GetAccount(ctx, owner)
		if errors.Is(err, store.ErrNotFound) || (err == nil && !o.Reseller) {
			return whmapi.Fail("The owner “" + ownerArg + "” is neither root nor a reseller on this server."), nil
		}
		if err != nil {
			return whmapi.Envelope{}, err
		}
	}
	_, err = d.Accounts.Create(ctx, store.Account{
		User:         user,
		PasswordHash: hash,
		Domains:      []string{domain},
		Locale:       locale,
		Owner:        owner,
		Reseller:     reseller,
		Plan:         plan,
		ContactEmail: contact,
		Limits:       limits,
	}, actor(c, "createacct"))
	switch {
	case errors.Is(err, store.ErrExists) && store.FieldOf(err) == "user":
		return whmapi.Fail("The account “" + user + "” already exists."), nil
	case errors.Is(err, store.ErrExists):
		return whmapi.Fail("The domain “" + domain + "” already belongs to an account on this server."), nil
	case errors.Is(err, store.ErrInvalid):
		return whmapi.Fail(invalidText(err)), nil
	case err != nil:
		return whmapi.Envelope{}, err
	}
	ns := func(i int) any {
		if i < len(d.Nameservers) {
			return d.Nameservers[i]
		}
		return nil
	}
	var ip any
	if d.SharedIP != "" {
		ip = d.SharedIP
	}
	env := whmapi.OK(map[string]any{
		"ip":               ip,
		"nameserver":       ns(0),
		"nameserver2":      ns(1),
		"nameserver3":      ns(2),
		"nameserver4":      ns(3),
		"nameservera":      nil,
		"nameservera2":     nil,
		"nameservera3":     nil,
		"nameservera4":     nil,
		"nameserverentry":  nil,
		"nameserverentry2": nil,
		"nameserverentry3": nil,
		"nameserverentry4": nil,
		"package":          plan,
	})
	env.Metadata.Reason = "Account Creation Ok"
	env.Metadata.Output = &whmapi.Output{Raw: createOutput(user, domain, owner, plan, contact, locale, d.SharedIP, d.Nameservers, limits, pw, !hasPassword)}
	return env, nil
}

// createOutput is createacct's printed log (metadata.output.raw), with
// the fields cPanel prints in its "New Account Info" box. The password
// is printed only when uapid generated it (nobody else knows it then);
// a password the caller gave is never echoed.
func createOutput(user, domain, owner, plan, contact, locale, ip string, nameservers []string, l store.Limits, pw string, generated bool) string {
	var b strings.Builder
	line := func(k, v string) { b.WriteString("| " + k + ": " + v + "\n") }
	b.WriteString("Creating the account “" + user + "” (" + domain + ") owned by " + owner + "…\n")
	b.WriteString("+===================================+\n| New Account Info                  |\n+===================================+\n")
	line("Domain", domain)
	line("Ip", ip+" (n)")
	line("HasCgi", yn(l.CGI))
	line("UserName", user)
	if generated {
		line("PassWord", pw)
	}
	line("CpanelMod", defaultTo(l.Theme, "jupiter"))
	line("HomeRoot", "/home")
	line("Quota", l.Quota.String())
	for i, n := range nameservers {
		line("NameServer"+strconv.Itoa(i+1), n)
	}
	line("Contact Email", contact)
	line("Package", plan)
	line("Feature List", defaultTo(l.FeatureList, "default"))
	line("Language", locale)
	b.WriteString("+===================================+\nAccount Creation Ok\n")
	return b.String()
}

// ---- listaccts, accountsummary ----

var searchTypes = []string{"domain", "owner", "user", "ip", "package"}

// matcher returns the search predicate of listaccts' search, searchtype
// and searchmethod. search is a Go RE2 regular expression (cPanel: PCRE),
// matched case-insensitively because users and domains are lower-case;
// searchmethod=exact compares whole values instead. searchtype defaults to
// "user" when only search is given. "domain" matches any of the account's
// domains; "ip" never matches (uapid has no IP addresses).
func matcher(args *uapi.Args) (func(a store.Account) bool, *whmapi.Envelope) {
	search, _ := args.Get("search")
	stype, _ := args.Get("searchtype")
	method, _ := args.Get("searchmethod")
	if stype != "" && !slices.Contains(searchTypes, stype) {
		return nil, fail("The “searchtype” parameter must be one of “domain”, “owner”, “user”, “ip”, or “package”.")
	}
	if method != "" && method != "exact" && method != "regex" {
		return nil, fail("The “searchmethod” parameter must be “exact” or “regex”.")
	}
	if search == "" {
		return func(store.Account) bool { return true }, nil
	}
	if stype == "" {
		stype = "user"
	}
	var match func(string) bool
	if method == "exact" {
		match = func(v string) bool { return strings.EqualFold(v, search) }
	} else {
		re, err := regexp.Compile("(?i)" + search)
		if err != nil {
			return nil, fail("The “search” parameter is not a valid regular expression: " + err.Error())
		}
		match = re.MatchString
	}
	return func(a store.Account) bool {
		switch stype {
		case "user":
			return match(a.User)
		case "owner":
			return match(a.Owner)
		case "domain":
			return slices.ContainsFunc(a.Domains, match)
		case "package":
			p := a.Plan
			if p == "" {
				p = defaultPlan
			}
			return match(p)
		}
		return false
	}, nil
}

// want restricts entries to the comma-separated fields of "want".
func want(args *uapi.Args, e map[string]any) map[string]any {
	w, _ := args.Get("want")
	if w == "" {
		return e
	}
	out := map[string]any{}
	for _, k := range strings.Split(w, ",") {
		if v, ok := e[strings.TrimSpace(k)]; ok {
			out[strings.TrimSpace(k)] = v
		}
	}
	return out
}

// listaccts lists the accounts the caller sees (root: all; a reseller: the
// ones it owns), sorted by user, as data.acct; search, searchtype,
// searchmethod and want filter as cPanel documents (see matcher and entry).
func (d *Deps) listaccts(ctx context.Context, c uapi.Caller, args *uapi.Args) (whmapi.Envelope, error) {
	match, f := matcher(args)
	if f != nil {
		return *f, nil
	}
	all, err := d.Dir.ListAccounts(ctx)
	if err != nil {
		return whmapi.Envelope{}, err
	}
	var accts []store.Account
	for _, a := range all {
		if visible(c, a) {
			accts = append(accts, a)
		}
	}
	slices.SortFunc(accts, func(a, b store.Account) int { return strings.Compare(a.User, b.User) })
	list := make([]map[string]any, 0, len(accts))
	for _, a := range accts {
		if match(a) {
			list = append(list, want(args, d.entry(a)))
		}
	}
	return whmapi.OK(map[string]any{"acct": list}), nil
}

// accountsummary answers one account, named by user or (when user is
// absent) by any of its domains, as data.acct with one entry.
func (d *Deps) accountsummary(ctx context.Context, c uapi.Caller, args *uapi.Args) (whmapi.Envelope, error) {
	userArg, _ := args.Get("user")
	domainArg, _ := args.Get("domain")
	var name string
	switch {
	case userArg != "":
		name = strings.ToLower(userArg)
	case domainArg != "":
		owner, err := d.Dir.DomainOwner(ctx, strings.ToLower(domainArg))
		if errors.Is(err, store.ErrNotFound) {
			return whmapi.Fail("No account owns the domain “" + domainArg + "”."), nil
		}
		if err != nil {
			return whmapi.Envelope{}, err
		}
		name = owner
	default:
		return whmapi.Fail("Provide the “user” or the “domain” parameter."), nil
	}
	acct, err := d.Dir.GetAccount(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return *noAccount(name), nil
	}
	if err != nil {
		return whmapi.Envelope{}, err
	}
	if !visible(c, acct) {
		label := userArg
		if label == "" {
			label = acct.User
		}
		return *fail("You do not have permission to manage the account “" + label + "”."), nil
	}
	return whmapi.OK(map[string]any{"acct": []map[string]any{d.entry(acct)}}), nil
}

// ---- suspendacct, unsuspendacct ----

// suspendacct suspends an account (user; reason, default "Unknown" as in
// cPanel; disallowun=1 lets only root unsuspend it; leave-ftp-accts-enabled
// is accepted). The account can no longer authenticate, and all its
// sessions (its mailboxes' too) end at once, which drops their temporary
// database users. Suspending a suspended account updates the reason; a
// reseller cannot touch a suspension root locked.
func (d *Deps) suspendacct(ctx context.Context, c uapi.Caller, args *uapi.Args) (whmapi.Envelope, error) {
	if f := required(args, "user"); f != nil {
		return *f, nil
	}
	name, _ := args.Get("user")
	acct, f, err := d.managed(ctx, c, name)
	if err != nil || f != nil {
		return deref(f), err
	}
	lock, f := boolArg(args, "disallowun")
	if f != nil {
		return *f, nil
	}
	reason, _ := args.Get("reason")
	_, _, err = d.Accounts.Suspend(ctx, acct.User, reason, lock, actor(c, "suspendacct"))
	switch {
	case errors.Is(err, accounts.ErrLocked):
		return whmapi.Fail(lockedText(acct.User)), nil
	case errors.Is(err, store.ErrNotFound):
		return *noAccount(name), nil
	case err != nil:
		return whmapi.Envelope{}, err
	}
	env := whmapi.OK(nil)
	env.Metadata.Output = &whmapi.Output{Raw: "Suspending the account “" + acct.User + "”: its logins stop and its sessions end.\n" +
		acct.User + "'s account has been suspended\n"}
	return env, nil
}

func lockedText(user string) string {
	return "Only root can unsuspend the account “" + user + "”: root locked its suspension."
}

func deref(f *whmapi.Envelope) whmapi.Envelope {
	if f == nil {
		return whmapi.Envelope{}
	}
	return *f
}

// unsuspendacct lifts a suspension (user; retain-service-proxies is
// accepted). Unsuspending an account that is not suspended succeeds.
func (d *Deps) unsuspendacct(ctx context.Context, c uapi.Caller, args *uapi.Args) (whmapi.Envelope, error) {
	if f := required(args, "user"); f != nil {
		return *f, nil
	}
	name, _ := args.Get("user")
	acct, f, err := d.managed(ctx, c, name)
	if err != nil || f != nil {
		return deref(f), err
	}
	_, err = d.Accounts.Unsuspend(ctx, acct.User, actor(c, "unsuspendacct"))
	switch {
	case errors.Is(err, accounts.ErrLocked):
		return whmapi.Fail(lockedText(acct.User)), nil
	case errors.Is(err, store.ErrNotFound):
		return *noAccount(name), nil
	case err != nil:
		return whmapi.Envelope{}, err
	}
	env := whmapi.OK(nil)
	env.Metadata.Output = &whmapi.Output{Raw: acct.User + "'s account is now active\n"}
	return env, nil
}

// ---- removeacct ----

// removeacct removes an account with its mailboxes and tokens (username,
// or the deprecated user; keepdns is accepted). It ends the account's
// sessions first (dropping their temporary database users), removes the
// account, and ends any session that started meanwhile. A reseller that
// still owns other accounts cannot be removed. reason is "<user> account
// removed", as cPanel's.
func (d *Deps) removeacct(ctx context.Context, c uapi.Caller, args *uapi.Args) (whmapi.Envelope, error) {
	param := "username"
	if !args.Has("username") && args.Has("user") {
		param = "user"
	}
	if f := required(args, param); f != nil {
		return *f, nil
	}
	name, _ := args.Get(param)
	acct, f, err := d.managed(ctx, c, name)
	if err != nil || f != nil {
		return deref(f), err
	}
	if acct.Reseller {
		all, err := d.Dir.ListAccounts(ctx)
		if err != nil {
			return whmapi.Envelope{}, err
		}
		var owned []string
		for _, a := range all {
			if a.Owner == acct.User && a.User != acct.User {
				owned = append(owned, a.User)
			}
		}
		if len(owned) > 0 {
			return whmapi.Fail(stillOwns(acct.User, owned)), nil
		}
	}
	_, err = d.Accounts.Remove(ctx, acct.User, actor(c, "removeacct"))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return *noAccount(name), nil
	case errors.Is(err, store.ErrInvalid):
		return whmapi.Fail(invalidText(err)), nil
	case err != nil:
		return whmapi.Envelope{}, err
	}
	env := whmapi.OK(nil)
	env.Metadata.Reason = acct.User + " account removed"
	env.Metadata.Output = &whmapi.Output{Raw: "Removing the account “" + acct.User + "”: its sessions end; its mailboxes, tokens and databases go.\n" +
		acct.User + " account removed\n"}
	return env, nil
}

func stillOwns(user string, owned []string) string {
	const max = 5
	q := make([]string, 0, max+1)
	for i, o := range owned {
		if i == max {
			q = append(q, "and "+strconv.Itoa(len(owned)-max)+" more")
			break
		}
		q = append(q, "“"+o+"”")
	}
	return "The reseller “" + user + "” still owns accounts (" + strings.Join(q, ", ") + "); remove them or give them another owner first."
}

// ---- passwd ----

// passwd sets the password of a cPanel account (user, password;
// db_pass_update, digestauth and enabledigest are accepted) and ends the
// account user's own sessions (its mailboxes keep theirs: they have their
// own passwords). Root may also set root's password. data.app lists
// "system", the one password uapid keeps per account; reason is cPanel's
// "Password changed for user “<user>”.".
func (d *Deps) passwd(ctx context.Context, c uapi.Caller, args *uapi.Args) (whmapi.Envelope, error) {
	if !args.Has("password") && args.Has("pass") {
		pw, _ := args.Get("pass") // the older name API 0 clients send
		args.Add("password", pw)
	}
	if f := required(args, "user", "password"); f != nil {
		return *f, nil
	}
	name, _ := args.Get("user")
	pw, _ := args.Get("password")
	user := strings.ToLower(name)
	if user == store.RootUser && c.User == store.RootUser {
		if msg := accounts.PasswordProblem(pw); msg != "" {
			return whmapi.Fail(msg), nil
		}
		hash, err := passwd.Hash(pw)
		if err != nil {
			return whmapi.Envelope{}, err
		}
		if _, err := d.Accounts.SetPassword(ctx, store.RootUser, hash, actor(c, "passwd")); err != nil {
			return whmapi.Envelope{}, err
		}
		return passwordChanged(store.RootUser), nil
	}
	acct, f, err := d.managed(ctx, c, name)
	if err != nil || f != nil {
		return deref(f), err
	}
	if msg := accounts.PasswordProblem(pw); msg != "" {
		return whmapi.Fail(msg), nil
	}
	hash, err := passwd.Hash(pw)
	if err != nil {
		return whmapi.Envelope{}, err
	}
	if _, err := d.Accounts.SetPassword(ctx, acct.User, hash, actor(c, "passwd")); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return *noAccount(name), nil
		}
		return whmapi.Envelope{}, err
	}
	return passwordChanged(acct.User), nil
}

func passwordChanged(user string) whmapi.Envelope {
	env := whmapi.OK(map[string]any{"app": []string{"system"}})
	env.Metadata.Reason = "Password changed for user “" + user + "”."
	return env
}

// ---- api_token_create, api_token_revoke ----

// numbered returns the values of name and of name-0, name-1, … (cPanel's
// way of passing lists to WHM API 1), in that order.
func numbered(args *uapi.Args, name string) []string {
	out := args.List(name)
	type kv struct {
		n int
		v []string
	}
	var extra []kv
	for _, k := range args.Keys() {
		rest, ok := strings.CutPrefix(k, name+"-")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(rest)
		if err != nil || n < 0 {
			continue
		}
		extra = append(extra, kv{n, args.List(k)})
	}
	slices.SortFunc(extra, func(a, b kv) int { return a.n - b.n })
	for _, e := range extra {
		out = append(out, e.v...)
	}
	return out
}

// apiTokenCreate creates an API token for the caller (root or the
// reseller). Arguments: token_name (required), expires_at (unix time; 0 or
// absent: never), whitelist_ip / whitelist_ip-N (addresses or CIDR ranges
// the token works from), acl / acl-N (accepted and ignored: uapid tokens
// carry all of their owner's privileges, so data.acls is ["all"]). data:
// name, token (shown only here), create_time, expires_at (null: never),
// acls, whitelist_ips (null: any address).
func (d *Deps) apiTokenCreate(ctx context.Context, c uapi.Caller, args *uapi.Args) (whmapi.Envelope, error) {
	if f := required(args, "token_name"); f != nil {
		return *f, nil
	}
	name, _ := args.Get("token_name")
	if msg := accounts.TokenNameProblem(name); msg != "" {
		return whmapi.Fail(msg), nil
	}
	now := d.now()
	v, _ := args.Get("expires_at")
	expires, msg := tokens.ExpiresAt("expires_at", v, now)
	if msg != "" {
		return whmapi.Fail(strings.Replace(msg, "argument", "parameter", 1)), nil
	}
	var allow []netip.Prefix
	var shown []string
	for _, s := range numbered(args, "whitelist_ip") {
		if s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, err2 := netip.ParseAddr(s)
			if err2 != nil || a.Zone() != "" {
				return whmapi.Fail("“" + s + "” is not a valid IP address or CIDR range."), nil
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		p = p.Masked()
		allow = append(allow, p)
		shown = append(shown, s)
	}
	t, secret, err := d.Accounts.IssueToken(ctx, c.User, name, expires, allow, actor(c, "api_token_create"))
	if errors.Is(err, store.ErrExists) {
		return whmapi.Fail(tokens.TakenText(name)), nil
	}
	if err != nil {
		return whmapi.Envelope{}, err
	}
	var ips any
	if len(shown) > 0 {
		ips = shown
	}
	return whmapi.OK(map[string]any{
		"name":          t.Name,
		"token":         secret,
		"create_time":   t.CreatedAt.Unix(),
		"expires_at":    tokens.Unix(t.ExpiresAt),
		"acls":          []string{"all"},
		"whitelist_ips": ips,
	}), nil
}

// apiTokenRevoke revokes tokens of the caller: token_name, and
// token_name-1, token_name-2, … for several at once. Every named token
// must exist, else nothing is revoked and the reason names the first
// missing one.
func (d *Deps) apiTokenRevoke(ctx context.Context, c uapi.Caller, args *uapi.Args) (whmapi.Envelope, error) {
	names := numbered(args, "token_name")
	names = slices.DeleteFunc(names, func(s string) bool { return s == "" })
	if len(names) == 0 {
		return whmapi.Fail("The “token_name” parameter is required."), nil
	}
	existing, err := d.Dir.ListTokens(ctx, c.User)
	if err != nil {
		return whmapi.Envelope{}, err
	}
	for _, n := range names {
		if !slices.ContainsFunc(existing, func(t store.Token) bool { return t.Name == n }) {
			return whmapi.Fail("The API token “" + n + "” does not exist."), nil
		}
	}
	for _, n := range names {
		err := d.Accounts.RevokeToken(ctx, c.User, n, actor(c, "api_token_revoke"))
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return whmapi.Envelope{}, err
		}
	}
	return whmapi.OK(nil), nil
}
