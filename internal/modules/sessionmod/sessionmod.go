// Package sessionmod is the UAPI Session module (SPEC §3):
// create_webmail_session_for_mail_user, its _check_password variant,
// create_webmail_session_for_self and create_temp_user, as plain functions
// over the directory and the session manager.
package sessionmod

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"

	"github.com/uapid/uapid/internal/auth"
	"github.com/uapid/uapid/internal/session"
	"github.com/uapid/uapid/internal/store"
	"github.com/uapid/uapid/internal/uapi"
)

// Module is the module's name.
const Module = "Session"

// Module dependencies.
type Deps struct {
	Dir      store.Directory
	Sessions *session.Manager
	// Locales are the server's locales (exact, case-sensitive).
	Locales []string
	// WebmailHostname is reported as "hostname" when logins must go to a
	// separate Webmail host ("" reports null).
	WebmailHostname string
	// Auth checks mailbox passwords (check_password), with brute-force
	// accounting against the end user's address.
	Auth *auth.Authenticator
}

// Register adds the Session functions to reg.
func Register(reg *uapi.Registry, d *Deps) {
	for name, f := range map[string]uapi.Func{
		"create_webmail_session_for_mail_user":                d.forMailUser,
		"create_webmail_session_for_mail_user_check_password": d.forMailUserCheckPassword,
		"create_webmail_session_for_self":                     d.forSelf,
		"create_temp_user":                                    d.createTempUser,
	} {
		reg.Register(Module, name, notInWebmail(name, f))
	}
}

// notInWebmail refuses every Session function on the Webmail ports.
func notInWebmail(name string, f uapi.Func) uapi.Func {
	return func(ctx context.Context, c *uapi.Call) (uapi.Result, error) {
		if c.Caller.Service == uapi.ServiceWebmail {
			return uapi.Fail("Execution of Session::" + name + " (api version:3) is not permitted inside of webmail"), nil
		}
		return f(ctx, c)
	}
}

func typedError(typ, msg string) uapi.Result {
	r := uapi.Fail(msg)
	r.Data = map[string]any{"type": typ, "detail": nil}
	return r
}

func notYours(login, domain string) string {
	return "You do not have a user named “" + login + "@" + domain + "”."
}

// ownedMailbox returns the mailbox login@domain if the caller owns it
// (directly, as the reseller owning its account, or as root).
func (d *Deps) ownedMailbox(ctx context.Context, c uapi.Caller, login, domain string) (store.Mailbox, bool, error) {
	addr := strings.ToLower(login) + "@" + strings.ToLower(domain)
	m, err := d.Dir.GetMailbox(ctx, addr)
	if errors.Is(err, store.ErrNotFound) {
		return store.Mailbox{}, false, nil
	}
	if err != nil {
		return store.Mailbox{}, false, err
	}
	if c.User == store.RootUser || m.Account == c.User {
		return m, true, nil
	}
	owner, err := d.Dir.GetAccount(ctx, m.Account)
	if errors.Is(err, store.ErrNotFound) {
		return store.Mailbox{}, false, nil
	}
	if err != nil {
		return store.Mailbox{}, false, err
	}
	if owner.Owner == c.User {
		caller, err := d.Dir.GetAccount(ctx, c.User)
		if err == nil && caller.Reseller {
			return m, true, nil
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return store.Mailbox{}, false, err
		}
	}
	return store.Mailbox{}, false, nil
}

// remoteAddress applies rule 3 of SPEC §3.1; msg is non-empty on failure.
func remoteAddress(c *uapi.Call) (netip.Addr, string) {
	if v, _ := c.Args.Get("remote_address"); v != "" {
		a, ok := ParseIP(v)
		if !ok {
			return netip.Addr{}, "“" + v + "” is not a valid IP address."
		}
		return a, ""
	}
	if c.Caller.RemoteAddr.IsValid() {
		return c.Caller.RemoteAddr, ""
	}
	return netip.Addr{}, "The system failed to determine a suitable remote IP address for the Webmail session. Submit a “remote_address”."
}

// ParseIP accepts an IPv4 address of four decimal octets 0-255 without
// leading zeros and a non-zero first octet, or an IPv6 address (no zone).
func ParseIP(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	if a.Is4() {
		if a.As4()[0] == 0 || strings.Count(s, ".") != 3 {
			return netip.Addr{}, false
		}
	} else if !strings.Contains(s, ":") {
		return netip.Addr{}, false
	}
	return a, true
}

// localeArg returns the requested locale or the caller's; ok is false when
// the requested one is not offered (msg says so).
func (d *Deps) localeArg(c *uapi.Call) (string, string) {
	v, _ := c.Args.Get("locale")
	if v == "" {
		if c.Caller.Locale != "" {
			return c.Caller.Locale, ""
		}
		return "en", ""
	}
	if !slices.Contains(d.Locales, v) {
		return "", "“" + v + "” does not refer to any of this system’s locales."
	}
	return v, ""
}

func sessionData(hostname string, rec store.Session, secret string) uapi.Result {
	var host any
	if hostname != "" {
		host = hostname
	}
	r := uapi.OK(map[string]any{"hostname": host, "token": rec.Token, "session": secret})
	r.Metadata = map[string]any{"transformed": 1}
	return r
}

func (d *Deps) forMailUser(ctx context.Context, c *uapi.Call) (uapi.Result, error) {
	if msg := c.Args.Require("login", "domain"); msg != "" {
		return uapi.Fail(msg), nil
	}
	login, _ := c.Args.Get("login")
	domain, _ := c.Args.Get("domain")
	remote, msg := remoteAddress(c)
	if msg != "" {
		return uapi.Fail(msg), nil
	}
	m, ok, err := d.ownedMailbox(ctx, c.Caller, login, domain)
	if err != nil {
		return uapi.Result{}, err
	}
	if !ok {
		return uapi.Fail(notYours(login, domain)), nil
	}
	locale, msg := d.localeArg(c)
	if msg != "" {
		return uapi.Fail(msg), nil
	}
	return d.create(ctx, c, m.Address, m.Account, session.TagMailUser, "create_webmail_session_for_mail_user", remote, locale)
}

func (d *Deps) forMailUserCheckPassword(ctx context.Context, c *uapi.Call) (uapi.Result, error) {
	if msg := c.Args.RequireEach("login", "domain", "password"); msg != "" {
		return uapi.Fail(msg), nil
	}
	login, _ := c.Args.Get("login")
	domain, _ := c.Args.Get("domain")
	password, _ := c.Args.Get("password")
	m, ok, err := d.ownedMailbox(ctx, c.Caller, login, domain)
	if err != nil {
		return uapi.Result{}, err
	}
	if !ok {
		return typedError("UserNotFound", notYours(login, domain)), nil
	}
	// The end user's address is the remote_address argument when it is
	// valid, else the caller's: counting against the API caller alone
	// would let one end user lock a whole portal out.
	client := c.Caller.RemoteAddr
	if v, _ := c.Args.Get("remote_address"); v != "" {
		if a, ok := ParseIP(v); ok {
			client = a
		}
	}
	switch err := d.Auth.CheckMailboxPassword(ctx, m, password, client); {
	case errors.Is(err, auth.ErrLoginSuspended):
		return typedError("Suspended", "Logins for “"+login+"@"+domain+"” are suspended."), nil
	case errors.Is(err, auth.ErrBadPassword):
		return typedError("BadPassword", "The provided password is incorrect."), nil
	case err != nil:
		return uapi.Result{}, err
	}
	remote, msg := remoteAddress(c)
	if msg != "" {
		return uapi.Fail(msg), nil
	}
	locale, msg := d.localeArg(c)
	if msg != "" {
		return uapi.Fail(msg), nil
	}
	return d.create(ctx, c, m.Address, m.Account, session.TagMailUser, "create_webmail_session_for_mail_user_check_password", remote, locale)
}

func (d *Deps) forSelf(ctx context.Context, c *uapi.Call) (uapi.Result, error) {
	remote, msg := remoteAddress(c)
	if msg != "" {
		return uapi.Fail(msg), nil
	}
	locale, msg := d.localeArg(c)
	if msg != "" {
		return uapi.Fail(msg), nil
	}
	return d.create(ctx, c, c.Caller.User, c.Caller.User, session.TagSelf, "create_webmail_session_for_self", remote, locale)
}

func (d *Deps) create(ctx context.Context, c *uapi.Call, user, account, tag, method string, remote netip.Addr, locale string) (uapi.Result, error) {
	returnURL, _ := c.Args.Get("return_url")
	rec, secret, err := d.Sessions.Create(ctx, session.NewSession{
		User:      user,
		Account:   account,
		Service:   uapi.ServiceWebmail,
		Tag:       tag,
		Creator:   c.Caller.User,
		Method:    method,
		Origin:    remote,
		Locale:    locale,
		ReturnURL: returnURL,
	})
	if err != nil {
		return uapi.Result{}, err
	}
	return sessionData(d.WebmailHostname, rec, secret), nil
}

func (d *Deps) createTempUser(ctx context.Context, c *uapi.Call) (uapi.Result, error) {
	notCreated := uapi.OK(map[string]any{"created": 0})
	if c.Caller.Method != uapi.MethodSession || c.Caller.SessionID == "" || c.Caller.Service != uapi.ServiceCPanel {
		return notCreated, nil
	}
	rec, created, err := d.Sessions.CreateTempUser(ctx, c.Caller.SessionID, "create_temp_user")
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notCreated, nil
	case errors.Is(err, session.ErrNoTempDB):
		return uapi.Fail("No database server is configured for temporary users."), nil
	case err != nil:
		return uapi.Result{}, err
	case !created:
		return notCreated, nil
	}
	return uapi.OK(map[string]any{"created": 1, "session_temp_user": rec.TempUser}), nil
}
