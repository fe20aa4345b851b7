// Package session is uapid's session lifecycle: creating sessions with
// their secrets (a one-time login secret, a security token, a reserved
// temporary database user), redeeming a login for a cookie, recording
// uses (idle timeout), and ending sessions (logout, revocation, expiry)
// with what hangs off them. It holds no state of its own: the records live
// in a store.Sessions, so any number of Managers, processes and nodes may
// share one store.
//
// Whether a secret, cookie or token may be used at all is decided by
// package auth; this package only generates secrets (secret.go) and keeps
// the records they lead to. Secrets never enter a store: a login session
// string and a cookie value are kept only as their SHA-256 hashes
// (HashSecret), and lookups go by hash.
package session
