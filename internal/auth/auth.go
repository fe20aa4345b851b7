// Package auth turns the credentials of a request into a uapi.Caller or a
// refusal: HTTP Basic passwords, API tokens ("cpanel user:TOKEN",
// "whm user:TOKEN") and session cookies. It applies the per-service rules of
// SPEC §5 in one place and answers every failure with the same ErrDenied, so
// that an unknown user and a wrong password cannot be told apart.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/uapid/uapid/internal/directory"
	"github.com/uapid/uapid/internal/passwd"
	"github.com/uapid/uapid/internal/uapi"
)

// ErrDenied is the one answer to every failed authentication.
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

// Authenticator checks credentials against the directory. It reads the
// directory through a cache that is valid for one directory generation
// (dirCache): every check sees the directory as of its own start, changes
// made by any process included.
type Authenticator struct {
	Dir directory.Directory
	// Now returns the current time (tests override it).
	Now func() time.Time
	// Cache remembers verified passwords (nil: none).
	Cache *CredCache

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

// Password authenticates user with password on service: accounts on the
// cPanel and Webmail ports, mailboxes ("login@domain") on the Webmail ports,
// root and resellers on the WHM ports. The error is always ErrDenied, except
// for a failure of the directory itself.
func (a *Authenticator) Password(ctx context.Context, service, user, password string, remote netip.Addr) (uapi.Caller, error) {
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
	if !a.Cache.Check(service, user, hash, password) {
		if !passwd.Verify(hash, password) {
			return uapi.Caller{}, ErrDenied
		}
		a.Cache.Remember(service, user, hash, password)
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

// lookupPassword returns the password hash that may authenticate user on
// service, with the account it acts as, or ErrDenied when the user may not
// log in there at all. It reads the directory as of v, which the caller
// took at the start of this check, so a password change, suspension or
// removal takes effect at once.
func lookupPassword(ctx context.Context, v dirView, service, user string) (hash, account, locale string, err error) {
	switch {
	case user == directory.RootUser:
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
		return h, directory.RootUser, "en", nil
	case strings.Contains(user, "@"):
		if service != uapi.ServiceWebmail {
			return "", "", "", ErrDenied
		}
		m, err := v.mailbox(ctx, user)
		if err != nil {
			return "", "", "", denyNotFound(err)
		}
		if m.SuspendedLogin || passwd.Locked(m.PasswordHash) {
			return "", "", "", ErrDenied
		}
		acct, err := v.account(ctx, m.Account)
		if err != nil {
			return "", "", "", denyNotFound(err)
		}
		if acct.Suspended {
			return "", "", "", ErrDenied
		}
		return m.PasswordHash, m.Account, acct.Locale, nil
	default:
		acct, err := v.account(ctx, user)
		if err != nil {
			return "", "", "", denyNotFound(err)
		}
		if acct.Suspended {
			return "", "", "", ErrDenied
		}
		if service == uapi.ServiceWHM && !acct.Reseller {
			return "", "", "", ErrDenied
		}
		return acct.PasswordHash, acct.User, acct.Locale, nil
	}
}

func denyNotFound(err error) error {
	if errors.Is(err, directory.ErrNotFound) {
		return ErrDenied
	}
	return err
}

// Token authenticates an API token. scheme is "cpanel" (cPanel ports) or
// "whm" (WHM ports); an account's tokens work as cpanel tokens, root's and
// resellers' tokens as whm tokens.
func (a *Authenticator) Token(ctx context.Context, service, scheme, user, secret string, remote netip.Addr) (uapi.Caller, error) {
	user = strings.ToLower(user)
	switch {
	case scheme == "cpanel" && service == uapi.ServiceCPanel:
	case scheme == "whm" && service == uapi.ServiceWHM:
	default:
		return uapi.Caller{}, ErrDenied
	}
	if !directory.ValidTokenSecret(secret) {
		return uapi.Caller{}, ErrDenied
	}
	v, err := a.view(ctx)
	if err != nil {
		return uapi.Caller{}, err
	}
	locale := "en"
	if user == directory.RootUser {
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
	h := directory.HashToken(secret)
	t, err := v.token(ctx, user, h)
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
	if account == directory.RootUser {
		return true, nil
	}
	v, err := a.view(ctx)
	if err != nil {
		return false, err
	}
	acct, err := v.account(ctx, account)
	if errors.Is(err, directory.ErrNotFound) {
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
		if errors.Is(err, directory.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if m.SuspendedLogin || passwd.Locked(m.PasswordHash) {
			return false, nil
		}
	}
	return true, nil
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
