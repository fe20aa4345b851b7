// Package tokens is the UAPI Tokens module: create_full_access, list and
// revoke manage the calling cPanel account's API tokens. A token's secret
// is shown once, in the answer that creates it; the directory keeps only its
// SHA-256. The WHM functions api_token_create and api_token_revoke (package
// whmacct) share the rules of this package through Issue and NameProblem.
package tokens

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/uapid/uapid/internal/audit"
	"github.com/uapid/uapid/internal/directory"
	"github.com/uapid/uapid/internal/uapi"
)

// Module is the module's name.
const Module = "Tokens"

// Deps are what the Tokens functions need.
type Deps struct {
	Dir directory.Directory
	// Issuer creates tokens; nil means a private one. Share one Issuer
	// with the WHM token functions so that creations of both are
	// serialised.
	Issuer *Issuer
	// Audit receives token.create and token.revoke events (nil: none).
	Audit *audit.Logger
	// Now returns the current time (tests override it).
	Now func() time.Time
}

func (d *Deps) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d *Deps) issuer() *Issuer {
	if d.Issuer == nil {
		d.Issuer = &Issuer{Dir: d.Dir}
	}
	return d.Issuer
}

// Register adds the Tokens functions to reg.
func Register(reg *uapi.Registry, d *Deps) {
	d.issuer()
	for name, f := range map[string]uapi.Func{
		"create_full_access": d.createFullAccess,
		"list":               d.list,
		"revoke":             d.revoke,
	} {
		reg.Register(Module, name, notInWebmail(name, f))
	}
}

// notInWebmail refuses the Tokens functions on the Webmail ports: tokens
// belong to cPanel accounts, not to mailboxes.
func notInWebmail(name string, f uapi.Func) uapi.Func {
	return func(ctx context.Context, c *uapi.Call) (uapi.Result, error) {
		if c.Caller.Service == uapi.ServiceWebmail {
			return uapi.Fail("Execution of " + Module + "::" + name + " (api version:3) is not permitted inside of webmail"), nil
		}
		return f(ctx, c)
	}
}

// NameProblem returns why name cannot name an API token ("" if it can).
func NameProblem(name string) string {
	if directory.ValidTokenName(name) {
		return ""
	}
	return "The API token name “" + name + "” is not valid: use 1 to 50 letters, digits, dashes (-), and underscores (_)."
}

// ExpiresAt parses an "expires_at" value: "" or "0" is no expiry, else a
// unix time that must lie in the future. msg names the argument arg.
func ExpiresAt(arg, v string, now time.Time) (t time.Time, msg string) {
	if v == "" || v == "0" {
		return time.Time{}, ""
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > 253402300799 { // up to 9999-12-31
		return time.Time{}, "The “" + arg + "” argument must be a Unix time (0 for a token that does not expire)."
	}
	t = time.Unix(n, 0)
	if !t.After(now) {
		return time.Time{}, "The “" + arg + "” argument must be a time in the future."
	}
	return t, ""
}

// Issuer creates API tokens. Its lock makes the check for an existing name
// and the creation one step within this process (the directory's PutToken
// would replace a token of the same name, silently invalidating the secret
// in use).
type Issuer struct {
	Dir directory.Directory
	mu  sync.Mutex
}

// ErrNameTaken: user already has a token of that name.
var ErrNameTaken = errors.New("tokens: name taken")

// Issue creates the token name for user (root or an account) and returns
// it with its secret. It returns ErrNameTaken when the name is in use; the
// caller has checked name and expiry.
func (is *Issuer) Issue(ctx context.Context, user, name string, expires time.Time, allow []netip.Prefix, now time.Time) (directory.Token, string, error) {
	is.mu.Lock()
	defer is.mu.Unlock()
	existing, err := is.Dir.ListTokens(ctx, user)
	if err != nil {
		return directory.Token{}, "", err
	}
	if slices.ContainsFunc(existing, func(t directory.Token) bool { return t.Name == name }) {
		return directory.Token{}, "", ErrNameTaken
	}
	for attempt := 0; ; attempt++ {
		secret := directory.NewTokenSecret()
		t := directory.Token{User: user, Name: name, Hash: directory.HashToken(secret), ExpiresAt: expires, AllowIPs: allow, CreatedAt: now}
		err := is.Dir.PutToken(ctx, t)
		if errors.Is(err, directory.ErrExists) && attempt < 3 {
			continue // same secret as another token: draw again
		}
		if err != nil {
			return directory.Token{}, "", err
		}
		return t, secret, nil
	}
}

// TakenText is the error text for a name in use.
func TakenText(name string) string {
	return "An API token with the name “" + name + "” already exists."
}

// Unix is t as a unix time, or nil for the zero time (JSON null).
func Unix(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.Unix()
}

// createFullAccess creates a token with all of the account's privileges
// (uapid tokens always have them). Arguments: name (required), expires_at
// (unix time; absent or 0: never). cPanel documents the answer as
// {create_time, token}; uapid adds name and expires_at (null when the token
// does not expire), which cPanel's list shows too.
func (d *Deps) createFullAccess(ctx context.Context, c *uapi.Call) (uapi.Result, error) {
	if msg := c.Args.Require("name"); msg != "" {
		return uapi.Fail(msg), nil
	}
	name, _ := c.Args.Get("name")
	if msg := NameProblem(name); msg != "" {
		return uapi.Fail(msg), nil
	}
	now := d.now()
	v, _ := c.Args.Get("expires_at")
	expires, msg := ExpiresAt("expires_at", v, now)
	if msg != "" {
		return uapi.Fail(msg), nil
	}
	t, secret, err := d.issuer().Issue(ctx, c.Caller.User, name, expires, nil, now)
	if errors.Is(err, ErrNameTaken) {
		return uapi.Fail(TakenText(name)), nil
	}
	if err != nil {
		return uapi.Result{}, err
	}
	d.Audit.Log(ctx, audit.Event{Event: audit.TokenCreate, Actor: c.Caller.User, Method: Module + "::create_full_access",
		Target: c.Caller.User, SecretFP: audit.Fingerprint(secret), Reason: "name " + name})
	return uapi.OK(map[string]any{
		"create_time": t.CreatedAt.Unix(),
		"expires_at":  Unix(t.ExpiresAt),
		"name":        t.Name,
		"token":       secret,
	}), nil
}

// list returns the account's tokens sorted by name, as cPanel does: name,
// create_time, expires_at (null: never), has_full_access (always 1) and
// features (always []). It never returns a secret (uapid does not have
// them).
func (d *Deps) list(ctx context.Context, c *uapi.Call) (uapi.Result, error) {
	ts, err := d.Dir.ListTokens(ctx, c.Caller.User)
	if err != nil {
		return uapi.Result{}, err
	}
	out := make([]map[string]any, 0, len(ts))
	for _, t := range ts {
		out = append(out, map[string]any{
			"name":            t.Name,
			"create_time":     t.CreatedAt.Unix(),
			"expires_at":      Unix(t.ExpiresAt),
			"has_full_access": 1,
			"features":        []string{},
		})
	}
	r := uapi.OK(out)
	r.Metadata = map[string]any{"transformed": 1}
	return r, nil
}

// revoke removes the token name. As cPanel documents, data is 1 both when
// the token was removed and when there was no such token.
func (d *Deps) revoke(ctx context.Context, c *uapi.Call) (uapi.Result, error) {
	if msg := c.Args.Require("name"); msg != "" {
		return uapi.Fail(msg), nil
	}
	name, _ := c.Args.Get("name")
	err := d.Dir.RevokeToken(ctx, c.Caller.User, name)
	switch {
	case err == nil:
		d.Audit.Log(ctx, audit.Event{Event: audit.TokenRevoke, Actor: c.Caller.User, Method: Module + "::revoke",
			Target: c.Caller.User, Reason: "name " + name})
	case !errors.Is(err, directory.ErrNotFound):
		return uapi.Result{}, err
	}
	return uapi.OK(1), nil
}
