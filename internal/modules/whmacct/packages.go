package whmacct

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/uapid/uapid/internal/accounts"
	"github.com/uapid/uapid/internal/store"
	"github.com/uapid/uapid/internal/uapi"
	"github.com/uapid/uapid/internal/whmapi"
)

// Hosting packages: listpkgs, getpkginfo, addpkg, editpkg, killpkg and
// changepackage, with cPanel's rules for resellers: a reseller's packages
// are named "<reseller>_<name>" (addpkg adds the prefix), it edits and
// removes only its own, and it sees and uses root's packages only with the
// "viewglobalpackages" privilege.

func registerPackages(reg *whmapi.Registry, d *Deps) {
	reg.Register("listpkgs", d.listpkgs)
	reg.Register("getpkginfo", d.getpkginfo)
	reg.Register("addpkg", d.guard(aclAddPkg, d.addpkg))
	reg.Register("editpkg", d.guard(aclEditPkg, d.editpkg))
	reg.Register("killpkg", d.guard(aclAddPkg, d.killpkg))
	reg.Register("changepackage", d.guard(aclUpgrade, d.changepackage))
}

// defaultLimits are the limits of an account created without a package,
// and the defaults of addpkg: everything unlimited, CGI on, cPanel's
// default feature list and theme.
var defaultLimits = store.Limits{CGI: true, FeatureList: "default", Theme: "jupiter"}

// pkgNotFound is the refusal for a package the caller cannot see.
func pkgNotFound(name string) *whmapi.Envelope {
	return fail("The package “" + name + "” does not exist.")
}

// canSee reports whether caller c may see and use package p: root all;
// a reseller its own, and root's with "viewglobalpackages".
func canSee(c uapi.Caller, caller store.Account, p store.Package) bool {
	if c.User == store.RootUser || p.Owner == c.User {
		return true
	}
	return p.Owner == store.RootUser && hasACL(caller, aclGlobalPkgs)
}

// callerAccount returns the caller's own account (zero for root).
func (d *Deps) callerAccount(ctx context.Context, c uapi.Caller) (store.Account, error) {
	if c.User == store.RootUser {
		return store.Account{}, nil
	}
	a, err := d.Dir.GetAccount(ctx, c.User)
	if errors.Is(err, store.ErrNotFound) {
		return store.Account{}, nil
	}
	return a, err
}

// visiblePackage returns the package name if caller c may use it.
func (d *Deps) visiblePackage(ctx context.Context, c uapi.Caller, name string) (store.Package, *whmapi.Envelope, error) {
	if d.Packages == nil {
		return store.Package{}, pkgNotFound(name), nil
	}
	p, err := d.Packages.GetPackage(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return store.Package{}, pkgNotFound(name), nil
	}
	if err != nil {
		return store.Package{}, nil, err
	}
	me, err := d.callerAccount(ctx, c)
	if err != nil {
		return store.Package{}, nil, err
	}
	if !canSee(c, me, p) {
		return store.Package{}, pkgNotFound(name), nil
	}
	return p, nil, nil
}

// yn is cPanel's package-file form of a flag.
func yn(b bool) string {
	if b {
		return "y"
	}
	return "n"
}

func defaultTo(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// pkgFields are a package's keys as cPanel's package files hold them
// (listpkgs answers these): limits as "unlimited" or a number in text,
// flags as "y"/"n".
func pkgFields(p store.Package) map[string]any {
	l := p.Limits
	return map[string]any{
		"name":                      p.Name,
		"QUOTA":                     l.Quota.String(),
		"BWLIMIT":                   l.BWLimit.String(),
		"MAXFTP":                    l.MaxFTP.String(),
		"MAXSQL":                    l.MaxSQL.String(),
		"MAXPOP":                    l.MaxPOP.String(),
		"MAXLST":                    l.MaxLists.String(),
		"MAXSUB":                    l.MaxSub.String(),
		"MAXPARK":                   l.MaxPark.String(),
		"MAXADDON":                  l.MaxAddon.String(),
		"MAXPASSENGERAPPS":          l.MaxPassengerApps.String(),
		"MAX_EMAILACCT_QUOTA":       l.MaxEmailAcctQuota.String(),
		"MAX_EMAIL_PER_HOUR":        l.MaxEmailPerHour.String(),
		"MAX_DEFER_FAIL_PERCENTAGE": l.MaxDeferFailPercent.String(),
		"MAX_TEAM_USERS":            l.MaxTeamUsers.String(),
		"CGI":                       yn(l.CGI),
		"HASSHELL":                  yn(l.HasShell),
		"IP":                        yn(l.DedicatedIP),
		"DIGESTAUTH":                yn(l.DigestAuth),
		"FRONTPAGE":                 "n",
		"FEATURELIST":               defaultTo(l.FeatureList, "default"),
		"CPMOD":                     defaultTo(l.Theme, "jupiter"),
		"LANG":                      defaultTo(p.Language, "en"),
		"_PACKAGE_EXTENSIONS":       "",
	}
}

// listpkgs lists the packages the caller may use, sorted by name, as
// data.pkg (API 0: "package").
func (d *Deps) listpkgs(ctx context.Context, c uapi.Caller, args *uapi.Args) (whmapi.Envelope, error) {
	list := []map[string]any{}
	if d.Packages != nil {
		all, err := d.Packages.ListPackages(ctx)
		if err != nil {
			return whmapi.Envelope{}, err
		}
		me, err := d.callerAccount(ctx, c)
		if err != nil {
			return whmapi.Envelope{}, err
		}
		want, _ := args.Get("want")
		for _, p := range all {
			if !canSee(c, me, p) {
				continue
			}
			// want=creatable|editable|viewable|all: a reseller edits only
			// its own packages.
			if want == "editable" && c.User != store.RootUser && p.Owner != c.User {
				continue
			}
			list = append(list, pkgFields(p))
		}
	}
	return whmapi.OK(map[string]any{"pkg": list}), nil
}

// getpkginfo answers one package (pkg) with its limits as numbers (null:
// unlimited) and CGI, HASSHELL and IP as 0 or 1, as data.pkg.
func (d *Deps) getpkginfo(ctx context.Context, c uapi.Caller, args *uapi.Args) (whmapi.Envelope, error) {
	if f := required(args, "pkg"); f != nil {
		return *f, nil
	}
	name, _ := args.Get("pkg")
	p, f, err := d.visiblePackage(ctx, c, name)
	if err != nil || f != nil {
		return deref(f), err
	}
	out := pkgFields(p)
	delete(out, "name")
	num := func(l store.Limit) any {
		if !l.Limited {
			return nil
		}
		return l.N
	}
	l := p.Limits
	for k, v := range map[string]store.Limit{"QUOTA": l.Quota, "BWLIMIT": l.BWLimit, "MAXFTP": l.MaxFTP, "MAXSQL": l.MaxSQL,
		"MAXPOP": l.MaxPOP, "MAXLST": l.MaxLists, "MAXSUB": l.MaxSub, "MAXPARK": l.MaxPark, "MAXADDON": l.MaxAddon,
		"MAXPASSENGERAPPS": l.MaxPassengerApps, "MAX_EMAILACCT_QUOTA": l.MaxEmailAcctQuota, "MAX_EMAIL_PER_HOUR": l.MaxEmailPerHour,
		"MAX_DEFER_FAIL_PERCENTAGE": l.MaxDeferFailPercent, "MAX_TEAM_USERS": l.MaxTeamUsers} {
		out[k] = num(v)
	}
	bit := func(b bool) int {
		if b {
			return 1
		}
		return 0
	}
	out["CGI"], out["HASSHELL"], out["IP"], out["FRONTPAGE"] = bit(l.CGI), bit(l.HasShell), bit(l.DedicatedIP), 0
	return whmapi.OK(map[string]any{"pkg": out}), nil
}

// lowerArgs returns the value of name given in any letter case (cPanel
// accepts LANG as well as lang); ok reports whether it was given.
func lowerArg(args *uapi.Args, name string) (string, bool) {
	for _, k := range args.Keys() {
		if strings.EqualFold(k, name) {
			v, _ := args.Get(k)
			return v, true
		}
	}
	return "", false
}

// limitArg parses a limit parameter: "unlimited" (or empty) is no limit,
// else a whole number. zeroUnlimited: 0 also means no limit (quota,
// bwlimit, as in createacct).
func limitArg(args *uapi.Args, name string, cur store.Limit, zeroUnlimited bool) (store.Limit, *whmapi.Envelope) {
	v, ok := lowerArg(args, name)
	if !ok {
		return cur, nil
	}
	v = strings.TrimSpace(v)
	if v == "" || strings.EqualFold(v, "unlimited") {
		return store.Unlimited, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > 999999999 {
		return cur, fail("Invalid value “" + v + "” for the “" + strings.ToLower(name) + "” setting.")
	}
	if n == 0 && zeroUnlimited {
		return store.Unlimited, nil
	}
	return store.LimitOf(n), nil
}

// flagArg parses a yes/no parameter (1/0, y/n, yes/no, on/off, true/false).
func flagArg(args *uapi.Args, name string, cur bool) (bool, *whmapi.Envelope) {
	v, ok := lowerArg(args, name)
	if !ok {
		return cur, nil
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "y", "yes", "on", "true":
		return true, nil
	case "", "0", "n", "no", "off", "false":
		return false, nil
	}
	return cur, fail("Invalid value “" + v + "” for the “" + strings.ToLower(name) + "” setting.")
}

// packageArgs applies addpkg's and editpkg's parameters (in any letter
// case, as cPanel takes them) to l and language.
func (d *Deps) packageArgs(args *uapi.Args, l store.Limits, language string) (store.Limits, string, *whmapi.Envelope) {
	var f *whmapi.Envelope
	for _, x := range []struct {
		name string
		dst  *store.Limit
		zero bool
	}{
		{"quota", &l.Quota, true}, {"bwlimit", &l.BWLimit, true}, {"maxftp", &l.MaxFTP, false}, {"maxsql", &l.MaxSQL, false},
		{"maxpop", &l.MaxPOP, false}, {"maxlst", &l.MaxLists, false}, {"maxsub", &l.MaxSub, false}, {"maxpark", &l.MaxPark, false},
		{"maxaddon", &l.MaxAddon, false}, {"maxpassengerapps", &l.MaxPassengerApps, false},
		{"max_emailacct_quota", &l.MaxEmailAcctQuota, true}, {"max_email_per_hour", &l.MaxEmailPerHour, false},
		{"max_defer_fail_percentage", &l.MaxDeferFailPercent, false}, {"max_team_users", &l.MaxTeamUsers, false},
	} {
		if *x.dst, f = limitArg(args, x.name, *x.dst, x.zero); f != nil {
			return l, language, f
		}
	}
	for _, x := range []struct {
		name string
		dst  *bool
	}{{"cgi", &l.CGI}, {"hasshell", &l.HasShell}, {"ip", &l.DedicatedIP}, {"digestauth", &l.DigestAuth}} {
		if *x.dst, f = flagArg(args, x.name, *x.dst); f != nil {
			return l, language, f
		}
	}
	if v, ok := lowerArg(args, "featurelist"); ok && v != "" {
		l.FeatureList = v
	}
	if v, ok := lowerArg(args, "cpmod"); ok && v != "" {
		l.Theme = v
	}
	for _, k := range []string{"language", "lang"} {
		if v, ok := lowerArg(args, k); ok && v != "" {
			if len(d.Locales) > 0 && !slices.Contains(d.Locales, v) {
				return l, language, fail("“" + v + "” does not refer to any of this system’s locales.")
			}
			language = v
		}
	}
	return l, language, nil
}

// packageName reads addpkg's name (or pkgname) and gives a reseller's its
// "<reseller>_" prefix, as cPanel does.
func packageName(c uapi.Caller, args *uapi.Args) (string, *whmapi.Envelope) {
	name, _ := args.Get("name")
	if name == "" {
		name, _ = args.Get("pkgname")
	}
	if name == "" {
		return "", fail("No package supplied: “pkgname” or “name” is a required argument.")
	}
	if c.User != store.RootUser {
		name = c.User + "_" + strings.TrimPrefix(name, c.User+"_")
	}
	if !store.ValidPackageName(name) {
		return "", fail("“" + name + "” is not a valid package name: use 1 to 64 letters, digits, spaces, underscores (_), hyphens (-) and periods (.), not starting with a space or a period.")
	}
	return name, nil
}

// addpkg creates a package: name (or pkgname) and the limits quota,
// bwlimit, maxftp, maxsql, maxpop, maxlst, maxsub, maxpark, maxaddon,
// maxpassengerapps, max_emailacct_quota, max_email_per_hour,
// max_defer_fail_percentage, max_team_users ("unlimited" or a number;
// absent: unlimited), cgi (default 1), hasshell, ip, digestauth,
// featurelist, cpmod, language. data: {"pkg": name}.
func (d *Deps) addpkg(ctx context.Context, c uapi.Caller, args *uapi.Args) (whmapi.Envelope, error) {
	name, f := packageName(c, args)
	if f != nil {
		return *f, nil
	}
	l, lang, f := d.packageArgs(args, defaultLimits, "en")
	if f != nil {
		return *f, nil
	}
	_, err := d.Accounts.CreatePackage(ctx, store.Package{Name: name, Owner: c.User, Limits: l, Language: lang}, actor(c, "addpkg"))
	switch {
	case errors.Is(err, store.ErrExists):
		return whmapi.Fail("The package “" + name + "” already exists. If you wish to make changes, please edit the package."), nil
	case errors.Is(err, store.ErrInvalid):
		return whmapi.Fail(invalidText(err)), nil
	case err != nil:
		return whmapi.Envelope{}, err
	}
	return whmapi.OK(map[string]any{"pkg": name}), nil
}

// editpkg changes the given settings of a package the caller may edit
// (root: any; a reseller: its own) and applies them to the accounts on
// it that the caller manages.
func (d *Deps) editpkg(ctx context.Context, c uapi.Caller, args *uapi.Args) (whmapi.Envelope, error) {
	name, f := packageName(c, args)
	if f != nil {
		return *f, nil
	}
	p, f, err := d.visiblePackage(ctx, c, name)
	if err != nil {
		return whmapi.Envelope{}, err
	}
	if f != nil || (c.User != store.RootUser && p.Owner != c.User) {
		return whmapi.Fail("“_modpkg” requires a package name that you have permission to access."), nil
	}
	var problem *whmapi.Envelope
	_, _, err = d.Accounts.EditPackage(ctx, name, func(p *store.Package) error {
		p.Limits, p.Language, problem = d.packageArgs(args, p.Limits, p.Language)
		if problem != nil {
			return errStop
		}
		return nil
	}, actor(c, "editpkg"))
	switch {
	case problem != nil:
		return *problem, nil
	case errors.Is(err, store.ErrNotFound):
		return *pkgNotFound(name), nil
	case errors.Is(err, store.ErrInvalid):
		return whmapi.Fail(invalidText(err)), nil
	case err != nil:
		return whmapi.Envelope{}, err
	}
	return whmapi.OK(map[string]any{"pkg": name}), nil
}

// errStop aborts an update whose function found a problem it reports
// itself.
var errStop = errors.New("stop")

// killpkg removes a package the caller may edit (pkgname; also pkg).
// Accounts on it keep its name and limits.
func (d *Deps) killpkg(ctx context.Context, c uapi.Caller, args *uapi.Args) (whmapi.Envelope, error) {
	name, _ := args.Get("pkgname")
	if name == "" {
		name, _ = args.Get("pkg")
	}
	if name == "" {
		return whmapi.Fail("The “pkgname” parameter is required."), nil
	}
	p, f, err := d.visiblePackage(ctx, c, name)
	if err != nil || f != nil {
		return deref(f), err
	}
	if c.User != store.RootUser && p.Owner != c.User {
		return *pkgNotFound(name), nil
	}
	if err := d.Accounts.RemovePackage(ctx, name, actor(c, "killpkg")); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return *pkgNotFound(name), nil
		}
		return whmapi.Envelope{}, err
	}
	return whmapi.OK(nil), nil
}

// changepackage gives an account (user) a package (pkg) the caller may
// use: its name as the plan and its limits. Reason "Account
// Upgrade/Downgrade Complete for <user>".
func (d *Deps) changepackage(ctx context.Context, c uapi.Caller, args *uapi.Args) (whmapi.Envelope, error) {
	if f := required(args, "user", "pkg"); f != nil {
		return *f, nil
	}
	name, _ := args.Get("user")
	acct, f, err := d.managed(ctx, c, name)
	if err != nil || f != nil {
		return deref(f), err
	}
	pkgName, _ := args.Get("pkg")
	p, f, err := d.visiblePackage(ctx, c, pkgName)
	if err != nil || f != nil {
		return deref(f), err
	}
	if _, err := d.Accounts.ChangePackage(ctx, acct.User, p, actor(c, "changepackage")); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return *noAccount(name), nil
		}
		return whmapi.Envelope{}, err
	}
	env := whmapi.OK(nil)
	env.Metadata.Reason = "Account Upgrade/Downgrade Complete for " + acct.User
	env.Metadata.Output = &whmapi.Output{Raw: "Changing the package of “" + acct.User + "” to “" + p.Name + "”…\n" +
		"Bandwidth limit: " + p.Limits.BWLimit.String() + "\nDisk quota: " + p.Limits.Quota.String() +
		"\nEmail accounts: " + p.Limits.MaxPOP.String() + "\nAccount Upgrade/Downgrade Complete for " + acct.User + "\n"}
	return env, nil
}

var _ = accounts.ErrLocked
