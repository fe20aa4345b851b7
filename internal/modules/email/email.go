// Package email is the part of the UAPI Email module that manages mailboxes
// (cPanel's "POP" accounts): add_pop, list_pops, delete_pop, passwd_pop,
// suspend_login and unsuspend_login. A mailbox belongs to the cPanel account
// that owns its domain; a function only ever sees the calling account's own
// mailboxes.
//
// Changing a mailbox's password, suspending its login or deleting it ends
// every session of that mailbox at once (Webmail cookies, unused login
// URLs), as cPanel drops the mailbox's connections.
package email

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/uapid/uapid/internal/accounts"
	"github.com/uapid/uapid/internal/passwd"
	"github.com/uapid/uapid/internal/store"
	"github.com/uapid/uapid/internal/uapi"
)

// Module is the module's name.
const Module = "Email"

// Deps are what the Email functions need.
type Deps struct {
	Dir store.Directory
	// Accounts runs every change of a mailbox (with its session endings
	// and audit events).
	Accounts *accounts.Service
}

// Register adds the Email functions to reg.
func Register(reg *uapi.Registry, d *Deps) {
	for name, f := range map[string]uapi.Func{
		"add_pop":         d.addPop,
		"list_pops":       d.listPops,
		"delete_pop":      d.deletePop,
		"passwd_pop":      d.passwdPop,
		"suspend_login":   d.suspendLogin,
		"unsuspend_login": d.unsuspendLogin,
	} {
		reg.Register(Module, name, f)
	}
}

// notPermittedInWebmail is cPanel's refusal of functions that Webmail
// users may not call.
func notPermittedInWebmail(function string) uapi.Result {
	return uapi.Fail("Execution of " + Module + "::" + function + " (api version:3) is not permitted inside of webmail")
}

// noSuchMailbox is the text for a mailbox that does not exist or is not the
// caller's (the same text either way, as in the Session module).
func noSuchMailbox(address string) string {
	return "You do not have a user named “" + address + "”."
}

// account returns the calling cPanel account.
func (d *Deps) account(ctx context.Context, c *uapi.Call) (store.Account, error) {
	return d.Dir.GetAccount(ctx, c.Caller.User)
}

// address resolves the "email" argument (a local part or a full address)
// and the optional "domain" argument (default: the account's main domain)
// to a lower-case address. quoted is the address as the caller wrote it, for
// error texts. msg is non-empty when the arguments contradict each other or
// no domain can be found.
func address(c *uapi.Call, acct store.Account) (addr, local, domain, quoted, msg string) {
	email, _ := c.Args.Get("email")
	domainArg, _ := c.Args.Get("domain")
	if l, dom, ok := store.SplitAddress(email); ok {
		if domainArg != "" && !strings.EqualFold(domainArg, dom) {
			return "", "", "", "", "The domain of the “email” argument (“" + dom + "”) does not match the “domain” argument (“" + domainArg + "”)."
		}
		local, domain, quoted = l, dom, email
	} else {
		local, domain = email, domainArg
		if domain == "" {
			if len(acct.Domains) == 0 {
				return "", "", "", "", "The account “" + acct.User + "” has no domain: provide the “domain” argument."
			}
			domain = acct.Domains[0]
		}
		quoted = email + "@" + domain
	}
	local, domain = strings.ToLower(local), strings.ToLower(domain)
	return local + "@" + domain, local, domain, quoted, ""
}

// ownMailbox returns the caller's mailbox addr; found is false when it
// does not exist or belongs to another account.
func (d *Deps) ownMailbox(ctx context.Context, acct store.Account, addr string) (m store.Mailbox, found bool, err error) {
	m, err = d.Dir.GetMailbox(ctx, addr)
	if errors.Is(err, store.ErrNotFound) {
		return store.Mailbox{}, false, nil
	}
	if err != nil {
		return store.Mailbox{}, false, err
	}
	if m.Account != acct.User {
		return store.Mailbox{}, false, nil
	}
	return m, true, nil
}

// quota reads the optional "quota" argument: a whole number of megabytes
// (0 is unlimited) or "unlimited", as cPanel takes it. It returns the
// quota in bytes (0: unlimited), or a message when the value is not
// valid. uapid stores the quota but does not enforce it.
func quota(c *uapi.Call) (bytes int64, msg string) {
	q, ok := c.Args.Get("quota")
	if !ok || q == "" || strings.EqualFold(q, "unlimited") {
		return 0, ""
	}
	n, err := strconv.ParseUint(q, 10, 64)
	if err != nil || n > maxQuotaMB {
		return 0, "The “quota” argument must be a whole number of megabytes (0 for unlimited) or “unlimited”."
	}
	return int64(n) << 20, ""
}

// maxQuotaMB is the largest quota add_pop takes, in megabytes (4 PiB).
const maxQuotaMB = 4294967296

// addPop creates a mailbox. Arguments (cPanel's): email (local part or full
// address), password (or password_hash, a crypt string, instead), domain
// (default: the main domain), quota (megabytes, kept but not enforced),
// send_welcome_email and skip_update_db (accepted; uapid sends no mail and
// has no cache to update). data is the new address with "+" for "@", as cPanel answers.
func (d *Deps) addPop(ctx context.Context, c *uapi.Call) (uapi.Result, error) {
	if c.Caller.Service == uapi.ServiceWebmail {
		return notPermittedInWebmail("add_pop"), nil
	}
	hashArg, hasHash := c.Args.Get("password_hash")
	var msg string
	if hasHash && !c.Args.Has("password") {
		msg = c.Args.Require("email", "password_hash")
	} else {
		msg = c.Args.Require("email", "password")
	}
	if msg != "" {
		return uapi.Fail(msg), nil
	}
	if hasHash && c.Args.Has("password") {
		return uapi.Fail("Use either the “password” or the “password_hash” argument, not both."), nil
	}
	acct, err := d.account(ctx, c)
	if err != nil {
		return uapi.Result{}, err
	}
	addr, local, domain, quoted, msg := address(c, acct)
	if msg != "" {
		return uapi.Fail(msg), nil
	}
	if local == "cpanel" {
		return uapi.Fail("You cannot use “cpanel” as the name of an email account."), nil
	}
	if domain == "" {
		return uapi.Fail("“" + quoted + "” is not a valid email address."), nil
	}
	if !store.ValidLocalPart(local) {
		return uapi.Fail("“" + quoted + "” is not a valid email address: the name before “@” may contain only letters, digits, “.”, “_”, “+” and “-” (at most 64 characters)."), nil
	}
	if !slices.Contains(acct.Domains, domain) {
		return uapi.Fail("The domain “" + domain + "” does not belong to your account."), nil
	}
	var hash string
	if hasHash {
		if s := passwd.Scheme(hashArg); s == "" || s == "locked" || s == "disabled" || !store.ValidPasswordHash(hashArg) {
			return uapi.Fail("The “password_hash” argument is not a password hash this server supports (SHA-512, SHA-256 or MD5 crypt, yescrypt, bcrypt or Argon2)."), nil
		}
		hash = hashArg
	} else {
		pw, _ := c.Args.Get("password")
		if msg := accounts.PasswordProblem(pw); msg != "" {
			return uapi.Fail(msg), nil
		}
		if hash, err = passwd.Hash(pw); err != nil {
			return uapi.Result{}, err
		}
	}
	quotaBytes, msg := quota(c)
	if msg != "" {
		return uapi.Fail(msg), nil
	}

	err = d.Accounts.AddMailbox(ctx, store.Mailbox{Address: addr, Account: acct.User, PasswordHash: hash, Quota: quotaBytes}, actor(c, "add_pop"))
	if errors.Is(err, store.ErrExists) {
		// cPanel's text, which names the address without quotes.
		return uapi.Fail("The account " + addr + " already exists!"), nil
	}
	if errors.Is(err, store.ErrInvalid) && store.FieldOf(err) == "maxpop" {
		// The account's MAXPOP (its package's limit), counted by the store.
		return uapi.Fail(invalidText(err)), nil
	}
	if errors.Is(err, store.ErrInvalid) {
		// The account lost the domain between the checks and the write.
		return uapi.Fail("The domain “" + domain + "” does not belong to your account."), nil
	}
	if err != nil {
		return uapi.Result{}, err
	}
	return uapi.OK(local + "+" + domain), nil
}

// listPops lists the account's mailboxes, sorted by address, as cPanel
// does: email, login, suspended_incoming (always 0: uapid does not model
// incoming mail) and suspended_login. Like cPanel it also lists the
// account's system ("default") mailbox last, as {email: <user>, login:
// "Main Account"}, unless skip_main=1. regex filters on the email value
// (Go RE2 syntax, not PCRE; case-insensitive, as addresses are lower-case);
// no_validate is accepted. In Webmail a mailbox user sees only its own
// mailbox and the account user only the system mailbox.
func (d *Deps) listPops(ctx context.Context, c *uapi.Call) (uapi.Result, error) {
	var re *regexp.Regexp
	if expr, _ := c.Args.Get("regex"); expr != "" {
		var err error
		if re, err = regexp.Compile("(?i)" + expr); err != nil {
			return uapi.Fail("The “regex” argument is not a valid regular expression: " + err.Error()), nil
		}
	}
	acct, err := d.account(ctx, c)
	if err != nil {
		return uapi.Result{}, err
	}
	boxes, err := d.Dir.ListMailboxes(ctx, acct.User)
	if err != nil {
		return uapi.Result{}, err
	}
	slices.SortFunc(boxes, func(a, b store.Mailbox) int { return strings.Compare(a.Address, b.Address) })
	webmail := c.Caller.Service == uapi.ServiceWebmail
	list := make([]map[string]any, 0, len(boxes)+1)
	for _, m := range boxes {
		if webmail && m.Address != c.Caller.Mailbox {
			continue
		}
		if re != nil && !re.MatchString(m.Address) {
			continue
		}
		list = append(list, map[string]any{
			"email":              m.Address,
			"login":              m.Address,
			"suspended_incoming": 0,
			"suspended_login":    b2i(m.SuspendedLogin || passwd.Locked(m.PasswordHash)),
		})
	}
	skipMain, _ := c.Args.Get("skip_main")
	if skipMain != "1" && (!webmail || c.Caller.Mailbox == "") && (re == nil || re.MatchString(acct.User)) {
		list = append(list, map[string]any{
			"email":              acct.User,
			"login":              "Main Account",
			"suspended_incoming": 0,
			"suspended_login":    0,
		})
	}
	r := uapi.OK(list)
	r.Metadata = map[string]any{"transformed": 1}
	return r, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// mailboxArg resolves the mailbox named by email (+ domain) to one of the
// caller's mailboxes; fail is set when there is none.
func (d *Deps) mailboxArg(ctx context.Context, c *uapi.Call) (m store.Mailbox, fail *uapi.Result, err error) {
	acct, err := d.account(ctx, c)
	if err != nil {
		return store.Mailbox{}, nil, err
	}
	addr, _, _, quoted, msg := address(c, acct)
	if msg != "" {
		r := uapi.Fail(msg)
		return store.Mailbox{}, &r, nil
	}
	m, found, err := d.ownMailbox(ctx, acct, addr)
	if err != nil {
		return store.Mailbox{}, nil, err
	}
	if !found {
		r := uapi.Fail(noSuchMailbox(quoted))
		return store.Mailbox{}, &r, nil
	}
	return m, nil, nil
}

// actor is the caller of an Email function, for the account lifecycle.
func actor(c *uapi.Call, function string) accounts.Actor {
	return accounts.Actor{User: c.Caller.User, Method: Module + "::" + function}
}

// deletePop removes a mailbox (email, domain; flags and skip_quota are
// accepted) and ends its sessions. data is null.
func (d *Deps) deletePop(ctx context.Context, c *uapi.Call) (uapi.Result, error) {
	if c.Caller.Service == uapi.ServiceWebmail {
		return notPermittedInWebmail("delete_pop"), nil
	}
	if msg := c.Args.Require("email"); msg != "" {
		return uapi.Fail(msg), nil
	}
	m, fail, err := d.mailboxArg(ctx, c)
	if err != nil || fail != nil {
		return deref(fail), err
	}
	if _, err := d.Accounts.RemoveMailbox(ctx, m.Address, actor(c, "delete_pop")); err != nil && !errors.Is(err, store.ErrNotFound) {
		return uapi.Result{}, err
	}
	return uapi.OK(nil), nil
}

func deref(r *uapi.Result) uapi.Result {
	if r == nil {
		return uapi.Result{}
	}
	return *r
}

// passwdPop sets a mailbox's password (email, password, domain) and ends
// its sessions. In Webmail a mailbox user may change only its own
// password; the account user cannot use it there.
func (d *Deps) passwdPop(ctx context.Context, c *uapi.Call) (uapi.Result, error) {
	if c.Caller.Service == uapi.ServiceWebmail && c.Caller.Mailbox == "" {
		return notPermittedInWebmail("passwd_pop"), nil
	}
	if msg := c.Args.Require("email", "password"); msg != "" {
		return uapi.Fail(msg), nil
	}
	m, fail, err := d.mailboxArg(ctx, c)
	if err != nil || fail != nil {
		return deref(fail), err
	}
	if c.Caller.Service == uapi.ServiceWebmail && m.Address != c.Caller.Mailbox {
		return uapi.Fail(noSuchMailbox(m.Address)), nil
	}
	pw, _ := c.Args.Get("password")
	if msg := accounts.PasswordProblem(pw); msg != "" {
		return uapi.Fail(msg), nil
	}
	hash, err := passwd.Hash(pw)
	if err != nil {
		return uapi.Result{}, err
	}
	if _, err := d.Accounts.SetMailboxPassword(ctx, m.Address, hash, actor(c, "passwd_pop")); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return uapi.Fail(noSuchMailbox(m.Address)), nil
		}
		return uapi.Result{}, err
	}
	return uapi.OK(nil), nil
}

// suspendLogin suspends a mailbox's logins (email: the full address; a
// bare name means one on the main domain) and ends its sessions. Suspending
// a suspended login succeeds.
func (d *Deps) suspendLogin(ctx context.Context, c *uapi.Call) (uapi.Result, error) {
	return d.setSuspended(ctx, c, "suspend_login", true)
}

// unsuspendLogin lifts a mailbox's login suspension (email). Lifting a
// suspension that is not there succeeds.
func (d *Deps) unsuspendLogin(ctx context.Context, c *uapi.Call) (uapi.Result, error) {
	return d.setSuspended(ctx, c, "unsuspend_login", false)
}

func (d *Deps) setSuspended(ctx context.Context, c *uapi.Call, function string, suspend bool) (uapi.Result, error) {
	if c.Caller.Service == uapi.ServiceWebmail {
		return notPermittedInWebmail(function), nil
	}
	if msg := c.Args.Require("email"); msg != "" {
		return uapi.Fail(msg), nil
	}
	m, fail, err := d.mailboxArg(ctx, c)
	if err != nil || fail != nil {
		return deref(fail), err
	}
	if _, err := d.Accounts.SetMailboxSuspended(ctx, m.Address, suspend, actor(c, function)); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return uapi.Fail(noSuchMailbox(m.Address)), nil
		}
		return uapi.Result{}, err
	}
	return uapi.OK(nil), nil
}

// invalidText is a store's refusal as a sentence.
func invalidText(err error) string {
	msg := err.Error()
	if msg == "" {
		return msg
	}
	return strings.ToUpper(msg[:1]) + msg[1:] + "."
}
