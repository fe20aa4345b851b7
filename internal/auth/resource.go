package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/netip"
)

// ResourceServer is a program that calls uapid on behalf of uapid's users
// with a credential of its own (HTTP Basic name:secret): Dovecot checking a
// Webmail token or a mailbox password, a phpMyAdmin sign-on script. Only
// the SHA-256 of its secret is kept.
type ResourceServer struct {
	Name       string
	SecretHash [32]byte
}

// ResourceServer authenticates a resource server by the Authorization
// header of its request (HTTP Basic) and returns its name. Every refusal
// is ErrDenied and counts against the client address (there is no user to
// count against); a blocked address is refused without a check.
func (a *Authenticator) ResourceServer(ctx context.Context, authorization string, remote netip.Addr) (string, error) {
	if blocked, err := a.Limiter.Blocked(ctx, remote, ""); err != nil || blocked {
		return "", cmpErr(err, ErrDenied)
	}
	scheme, name, secret, ok := ParseAuthorization(authorization)
	if ok && scheme == "basic" {
		h := sha256.Sum256([]byte(secret))
		// Every configured server is compared, so that the time taken
		// does not tell which names exist.
		found := ""
		for _, rs := range a.ResourceServers {
			match := subtle.ConstantTimeCompare(h[:], rs.SecretHash[:]) & subtle.ConstantTimeCompare([]byte(name), []byte(rs.Name))
			if match == 1 {
				found = rs.Name
			}
		}
		if found != "" {
			return found, nil
		}
	}
	a.fail(ctx, remote, "")
	return "", ErrDenied
}
