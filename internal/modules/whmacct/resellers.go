package whmacct

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/uapid/uapid/internal/accounts"
	"github.com/uapid/uapid/internal/store"
	"github.com/uapid/uapid/internal/uapi"
	"github.com/uapid/uapid/internal/whmapi"
)

// Resellers and their privileges: setupreseller, unsetupreseller,
// listresellers, setacls, listacls, saveacllist, suspendreseller,
// unsuspendreseller, terminatereseller and resellerstats. All but
// resellerstats (which a reseller may call for itself) are root's.

func registerResellers(reg *whmapi.Registry, d *Deps) {
	for name, f := range map[string]whmapi.Func{
		"setupreseller":     d.setupreseller,
		"unsetupreseller":   d.unsetupreseller,
		"listresellers":     d.listresellers,
		"setacls":           d.setacls,
		"listacls":          d.listacls,
		"saveacllist":       d.saveacllist,
		"suspendreseller":   d.suspendreseller,
		"unsuspendreseller": d.unsuspendreseller,
		"terminatereseller": d.terminatereseller,
	} {
		reg.RegisterRootOnly(name, d.guard("", f))
	}
	reg.Register("resellerstats", d.resellerstats)
}

// resellerArg reads the reseller named by user (or reseller) and checks
// that it is one.
func (d *Deps) resellerArg(ctx context.Context, args *uapi.Args, names ...string) (store.Account, *whmapi.Envelope, error) {
	var name string
	for _, n := range names {
		if v, _ := args.Get(n); v != "" {
			name = v
			break
		}
	}
	if name == "" {
		return store.Account{}, fail("The “" + names[0] + "” parameter is required."), nil
	}
	a, err := d.Dir.GetAccount(ctx, strings.ToLower(name))
	if errors.Is(err, store.ErrNotFound) {
		return store.Account{}, noAccount(name), nil
	}
	if err != nil {
		return store.Account{}, nil, err
	}
	if !a.Reseller {
		return store.Account{}, fail("The account “" + a.User + "” is not a reseller."), nil
	}
	return a, nil, nil
}

// setupreseller gives an account (user) reseller privileges, with no ACLs
// until setacls gives some; makeowner=1 makes it own itself.
func (d *Deps) setupreseller(ctx context.Context, c uapi.Caller, args *uapi.Args) (whmapi.Envelope, error) {
	if f := required(args, "user"); f != nil {
		return *f, nil
	}
	name, _ := args.Get("user")
	own, f := boolArg(args, "makeowner")
	if f != nil {
		return *f, nil
	}
	_, err := d.Accounts.SetupReseller(ctx, name, own, actor(c, "setupreseller"))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return *noAccount(name), nil
	case errors.Is(err, store.ErrInvalid):
		return whmapi.Fail(invalidText(err)), nil
	case err != nil:
		return whmapi.Envelope{}, err
	}
	return whmapi.OK(nil), nil
}

// unsetupreseller takes reseller privileges away (user). A reseller that
// still owns accounts is refused.
func (d *Deps) unsetupreseller(ctx context.Context, c uapi.Caller, args *uapi.Args) (whmapi.Envelope, error) {
	a, f, err := d.resellerArg(ctx, args, "user")
	if err != nil || f != nil {
		return deref(f), err
	}
	owned, err := d.Accounts.Owned(ctx, a.User)
	if err != nil {
		return whmapi.Envelope{}, err
	}
	if len(owned) > 0 {
		return whmapi.Fail(stillOwns(a.User, users(owned))), nil
	}
	if _, err := d.Accounts.UnsetupReseller(ctx, a.User, actor(c, "unsetupreseller")); err != nil {
		if errors.Is(err, store.ErrInvalid) {
			return whmapi.Fail(invalidText(err)), nil
		}
		return whmapi.Envelope{}, err
	}
	return whmapi.OK(nil), nil
}

func users(as []store.Account) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.User
	}
	return out
}

// listresellers lists the resellers' user names, sorted, as data.reseller.
func (d *Deps) listresellers(ctx context.Context, c uapi.Caller, args *uapi.Args) (whmapi.Envelope, error) {
	all, err := d.Dir.ListAccounts(ctx)
	if err != nil {
		return whmapi.Envelope{}, err
	}
	names := []string{}
	for _, a := range all {
		if a.Reseller {
			names = append(names, a.User)
		}
	}
	return whmapi.OK(map[string]any{"reseller": names}), nil
}

// aclFlags returns the acl-NAME parameters: the names set to 1 and those
// set to 0.
func aclFlags(args *uapi.Args) (on, off []string, problem *whmapi.Envelope) {
	for _, k := range args.Keys() {
		name, ok := strings.CutPrefix(k, "acl-")
		if !ok {
			continue
		}
		if !store.ValidACLName(name) {
			return nil, nil, fail("“" + name + "” is not a valid privilege name.")
		}
		v, f := boolArg(args, k)
		if f != nil {
			return nil, nil, f
		}
		if v {
			on = append(on, name)
		} else {
			off = append(off, name)
		}
	}
	return on, off, nil
}

// setacls sets a reseller's privileges (reseller, or user): the ones of
// the named list acllist, plus every acl-NAME=1 parameter (without a list,
// the acl-NAME=1 parameters are the whole set).
func (d *Deps) setacls(ctx context.Context, c uapi.Caller, args *uapi.Args) (whmapi.Envelope, error) {
	a, f, err := d.resellerArg(ctx, args, "reseller", "user")
	if err != nil || f != nil {
		return deref(f), err
	}
	on, off, f := aclFlags(args)
	if f != nil {
		return *f, nil
	}
	var acls []string
	if list, _ := args.Get("acllist"); list != "" {
		lists, err := d.aclLists(ctx)
		if err != nil {
			return whmapi.Envelope{}, err
		}
		i := slices.IndexFunc(lists, func(l store.ACLList) bool { return l.Name == list })
		if i < 0 {
			return whmapi.Fail("The ACL list “" + list + "” does not exist."), nil
		}
		acls = slices.Clone(lists[i].ACLs)
	}
	acls = append(acls, on...)
	acls = slices.DeleteFunc(acls, func(s string) bool { return slices.Contains(off, s) })
	if _, err := d.Accounts.SetACLs(ctx, a.User, acls, actor(c, "setacls")); err != nil {
		if errors.Is(err, store.ErrInvalid) {
			return whmapi.Fail(invalidText(err)), nil
		}
		return whmapi.Envelope{}, err
	}
	return whmapi.OK(nil), nil
}

func (d *Deps) aclLists(ctx context.Context) ([]store.ACLList, error) {
	if d.Packages == nil {
		return nil, nil
	}
	return d.Packages.ListACLLists(ctx)
}

// listacls lists the named ACL lists as data.acl: [{name, acls: {NAME: 1
// for each privilege of every known name}}].
func (d *Deps) listacls(ctx context.Context, c uapi.Caller, args *uapi.Args) (whmapi.Envelope, error) {
	lists, err := d.aclLists(ctx)
	if err != nil {
		return whmapi.Envelope{}, err
	}
	out := []map[string]any{}
	for _, l := range lists {
		out = append(out, map[string]any{"name": l.Name, "acls": aclMap(l.ACLs)})
	}
	return whmapi.OK(map[string]any{"acl": out}), nil
}

// knownACLs are WHM's privilege names, shown with 0 or 1 by listacls.
var knownACLs = []string{"add-pkg", "add-pkg-ip", "add-pkg-shell", "all", "allow-addoncreate", "allow-emaillimits-pkgs",
	"allow-parkedcreate", "allow-unlimited-bw-pkgs", "allow-unlimited-disk-pkgs", "allow-unlimited-pkgs", "create-acct",
	"create-dns", "edit-account", "edit-dns", "edit-mx", "edit-pkg", "kill-acct", "kill-dns", "limit-bandwidth",
	"list-accts", "mailcheck", "park-dns", "passwd", "quota", "rearrange-accts", "res-cart", "show-bandwidth",
	"ssl", "ssl-gencrt", "status", "suspend-acct", "upgrade-account", "viewglobalpackages"}

func aclMap(acls []string) map[string]int {
	m := map[string]int{}
	for _, k := range knownACLs {
		m[k] = 0
	}
	for _, a := range acls {
		m[a] = 1
	}
	return m
}

// saveacllist creates or replaces the ACL list acllist with the
// privileges given as acl-NAME=1.
func (d *Deps) saveacllist(ctx context.Context, c uapi.Caller, args *uapi.Args) (whmapi.Envelope, error) {
	if f := required(args, "acllist"); f != nil {
		return *f, nil
	}
	name, _ := args.Get("acllist")
	on, _, f := aclFlags(args)
	if f != nil {
		return *f, nil
	}
	err := d.Accounts.SaveACLList(ctx, store.ACLList{Name: name, ACLs: on}, actor(c, "saveacllist"))
	switch {
	case errors.Is(err, store.ErrInvalid):
		return whmapi.Fail(invalidText(err)), nil
	case err != nil:
		return whmapi.Envelope{}, err
	}
	return whmapi.OK(map[string]any{"acllist": name}), nil
}

// suspendreseller suspends a reseller (user) and every account it owns
// (reason; disallow=1 locks them for root), ending their sessions.
func (d *Deps) suspendreseller(ctx context.Context, c uapi.Caller, args *uapi.Args) (whmapi.Envelope, error) {
	a, f, err := d.resellerArg(ctx, args, "user", "reseller")
	if err != nil || f != nil {
		return deref(f), err
	}
	lock, f := boolArg(args, "disallow")
	if f != nil {
		return *f, nil
	}
	reason, _ := args.Get("reason")
	owned, err := d.Accounts.Owned(ctx, a.User)
	if err != nil {
		return whmapi.Envelope{}, err
	}
	var out strings.Builder
	for _, o := range append(owned, a) {
		if _, _, err := d.Accounts.Suspend(ctx, o.User, reason, lock, actor(c, "suspendreseller")); err != nil && !errors.Is(err, store.ErrNotFound) {
			return whmapi.Envelope{}, err
		}
		out.WriteString(o.User + "'s account has been suspended\n")
	}
	env := whmapi.OK(nil)
	env.Metadata.Output = &whmapi.Output{Raw: out.String()}
	return env, nil
}

// unsuspendreseller lifts the suspension of a reseller (user) and of
// every account it owns.
func (d *Deps) unsuspendreseller(ctx context.Context, c uapi.Caller, args *uapi.Args) (whmapi.Envelope, error) {
	a, f, err := d.resellerArg(ctx, args, "user", "reseller")
	if err != nil || f != nil {
		return deref(f), err
	}
	owned, err := d.Accounts.Owned(ctx, a.User)
	if err != nil {
		return whmapi.Envelope{}, err
	}
	var out strings.Builder
	for _, o := range append([]store.Account{a}, owned...) {
		if _, err := d.Accounts.Unsuspend(ctx, o.User, actor(c, "unsuspendreseller")); err != nil &&
			!errors.Is(err, store.ErrNotFound) && !errors.Is(err, accounts.ErrLocked) {
			return whmapi.Envelope{}, err
		}
		out.WriteString(o.User + "'s account is now active\n")
	}
	env := whmapi.OK(nil)
	env.Metadata.Output = &whmapi.Output{Raw: out.String()}
	return env, nil
}

// terminatereseller removes every account a reseller (user, or reseller)
// owns and then the reseller itself, with their sessions.
func (d *Deps) terminatereseller(ctx context.Context, c uapi.Caller, args *uapi.Args) (whmapi.Envelope, error) {
	a, f, err := d.resellerArg(ctx, args, "user", "reseller")
	if err != nil || f != nil {
		return deref(f), err
	}
	owned, err := d.Accounts.Owned(ctx, a.User)
	if err != nil {
		return whmapi.Envelope{}, err
	}
	var out strings.Builder
	for _, o := range append(owned, a) {
		if _, err := d.Accounts.Remove(ctx, o.User, actor(c, "terminatereseller")); err != nil && !errors.Is(err, store.ErrNotFound) {
			if errors.Is(err, store.ErrInvalid) {
				return whmapi.Fail(invalidText(err)), nil
			}
			return whmapi.Envelope{}, err
		}
		out.WriteString(o.User + " account removed\n")
	}
	env := whmapi.OK(nil)
	env.Metadata.Reason = a.User + " account removed"
	env.Metadata.Output = &whmapi.Output{Raw: out.String()}
	return env, nil
}

// resellerstats reports a reseller's accounts (user; a reseller may ask
// for itself) with zero disk and bandwidth use, as data.reseller.
func (d *Deps) resellerstats(ctx context.Context, c uapi.Caller, args *uapi.Args) (whmapi.Envelope, error) {
	if v, _ := args.Get("user"); v == "" {
		if r, _ := args.Get("reseller"); r != "" {
			args.Add("user", r)
		}
	}
	if c.User != store.RootUser {
		if v, _ := args.Get("user"); strings.ToLower(v) != c.User {
			return whmapi.Fail(rootText), nil
		}
	}
	a, f, err := d.resellerArg(ctx, args, "user")
	if err != nil || f != nil {
		return deref(f), err
	}
	owned, err := d.Accounts.Owned(ctx, a.User)
	if err != nil {
		return whmapi.Envelope{}, err
	}
	var disk, bw int64
	accts := []map[string]any{}
	for _, o := range owned {
		dom := ""
		if len(o.Domains) > 0 {
			dom = o.Domains[0]
		}
		accts = append(accts, map[string]any{
			"user": o.User, "domain": dom, "diskused": 0, "diskquota": mbOrZero(o.Limits.Quota),
			"bandwidthused": 0, "bandwidthlimit": mbOrZero(o.Limits.BWLimit), "suspended": boolInt(o.Suspended),
			"package": defaultTo(o.Plan, defaultPlan), "deleted": 0,
		})
		disk += mbOrZero(o.Limits.Quota)
		bw += mbOrZero(o.Limits.BWLimit)
	}
	now := d.now()
	return whmapi.OK(map[string]any{"reseller": map[string]any{
		"user": a.User, "accts": accts, "diskused": 0, "diskquota": 0, "totaldiskalloc": disk,
		"totalbwused": 0, "bandwidthlimit": 0, "totalbwalloc": bw,
		"month": int(now.Month()), "year": now.Year(),
	}}), nil
}

// mbOrZero is a limit in megabytes, 0 for unlimited (cPanel's statistics).
func mbOrZero(l store.Limit) int64 {
	if !l.Limited {
		return 0
	}
	return l.N
}

var _ = time.Now
