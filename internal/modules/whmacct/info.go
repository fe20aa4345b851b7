package whmacct

import (
	"context"
	"errors"
	"strings"

	"github.com/uapid/uapid/internal/store"
	"github.com/uapid/uapid/internal/uapi"
	"github.com/uapid/uapid/internal/whmapi"
)

// Read-only functions integrators call around provisioning:
// domainuserdata, getdomainowner, listsuspended, get_nameserver_config
// and showbw (uapid measures no bandwidth: usage is zero).

func registerInfo(reg *whmapi.Registry, d *Deps) {
	reg.Register("domainuserdata", d.guard(aclListAccts, d.domainuserdata))
	reg.Register("getdomainowner", d.guard(aclListAccts, d.getdomainowner))
	reg.Register("listsuspended", d.guard(aclListAccts, d.listsuspended))
	reg.Register("get_nameserver_config", d.getNameserverConfig)
	reg.Register("showbw", d.guard(aclShowBandwidth, d.showbw))
}

// domainAccount returns the account owning the domain argument if the
// caller sees it.
func (d *Deps) domainAccount(ctx context.Context, c uapi.Caller, args *uapi.Args) (store.Account, *whmapi.Envelope, error) {
	if f := required(args, "domain"); f != nil {
		return store.Account{}, f, nil
	}
	arg, _ := args.Get("domain")
	owner, err := d.Dir.DomainOwner(ctx, strings.ToLower(arg))
	if errors.Is(err, store.ErrNotFound) {
		return store.Account{}, fail("No account owns the domain “" + arg + "”."), nil
	}
	if err != nil {
		return store.Account{}, nil, err
	}
	a, err := d.Dir.GetAccount(ctx, owner)
	if err != nil {
		return store.Account{}, nil, err
	}
	if !visible(c, a) {
		return store.Account{}, fail("No account owns the domain “" + arg + "”."), nil
	}
	return a, nil, nil
}

// domainuserdata answers a domain's virtual host data as data.userdata.
func (d *Deps) domainuserdata(ctx context.Context, c uapi.Caller, args *uapi.Args) (whmapi.Envelope, error) {
	a, f, err := d.domainAccount(ctx, c, args)
	if err != nil || f != nil {
		return deref(f), err
	}
	dom, _ := args.Get("domain")
	dom = strings.ToLower(dom)
	root := "/home/" + a.User + "/public_html"
	if len(a.Domains) > 0 && dom != a.Domains[0] {
		root = "/home/" + a.User + "/" + dom
	}
	return whmapi.OK(map[string]any{"userdata": map[string]any{
		"documentroot": root, "group": a.User, "homedir": "/home/" + a.User, "ip": d.SharedIP,
		"owner": a.Owner, "phpopenbasedirprotect": 1, "port": "80", "serveradmin": "webmaster@" + dom,
		"serveralias": "www." + dom, "servername": dom, "usecanonicalname": "Off", "user": a.User,
	}}), nil
}

// getdomainowner answers the account owning a domain as data.user (null
// when none does or the caller does not see it).
func (d *Deps) getdomainowner(ctx context.Context, c uapi.Caller, args *uapi.Args) (whmapi.Envelope, error) {
	if f := required(args, "domain"); f != nil {
		return *f, nil
	}
	a, f, err := d.domainAccount(ctx, c, args)
	if err != nil {
		return whmapi.Envelope{}, err
	}
	if f != nil {
		return whmapi.OK(map[string]any{"user": nil}), nil
	}
	return whmapi.OK(map[string]any{"user": a.User}), nil
}

// listsuspended lists the suspended accounts the caller sees as
// data.account: user, owner, reason, time (as cPanel prints it),
// unixtime, is_locked.
func (d *Deps) listsuspended(ctx context.Context, c uapi.Caller, args *uapi.Args) (whmapi.Envelope, error) {
	all, err := d.Dir.ListAccounts(ctx)
	if err != nil {
		return whmapi.Envelope{}, err
	}
	out := []map[string]any{}
	for _, a := range all {
		if !a.Suspended || !visible(c, a) {
			continue
		}
		e := map[string]any{"user": a.User, "owner": a.Owner, "reason": defaultTo(a.SuspendReason, "Unknown"),
			"is_locked": boolInt(a.SuspendLocked), "time": nil, "unixtime": nil}
		if !a.SuspendedAt.IsZero() {
			e["time"] = a.SuspendedAt.Local().Format("Mon Jan  2 15:04:05 2006")
			e["unixtime"] = a.SuspendedAt.Unix()
		}
		out = append(out, e)
	}
	return whmapi.OK(map[string]any{"account": out}), nil
}

// get_nameserver_config answers the configured name servers
// (--nameservers) as data.nameservers.
func (d *Deps) getNameserverConfig(ctx context.Context, c uapi.Caller, args *uapi.Args) (whmapi.Envelope, error) {
	ns := append([]string{}, d.Nameservers...)
	return whmapi.OK(map[string]any{"nameservers": ns}), nil
}

// showbw reports the bandwidth of the accounts the caller sees (search
// and searchtype as listaccts), all zero, as data.acct with month, year,
// reseller and totalused.
func (d *Deps) showbw(ctx context.Context, c uapi.Caller, args *uapi.Args) (whmapi.Envelope, error) {
	match, f := matcher(args)
	if f != nil {
		return *f, nil
	}
	all, err := d.Dir.ListAccounts(ctx)
	if err != nil {
		return whmapi.Envelope{}, err
	}
	accts := []map[string]any{}
	for _, a := range all {
		if !visible(c, a) || !match(a) {
			continue
		}
		dom := ""
		if len(a.Domains) > 0 {
			dom = a.Domains[0]
		}
		usage := []map[string]any{}
		for _, x := range a.Domains {
			usage = append(usage, map[string]any{"domain": x, "usage": 0})
		}
		accts = append(accts, map[string]any{
			"user": a.User, "maindomain": dom, "owner": a.Owner, "deleted": 0,
			"limit": mbOrZero(a.Limits.BWLimit) * 1024 * 1024, "totalbytes": 0, "bwusage": usage,
		})
	}
	now := d.now()
	return whmapi.OK(map[string]any{"acct": accts, "month": int(now.Month()), "year": now.Year(),
		"reseller": c.User, "totalused": 0}), nil
}
