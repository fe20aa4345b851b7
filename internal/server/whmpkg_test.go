package server_test

import (
	"encoding/json"
	"testing"

	"github.com/uapid/uapid/internal/testserver"
)

// TestWHMPackagesResellersACLs covers the new WHM functions: success,
// missing arguments, unknown users and packages, reseller prefixes and
// visibility, privilege refusals, and both API shapes.
func TestWHMPackagesResellersACLs(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	root := testserver.Basic("root", testserver.RootPassword)
	res := testserver.Basic("res", testserver.ResPassword)

	// Packages: root's and a reseller's (prefixed).
	provWHM(t, srv, root, "addpkg", provQ("name", "gold", "maxpop", "1", "quota", "100"), 1, "OK")
	provWHM(t, srv, root, "addpkg", provQ("name", "gold"), 0, "The package “gold” already exists. If you wish to make changes, please edit the package.")
	provWHM(t, srv, root, "addpkg", nil, 0, "No package supplied: “pkgname” or “name” is a required argument.")
	provWHM(t, srv, root, "addpkg", provQ("name", "bad", "maxpop", "lots"), 0, "Invalid value “lots” for the “maxpop” setting.")
	if d := provWHM(t, srv, res, "addpkg", provQ("name", "mini", "maxpop", "2"), 1, "OK").(map[string]any); d["pkg"] != "res_mini" {
		t.Fatalf("reseller package %v", d)
	}
	d := provWHM(t, srv, root, "getpkginfo", provQ("pkg", "gold"), 1, "OK").(map[string]any)["pkg"].(map[string]any)
	if d["MAXPOP"] != json.Number("1") || d["MAXSQL"] != nil || d["CGI"] != json.Number("1") {
		t.Fatalf("getpkginfo %v", d)
	}
	provWHM(t, srv, root, "getpkginfo", provQ("pkg", "nope"), 0, "The package “nope” does not exist.")
	provWHM(t, srv, root, "getpkginfo", nil, 0, "The “pkg” parameter is required.")
	// The reseller sees root's packages (viewglobalpackages) and its own.
	if l := provWHM(t, srv, res, "listpkgs", nil, 1, "OK").(map[string]any)["pkg"].([]any); len(l) != 2 {
		t.Fatalf("reseller listpkgs %v", l)
	}
	provWHM(t, srv, res, "editpkg", provQ("name", "gold", "maxpop", "9"), 0, "“_modpkg” requires a package name that you have permission to access.")
	provWHM(t, srv, res, "editpkg", provQ("name", "mini", "maxpop", "3"), 1, "OK")

	// changepackage: carol (res's) onto res_mini; alice is not res's.
	provWHM(t, srv, res, "changepackage", provQ("user", "carol", "pkg", "res_mini"), 1, "Account Upgrade/Downgrade Complete for carol")
	provWHM(t, srv, res, "changepackage", provQ("user", "alice", "pkg", "res_mini"), 0, "You do not have permission to manage the account “alice”.")
	provWHM(t, srv, root, "changepackage", provQ("user", "nobody", "pkg", "gold"), 0, "The account “nobody” does not exist.")
	provWHM(t, srv, root, "changepackage", provQ("user", "bob"), 0, "The “pkg” parameter is required.")
	if a := summary(t, srv, root, "user", "carol"); a["plan"] != "res_mini" || a["maxpop"] != "3" {
		t.Fatalf("carol after changepackage %v", a)
	}
	// MAXPOP 3: carol has one mailbox, two more fit.
	carol := testserver.Basic("carol", testserver.CarolPassword)
	for i, want := range []string{"1", "1", "0"} {
		v := provUAPI(t, srv, "cpaneld", carol, "Email/add_pop", provQ("email", "m"+itoa(i), "password", "Mail-pass-123"))
		if v["status"] != json.Number(want) {
			t.Fatalf("add_pop %d: %v", i, v)
		}
	}

	// Privileges: take suspend-acct away from res.
	provWHM(t, srv, root, "setacls", provQ("reseller", "res", "acl-list-accts", "1"), 1, "OK")
	provWHM(t, srv, res, "suspendacct", provQ("user", "carol"), 0, "Permission denied: you do not have the “suspend-acct” privilege.")
	provWHM(t, srv, res, "createacct", provQ("username", "newone", "domain", "newone.test"), 0, "Permission denied: you do not have the “create-acct” privilege.")
	provWHM(t, srv, root, "saveacllist", provQ("acllist", "full", "acl-suspend-acct", "1", "acl-list-accts", "1"), 1, "OK")
	provWHM(t, srv, root, "setacls", provQ("reseller", "res", "acllist", "full"), 1, "OK")
	provWHM(t, srv, res, "suspendacct", provQ("user", "carol"), 1, "OK")
	provWHM(t, srv, root, "setacls", provQ("reseller", "res", "acllist", "none"), 0, "The ACL list “none” does not exist.")
	provWHM(t, srv, root, "setacls", provQ("reseller", "bob"), 0, "The account “bob” is not a reseller.")
	provWHM(t, srv, res, "setupreseller", provQ("user", "carol"), 0, "Permission denied: only root can call this function.")
	l := provWHM(t, srv, root, "listacls", nil, 1, "OK").(map[string]any)["acl"].([]any)
	if len(l) != 1 || path(l[0], "acls", "suspend-acct") != json.Number("1") || path(l[0], "acls", "kill-acct") != json.Number("0") {
		t.Fatalf("listacls %v", l)
	}

	// Reseller lifecycle: bob becomes one, owns itself, is listed; cannot
	// be unset while res (another) keeps carol — res can't be unset.
	provWHM(t, srv, root, "setupreseller", provQ("user", "bob", "makeowner", "1"), 1, "OK")
	if r := provWHM(t, srv, root, "listresellers", nil, 1, "OK").(map[string]any)["reseller"].([]any); len(r) != 2 {
		t.Fatalf("listresellers %v", r)
	}
	provWHM(t, srv, root, "unsetupreseller", provQ("user", "res"), 0, "The reseller “res” still owns accounts (“carol”); remove them or give them another owner first.")
	provWHM(t, srv, root, "unsetupreseller", provQ("user", "bob"), 1, "OK")
	provWHM(t, srv, root, "unsuspendreseller", provQ("user", "res"), 1, "OK")
	provWHM(t, srv, root, "suspendreseller", provQ("user", "res", "reason", "Unpaid"), 1, "OK")
	if a := summary(t, srv, root, "user", "carol"); a["suspended"] != json.Number("1") {
		t.Fatalf("carol after suspendreseller %v", a)
	}
	st := provWHM(t, srv, root, "resellerstats", provQ("user", "res"), 1, "OK").(map[string]any)["reseller"].(map[string]any)
	if len(st["accts"].([]any)) != 1 || st["diskused"] != json.Number("0") {
		t.Fatalf("resellerstats %v", st)
	}

	// modifyacct: rename bob, change the domain; refusals.
	provWHM(t, srv, root, "modifyacct", provQ("user", "bob", "newuser", "alice"), 0, "This system already has an account named “alice”.")
	provWHM(t, srv, root, "modifyacct", provQ("user", "bob", "domain", "alice.test"), 0, "The domain “alice.test” already belongs to an account on this server.")
	provWHM(t, srv, root, "modifyacct", provQ("user", "nobody", "newuser", "x"), 0, "The account “nobody” does not exist.")
	m := provWHM(t, srv, root, "modifyacct", provQ("user", "bob", "newuser", "robert", "domain", "robert.test", "MAXPOP", "7"), 1, "Account Modified").(map[string]any)
	if path(m, "newcfg", "USER") != "robert" || path(m, "newcfg", "DNS") != "robert.test" || path(m, "newcfg", "MAXPOP") != "7" {
		t.Fatalf("modifyacct %v", m)
	}
	if v := provUAPI(t, srv, "cpaneld", testserver.Basic("robert", testserver.BobPassword), "Email/list_pops", nil); v["status"] != json.Number("1") {
		t.Fatalf("robert's mailboxes: %v", v)
	}
	if u := provWHM(t, srv, root, "getdomainowner", provQ("domain", "robert.test"), 1, "OK").(map[string]any); u["user"] != "robert" {
		t.Fatalf("getdomainowner %v", u)
	}
	provWHM(t, srv, root, "verify_new_username", provQ("user", "robert"), 0, "This system already has an account named “robert”.")

	// API 0 shapes.
	b := billing{t, srv, root}
	if v := b.form("listpkgs"); len(v["package"].([]any)) != 2 {
		t.Fatalf("API 0 listpkgs %v", v)
	}
	if v := b.form("changepackage", "user", "robert", "pkg", "nope"); path(v, "result", 0, "status") != json.Number("0") ||
		path(v, "result", 0, "statusmsg") != "The package “nope” does not exist." {
		t.Fatalf("API 0 changepackage %v", v)
	}
	if v := b.form("listacls"); path(v, "acls", "full", "suspend-acct") != json.Number("1") {
		t.Fatalf("API 0 listacls %v", v)
	}
	if v := b.form("getpkginfo", "pkg", "gold"); path(v, "cpanelresult", "data", "result") != "0" {
		t.Fatalf("API 0 refusal %v", v)
	}
	// A refused authentication on WHM answers WHM's shape.
	r := srv.Get("whostmgrd", "/json-api/listaccts?api.version=1", testserver.Basic("root", "wrong"))
	if r.StatusCode != 401 || path(r.JSON(t), "cpanelresult", "error") != "Access denied" {
		t.Fatalf("401 body %s", r.Body)
	}

	// terminatereseller removes res and carol.
	provWHM(t, srv, root, "terminatereseller", provQ("user", "res"), 1, "res account removed")
	provWHM(t, srv, root, "accountsummary", provQ("user", "carol"), 0, "The account “carol” does not exist.")
}
