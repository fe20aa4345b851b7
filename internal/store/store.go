// Package store is the one storage contract of uapid: the records uapid
// keeps (accounts, mailboxes, API tokens, root's password, sessions, the
// ledger of temporary database users, brute-force attempt counters, OAuth
// codes and tokens), the interfaces every backend implements (Directory,
// Sessions, Ledger, Attempts, OAuth), the errors they return, and the one
// copy of the rules that decide what a valid record is.
//
// Backends live below this package: sqlstore (SQLite and PostgreSQL, one
// implementation with a dialect each) and redisstore (sessions, attempt
// counters and OAuth codes and tokens in Redis). Package storetest is the conformance suite every
// backend passes, including two independent handles on one store racing to
// create the same names.
//
// What every backend guarantees:
//   - Every method is atomic: a failed call changes nothing.
//   - Creation is create-only: Create* of a name that exists fails with
//     ErrExists, decided by the store's own uniqueness (a unique constraint
//     inside the write, or an atomic Redis operation), never by a read
//     before the write. Of several handles (processes, nodes) creating the
//     same name at once, exactly one succeeds.
//   - Changes go through Update* functions that run the caller's function
//     on the current record inside the store's transaction, so a check and
//     the change it guards are one step (compare-and-swap). Put* upserts
//     exist only for fixtures, where idempotence is the point.
//   - Names (users, domains, addresses) are stored and compared in their
//     lower-case form.
//   - Errors wrap ErrNotFound, ErrExists or ErrInvalid with a message that
//     names the offending value but never a secret or a hash; a store that
//     cannot be reached answers ErrUnavailable.
package store

import (
	"errors"
	"fmt"
)

var (
	// ErrNotFound: no such record.
	ErrNotFound = errors.New("not found")
	// ErrExists: the name (account user, domain, mailbox address, token
	// name or secret, session id, hash or token) is taken.
	ErrExists = errors.New("already exists")
	// ErrInvalid: the record or argument breaks a rule; the message says
	// which.
	ErrInvalid = errors.New("invalid")
	// ErrUnavailable: the store cannot be reached (a database or Redis
	// server that is down or unreachable). Requests answer 503; the store
	// recovers by itself when the server is back.
	ErrUnavailable = errors.New("store unavailable")

	// ErrConsumed: a session's login secret was already used.
	ErrConsumed = errors.New("session already used")
	// ErrExpired: the session exists but its expiry has passed.
	ErrExpired = errors.New("session expired")
)

// Error is an error of one of the kinds above with a message for people.
// Its Error method returns the message alone (it reads well in an API
// answer); errors.Is matches its Kind.
type Error struct {
	Kind error
	Msg  string
	// Field names what the error is about when callers need to tell cases
	// apart: for ErrExists, "user", "domain", "address", "name" (a
	// token's) or "hash" (a token's secret).
	Field string
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Kind }

// Errorf returns an *Error of kind with a formatted message.
func Errorf(kind error, format string, args ...any) error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// FieldErrorf returns an *Error of kind about field.
func FieldErrorf(kind error, field, format string, args ...any) error {
	return &Error{Kind: kind, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// FieldOf returns the Field of the *Error in err's chain ("" when none).
func FieldOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}

// Unavailable wraps err (a failure to reach the store's server) as
// ErrUnavailable, keeping err for the log.
func Unavailable(what string, err error) error {
	return &unavailable{what: what, err: err}
}

type unavailable struct {
	what string
	err  error
}

func (u *unavailable) Error() string {
	return u.what + " is unavailable: " + u.err.Error()
}

func (u *unavailable) Is(target error) bool { return target == ErrUnavailable }
func (u *unavailable) Unwrap() error        { return u.err }
