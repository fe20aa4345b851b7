package whmacct

import (
	"context"
	"errors"
	"slices"

	"github.com/uapid/uapid/internal/store"
	"github.com/uapid/uapid/internal/uapi"
	"github.com/uapid/uapid/internal/whmapi"
)

// The privileges (cPanel's ACL names) uapid checks for a reseller, by
// function. Root passes every check; a reseller with "all" too.
const (
	aclListAccts     = "list-accts"
	aclCreateAcct    = "create-acct"
	aclSuspendAcct   = "suspend-acct"
	aclKillAcct      = "kill-acct"
	aclPasswd        = "passwd"
	aclUpgrade       = "upgrade-account"
	aclEditAccount   = "edit-account"
	aclAddPkg        = "add-pkg"
	aclEditPkg       = "edit-pkg"
	aclGlobalPkgs    = "viewglobalpackages"
	aclShowBandwidth = "show-bandwidth"
	aclAll           = "all"
)

// aclText is the refusal of a reseller that lacks acl.
func aclText(acl string) string {
	return "Permission denied: you do not have the “" + acl + "” privilege."
}

// rootText is the refusal of a function only root may call.
const rootText = "Permission denied: only root can call this function."

// hasACL reports whether acct (a reseller) holds acl.
func hasACL(acct store.Account, acl string) bool {
	return slices.Contains(acct.ACLs, aclAll) || slices.Contains(acct.ACLs, acl)
}

// require refuses caller c unless it is root or a reseller holding acl.
func (d *Deps) require(ctx context.Context, c uapi.Caller, acl string) (*whmapi.Envelope, error) {
	if c.User == store.RootUser {
		return nil, nil
	}
	a, err := d.Dir.GetAccount(ctx, c.User)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fail(aclText(acl)), nil
	case err != nil:
		return nil, err
	case !a.Reseller || !hasACL(a, acl):
		return fail(aclText(acl)), nil
	}
	return nil, nil
}

// rootOnly refuses every caller but root.
func rootOnly(c uapi.Caller) *whmapi.Envelope {
	if c.User == store.RootUser {
		return nil
	}
	return fail(rootText)
}

// guard wraps f so that it runs only for callers holding acl ("" for
// root only).
func (d *Deps) guard(acl string, f whmapi.Func) whmapi.Func {
	return func(ctx context.Context, c uapi.Caller, args *uapi.Args) (whmapi.Envelope, error) {
		if acl == "" {
			if e := rootOnly(c); e != nil {
				return *e, nil
			}
			return f(ctx, c, args)
		}
		e, err := d.require(ctx, c, acl)
		if err != nil || e != nil {
			return deref(e), err
		}
		return f(ctx, c, args)
	}
}
