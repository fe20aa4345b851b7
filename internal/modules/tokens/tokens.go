// Package tokens is the UAPI Tokens module: create_full_access, list and
// revoke manage the calling cPanel account's API tokens. A token's secret
// is shown once, in the answer that creates it; the directory keeps only its
// SHA-256. Tokens are issued and revoked by the account lifecycle (package
// accounts), as for the WHM functions api_token_create and
// api_token_revoke, which share this package's texts.
package tokens

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/uapid/uapid/internal/accounts"
	"github.com/uapid/uapid/internal/store"
	"github.com/uapid/uapid/internal/uapi"
)

// Module is the module's name.
const Module = "Tokens"

// Deps are what the Tokens functions need.
type Deps struct {
	Dir store.Directory
	// Accounts issues and revokes tokens.
	Accounts *accounts.Service
	// Now returns the current time (tests override it).
	Now func() time.Time
}

func (d *Deps) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// Register adds the Tokens functions to reg.
func Register(reg *uapi.Registry, d *Deps) {
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
	if msg := accounts.TokenNameProblem(name); msg != "" {
		return uapi.Fail(msg), nil
	}
	now := d.now()
	v, _ := c.Args.Get("expires_at")
	expires, msg := ExpiresAt("expires_at", v, now)
	if msg != "" {
		return uapi.Fail(msg), nil
	}
	t, secret, err := d.Accounts.IssueToken(ctx, c.Caller.User, name, expires, nil,
		accounts.Actor{User: c.Caller.User, Method: Module + "::create_full_access"})
	if errors.Is(err, store.ErrExists) {
		return uapi.Fail(TakenText(name)), nil
	}
	if err != nil {
		return uapi.Result{}, err
	}
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
	err := d.Accounts.RevokeToken(ctx, c.Caller.User, name, accounts.Actor{User: c.Caller.User, Method: Module + "::revoke"})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return uapi.Result{}, err
	}
	return uapi.OK(1), nil
}
