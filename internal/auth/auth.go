// Package auth makes every credential decision of uapid: HTTP Basic
// passwords, API tokens ("cpanel user:TOKEN", "whm user:TOKEN"), session
// cookies with their /cpsess… token, one-time login secrets, mailbox
// passwords checked on a portal's behalf, the suspended and locked rules,
// and the brute-force accounting of all of them (Limiter, counting through
// a store.Attempts so that the limits hold for a cluster). Callers (the
// HTTP server, the Session module) get a caller, a session or a refusal;
// they never verify a secret themselves.
//
// Every failed API authentication answers the same ErrDenied, so that an
// unknown user and a wrong password cannot be told apart; failed logins
// answer a *LoginError with the reason code of SPEC §4.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/uapid/uapid/internal/audit"
	"github.com/uapid/uapid/internal/passwd"
	"github.com/uapid/uapid/internal/session"
	"github.com/uapid/uapid/internal/store"
	"github.com/uapid/uapid/internal/uapi"
)

// ErrDenied is the one answer to every failed API authentication.
var ErrDenied = errors.New("access denied")

// dummyHash is verified against when the user is unknown, so that the time
// taken does not reveal whether a user exists. It is the SHA-512 crypt of a
// random string nobody knows, made once per process.
var dummyHash = sync.OnceValue(func() string {
	h, err := passwd.Hash(rand.Text())
	if err != nil {
		panic("auth: cannot hash: " + err.Error())
	}
	return h
})

// Authenticator checks credentials against the directory and the
// sessions. It reads the directory through a cache that is valid for one
// directory generation (dirCache): every check sees the directory as of
// its own start, changes made by any process included.
type Authenticator struct {
	Dir store.Directory
	// Sessions holds the sessions that login secrets and cookies lead to.
	Sessions *session.Manager
	// Limiter counts failures and decides blocks (nil: none).
	Limiter *Limiter
	// IPValidation is how a login's address must match the session's
	// origin: IPStrict (default), IPLoose or IPDisabled.
	IPValidation string
	// Cache remembers verified passwords (nil: none).
	Cache *CredCache
	// ResourceServers are the programs that may call uapid with a
	// credential of their own (see ResourceServer).
	ResourceServers []ResourceServer
	// Audit receives login events (nil: none).
	Audit *audit.Logger
	// Log receives warnings about the brute-force counters (nil: none).
	Log *slog.Logger
	// Now returns the current time (tests override it).
	Now func() time.Time

	dcOnce sync.Once
	dc     *dirCache
}

// view returns the directory as of now.
func (a *Authenticator) view(ctx context.Context) (dirView, error) {
	a.dcOnce.Do(func() { a.dc = newDirCache(a.Dir) })
	return a.dc.view(ctx)
}

func (a *Authenticator) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// ParseAuthorization splits an Authorization header into its scheme
// ("basic", "cpanel" or "whm", lower-cased), user and secret. ok is false for
// an absent, unknown or malformed header.
func ParseAuthorization(h string) (scheme, user, secret string, ok bool) {
	s, rest, found := strings.Cut(h, " ")
	if !found {
		return "", "", "", false
	}
	rest = strings.TrimLeft(rest, " ")
	switch strings.ToLower(s) {
	case "basic":
		raw, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return "", "", "", false
		}
		u, p, found := strings.Cut(string(raw), ":")
		if !found || u == "" || !printable(u) {
			return "", "", "", false
		}
		return "basic", u, p, true
	case "cpanel", "whm":
		if s != "cpanel" && s != "whm" && s != "WHM" {
			return "", "", "", false
		}
		u, t, found := strings.Cut(rest, ":")
		if !found || u == "" || t == "" || !printable(u) || !printable(t) {
			return "", "", "", false
		}
		return strings.ToLower(s), u, t, true
	}
	return "", "", "", false
}

// printable reports whether s has no control characters (a CR or LF in a
// credential is always an attack).
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return false
		}
	}
	return true
}

// Request is what an API request brings to authenticate: its
// Authorization header, or its session cookie value and the /cpsess…
// token of its path.
type Request struct {
	Service       string
	Remote        netip.Addr
	Authorization string
	Cookie        string
	Token         string // "" when the path has none
}

// API authenticates an API request (SPEC §5): by its Authorization header
// (Basic or token) when it has one, else by cookie plus token. Header
// failures answer ErrDenied, cookie failures a *LoginError; both count
// towards the brute-force limits where a guess is possible. Any other
// error is a failure of a store.
func (a *Authenticator) API(ctx context.Context, req Request) (uapi.Caller, error) {
	if req.Authorization == "" {
		c, _, err := a.Cookie(ctx, req)
		return c, err
	}
	scheme, user, secret, ok := ParseAuthorization(req.Authorization)
	if !ok {
		a.fail(ctx, req.Remote, "")
		return uapi.Caller{}, ErrDenied
	}
	key := strings.ToLower(user)
	if blocked, err := a.Limiter.Blocked(ctx, req.Remote, key); err != nil || blocked {
		return uapi.Caller{}, cmpErr(err, ErrDenied)
	}
	var c uapi.Caller
	var err error
	if scheme == "basic" {
		c, err = a.password(ctx, req.Service, user, secret, req.Remote)
	} else {
		c, err = a.token(ctx, req.Service, scheme, user, secret, req.Remote)
	}
	if errors.Is(err, ErrDenied) {
		a.fail(ctx, req.Remote, key)
	}
	if err != nil {
		return uapi.Caller{}, err
	}
	a.success(ctx, req.Remote, key)
	return c, nil
}

// cmpErr returns err when it is not nil, else otherwise.
func cmpErr(err, otherwise error) error {
	if err != nil {
		return err
	}
	return otherwise
}

// fail counts a failed attempt. A store that cannot count does not change
// the answer (the attempt is refused anyway); it is logged.
func (a *Authenticator) fail(ctx context.Context, remote netip.Addr, user string) {
	if _, err := a.Limiter.Fail(ctx, remote, user); err != nil && a.Log != nil {
		a.Log.WarnContext(ctx, "failed attempt not counted", "error", err.Error())
	}
}

// success records a successful password or token authentication.
func (a *Authenticator) success(ctx context.Context, remote netip.Addr, user string) {
	if err := a.Limiter.Success(ctx, remote, user); err != nil && a.Log != nil {
		a.Log.WarnContext(ctx, "successful login not recorded for brute-force protection", "error", err.Error())
	}
}

// PasswordLogin is the password login of /login/ (SPEC §4): it checks the
// credentials (with brute-force accounting) and creates a logged-in
// session. Refusals are ErrDenied.
func (a *Authenticator) PasswordLogin(ctx context.Context, service, user, pass string, remote netip.Addr) (store.Session, string, error) {
	key := strings.ToLower(user)
	if blocked, err := a.Limiter.Blocked(ctx, remote, key); err != nil || blocked {
		return store.Session{}, "", cmpErr(err, ErrDenied)
	}
	c, err := a.password(ctx, service, user, pass, remote)
	if errors.Is(err, ErrDenied) {
		a.fail(ctx, remote, key)
	}
	if err != nil {
		return store.Session{}, "", err
	}
	a.success(ctx, remote, key)
	who := c.User
	if c.Mailbox != "" {
		who = c.Mailbox
	}
	return a.Sessions.CreateLoggedIn(ctx, session.NewSession{
		User: who, Account: c.User, Service: service, Tag: "PASSWORD_LOGIN",
		Creator: who, Method: "password", Origin: remote, Locale: c.Locale,
	})
}

// password authenticates user with password on service: accounts on the
// cPanel and Webmail ports, mailboxes ("login@domain") on the Webmail
// ports, root and resellers on the WHM ports. The error is always
// ErrDenied, except for a failure of the directory itself. It does no
// brute-force accounting: its callers do.
func (a *Authenticator) password(ctx context.Context, service, user, password string, remote netip.Addr) (uapi.Caller, error) {
	user = strings.ToLower(user)
	c := uapi.Caller{Service: service, Method: uapi.MethodBasic, RemoteAddr: remote, Locale: "en"}
	v, err := a.view(ctx)
	if err != nil {
		return uapi.Caller{}, err
	}
	hash, account, locale, err := lookupPassword(ctx, v, service, user)
	if errors.Is(err, ErrDenied) {
		passwd.Verify(dummyHash(), password) // same work as for a known user
		return uapi.Caller{}, ErrDenied
	}
	if err != nil {
		return uapi.Caller{}, err
	}
	if !a.verify(service, user, hash, password) {
		return uapi.Caller{}, ErrDenied
	}
	if locale != "" {
		c.Locale = locale
	}
	c.User = account
	if strings.Contains(user, "@") {
		c.Mailbox = user
	}
	return c, nil
}

// verify checks password against hash, remembering success in the cache.
func (a *Authenticator) verify(service, user, hash, password string) bool {
	if a.Cache.Check(service, user, hash, password) {
		return true
	}
	if !passwd.Verify(hash, password) {
		return false
	}
	a.Cache.Remember(service, user, hash, password)
	return true
}

// lookupPassword returns the password hash that may authenticate user on
// service, with the account it acts as, or ErrDenied when the user may not
// log in there at all. It reads the directory as of v, which the caller
// took at the start of this check, so a password change, suspension or
// removal takes effect at once.
func lookupPassword(ctx context.Context, v dirView, service, user string) (hash, account, locale string, err error) {
	switch {
	case user == store.RootUser:
		if service != uapi.ServiceWHM {
			return "", "", "", ErrDenied
		}
		h, err := v.rootPasswordHash(ctx)
		if err != nil {
			return "", "", "", err
		}
		if h == "" {
			return "", "", "", ErrDenied
		}
		return h, store.RootUser, "en", nil
	case strings.Contains(user, "@"):
		if service != uapi.ServiceWebmail {
			return "", "", "", ErrDenied
		}
		m, err := v.mailbox(ctx, user)
		if err != nil {
			return "", "", "", denyNotFound(err)
		}
		acct, err := v.account(ctx, m.Account)
		if err != nil {
			return "", "", "", denyNotFound(err)
		}
		if !mailboxMayLogIn(acct, m) {
			return "", "", "", ErrDenied
		}
		return m.PasswordHash, m.Account, acct.Locale, nil
	default:
		acct, err := v.account(ctx, user)
		if err != nil {
			return "", "", "", denyNotFound(err)
		}
		if acct.Suspended || (service == uapi.ServiceWHM && !acct.Reseller) {
			return "", "", "", ErrDenied
		}
		return acct.PasswordHash, acct.User, acct.Locale, nil
	}
}

// mailboxMayLogIn is the rule for mailbox logins: the account is not
// suspended, and the mailbox's login is neither suspended nor locked.
func mailboxMayLogIn(acct store.Account, m store.Mailbox) bool {
	return !acct.Suspended && !m.SuspendedLogin && !passwd.Locked(m.PasswordHash)
}

func denyNotFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return ErrDenied
	}
	return err
}

// token authenticates an API token. scheme is "cpanel" (cPanel ports) or
// "whm" (WHM ports); an account's tokens work as cpanel tokens, root's and
// resellers' tokens as whm tokens. A token is found by the SHA-256 of the
// secret (tokens uapid issued) or else by its SHA-512 (tokens imported
// from cPanel with their digests). No brute-force accounting: its caller
// does it.
func (a *Authenticator) token(ctx context.Context, service, scheme, user, secret string, remote netip.Addr) (uapi.Caller, error) {
	user = strings.ToLower(user)
	switch {
	case scheme == "cpanel" && service == uapi.ServiceCPanel:
	case scheme == "whm" && service == uapi.ServiceWHM:
	default:
		return uapi.Caller{}, ErrDenied
	}
	if !ValidTokenSecret(secret) {
		return uapi.Caller{}, ErrDenied
	}
	v, err := a.view(ctx)
	if err != nil {
		return uapi.Caller{}, err
	}
	locale := "en"
	if user == store.RootUser {
		if scheme != "whm" {
			return uapi.Caller{}, ErrDenied
		}
	} else {
		acct, err := v.account(ctx, user)
		if err != nil {
			return uapi.Caller{}, denyNotFound(err)
		}
		if acct.Suspended || (scheme == "whm" && !acct.Reseller) {
			return uapi.Caller{}, ErrDenied
		}
		if acct.Locale != "" {
			locale = acct.Locale
		}
	}
	h := HashToken(secret)
	t, err := v.token(ctx, user, h)
	if errors.Is(err, store.ErrNotFound) {
		// Not a token uapid issued: perhaps one carried over from cPanel,
		// stored as cPanel keeps it (SHA-512). Only now is that hash
		// computed, so uapid's own tokens cost nothing more.
		h = hashTokenCPanel(secret)
		t, err = v.token(ctx, user, h)
	}
	if err != nil {
		return uapi.Caller{}, denyNotFound(err)
	}
	if subtle.ConstantTimeCompare(t.Hash, h) != 1 {
		return uapi.Caller{}, ErrDenied
	}
	if !t.ExpiresAt.IsZero() && !a.now().Before(t.ExpiresAt) {
		return uapi.Caller{}, ErrDenied
	}
	if len(t.AllowIPs) > 0 && !allowed(t.AllowIPs, remote) {
		return uapi.Caller{}, ErrDenied
	}
	return uapi.Caller{User: user, Service: service, Method: uapi.MethodToken, RemoteAddr: remote, Locale: locale}, nil
}

// LoginAllowed reports whether a session of account (and of user, when it
// is a mailbox address) may be used now: the account exists and is not
// suspended, and the mailbox exists and its login is not suspended or
// locked. Root's sessions always may.
func (a *Authenticator) LoginAllowed(ctx context.Context, account, user string) (bool, error) {
	if account == store.RootUser {
		return true, nil
	}
	v, err := a.view(ctx)
	if err != nil {
		return false, err
	}
	acct, err := v.account(ctx, account)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if acct.Suspended {
		return false, nil
	}
	if strings.Contains(user, "@") {
		m, err := v.mailbox(ctx, user)
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		return mailboxMayLogIn(acct, m), nil
	}
	return true, nil
}

// Mailbox password checks (Session::create_webmail_session_for_mail_user_check_password).
var (
	// ErrBadPassword: the password is wrong, or the end user is blocked.
	ErrBadPassword = errors.New("the provided password is incorrect")
	// ErrLoginSuspended: the mailbox's login is suspended or locked.
	ErrLoginSuspended = errors.New("mailbox login suspended")
)

// CheckMailboxPassword verifies the password of mailbox m on behalf of a
// portal whose end user is at client: ErrLoginSuspended when the
// mailbox's login is suspended or locked, ErrBadPassword when the
// password is wrong or the end user is blocked. Failures count against
// the end user's address and the mailbox (counting the portal's own
// address would let one user lock the portal out).
func (a *Authenticator) CheckMailboxPassword(ctx context.Context, m store.Mailbox, password string, client netip.Addr) error {
	if m.SuspendedLogin || passwd.Locked(m.PasswordHash) {
		return ErrLoginSuspended
	}
	if blocked, err := a.Limiter.Blocked(ctx, client, m.Address); err != nil || blocked {
		return cmpErr(err, ErrBadPassword)
	}
	// Always a real verification, never the cache of verified
	// passwords: this function exists to check the password now.
	if !passwd.Verify(m.PasswordHash, password) {
		a.fail(ctx, client, m.Address)
		return ErrBadPassword
	}
	return nil
}

func allowed(list []netip.Prefix, addr netip.Addr) bool {
	if !addr.IsValid() {
		return false
	}
	addr = addr.Unmap()
	for _, p := range list {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}
