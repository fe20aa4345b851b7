package uapi

import (
	"context"
	"net/netip"
)

// Services a caller can come through (cPanel's daemon names).
const (
	ServiceCPanel  = "cpaneld"
	ServiceWebmail = "webmaild"
	ServiceWHM     = "whostmgrd"
)

// Authentication methods recorded on a Caller.
const (
	MethodBasic   = "basic"   // Authorization: Basic
	MethodToken   = "token"   // Authorization: cpanel|whm user:TOKEN
	MethodSession = "session" // session cookie + /cpsess… token
	MethodCLI     = "cli"     // in-process from uapi / whmapi1
)

// Caller is who runs a function. It is built by authentication (HTTP) or by
// the command line, never by the function itself.
type Caller struct {
	// User is the authenticated cPanel account, or "root" for WHM root.
	User string
	// Mailbox is the lower-case address when a mailbox user authenticated
	// (Webmail ports); empty otherwise.
	Mailbox string
	// Service is one of the Service* constants.
	Service string
	// Method is one of the Method* constants.
	Method string
	// RemoteAddr is the client address; invalid (zero) when there is none,
	// as from the command line.
	RemoteAddr netip.Addr
	// SessionID is the public id of the cPanel session the request came
	// through (Method == MethodSession); empty otherwise.
	SessionID string
	// Locale is the caller's locale ("en" when unknown).
	Locale string
	// UserAgent is the client's User-Agent header ("" from the CLI); for
	// audit records only.
	UserAgent string
}

// Call is one invocation of a UAPI function.
type Call struct {
	Module   string
	Function string
	Args     *Args
	Caller   Caller
}

// Func implements one UAPI function. It must not panic on any input; if it
// does, Dispatch turns the panic into the generic error with an error id.
// An unexpected internal failure may be returned as err: Dispatch logs it
// under a fresh error id and answers the generic error text.
type Func func(ctx context.Context, c *Call) (Result, error)
