package store

import (
	"context"
	"time"
)

// Ticket is a one-time sign-on ticket: a short-lived secret, bound to one
// logged-in session, that a browser carries from uapid to a third-party
// application (phpMyAdmin), which redeems it with uapid over a channel of
// its own. Only the SHA-256 of the ticket is stored.
type Ticket struct {
	// Hash is the SHA-256 of the ticket (TicketHashLen bytes).
	Hash []byte
	// SessionID is the session the ticket was issued in.
	SessionID string
	// ExpiresAt is when the ticket can no longer be taken (kept at
	// millisecond precision, like session times).
	ExpiresAt time.Time
}

// TicketHashLen is the length of a Ticket's Hash (SHA-256).
const TicketHashLen = 32

// Tickets keeps sign-on tickets. It lives with the sessions (the same
// backend as store.Sessions), so that every node that can see a session
// can redeem its tickets.
//
// Guarantees:
//   - CreateTicket is create-only: ErrExists when the hash is present.
//     It refuses a malformed ticket with ErrInvalid (ValidateTicket).
//   - TakeTicket removes the ticket and returns it, for exactly one
//     caller however many race, also across processes and nodes: a ticket
//     is redeemed at most once.
//   - TakeTicket never returns a ticket that is expired at now: it answers
//     ErrExpired (and the ticket is gone as well); an absent or already
//     taken ticket is ErrNotFound.
//   - SweepTickets removes the tickets expired at now. Backends that
//     expire keys by themselves may leave the work to the server; taking
//     still refuses expired tickets.
type Tickets interface {
	CreateTicket(ctx context.Context, t Ticket) error
	TakeTicket(ctx context.Context, hash []byte, now time.Time) (Ticket, error)
	SweepTickets(ctx context.Context, now time.Time) (int, error)
}

// ValidateTicket checks what every Tickets store requires of a ticket
// given to CreateTicket: a hash of TicketHashLen bytes, a session id that
// is UTF-8 text of at most MaxFieldLen bytes, and an expiry.
func ValidateTicket(t *Ticket) error {
	if len(t.Hash) != TicketHashLen {
		return Errorf(ErrInvalid, "a sign-on ticket needs a hash of %d bytes", TicketHashLen)
	}
	if t.SessionID == "" || len(t.SessionID) > MaxFieldLen || !Text(t.SessionID) {
		return Errorf(ErrInvalid, "a sign-on ticket needs a session id of UTF-8 text of at most %d bytes", MaxFieldLen)
	}
	if t.ExpiresAt.IsZero() {
		return Errorf(ErrInvalid, "a sign-on ticket needs an expiry")
	}
	return nil
}
