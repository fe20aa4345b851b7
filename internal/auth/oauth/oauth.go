// Package oauth makes uapid an OAuth 2.0 authorization server for its
// Webmail sessions, so that a Webmail client (Roundcube) logs a mailbox in
// without a password, and the mail server (Dovecot) asks uapid whether the
// token it is shown is good. It decides every credential of the flow:
//
//   - the authorization code (RFC 6749 §4.1) that a logged-in Webmail
//     session approves for a registered client and redirect URI, with PKCE
//     (RFC 7636, method S256) when the client sends a challenge: random,
//     stored hashed, one-time (the store's compare-and-swap), 60 s;
//   - the access and refresh tokens a client gets for the code (client
//     authentication client_secret_basic or client_secret_post): random,
//     stored hashed, bound to the session, never outliving it (the access
//     token's lifetime is at most what is left of the session's idle and
//     absolute limits; a refresh token gets new access tokens while the
//     session lives);
//   - introspection (RFC 7662) for resource servers, the user info of a
//     token, and revocation (RFC 7009), which ends the session.
//
// Every use of a token reads its session: a session that ended (logout,
// expiry, revocation, a suspension or removal) makes its tokens inactive
// at once, and so does a suspended mailbox login or account. The HTTP
// form of the protocol (parsing, JSON, status codes) is package server's;
// refusals here are *Error values carrying the RFC's error code and
// status.
package oauth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/uapid/uapid/internal/audit"
	"github.com/uapid/uapid/internal/auth"
	"github.com/uapid/uapid/internal/session"
	"github.com/uapid/uapid/internal/store"
	"github.com/uapid/uapid/internal/uapi"
)

// CodeTTL is how long an authorization code can be exchanged.
const CodeTTL = 60 * time.Second

// Scope is the one scope uapid grants: access to the mailbox of the
// session, as that mailbox. Requested scopes are checked for their syntax
// and otherwise ignored (RFC 6749 §3.3 allows it); answers name the scope
// granted.
const Scope = "mail"

// Secret prefixes: they tell a leaked secret's kind at a glance (and let
// secret scanners find them); the rest is 256 random bits, base64url.
const (
	codePrefix    = "uapid_ac_"
	accessPrefix  = "uapid_at_"
	refreshPrefix = "uapid_rt_"
)

// Client is a registered OAuth client (--oauth-clients).
type Client struct {
	ID string
	// SecretHash is the SHA-256 of the client secret.
	SecretHash [32]byte
	// RedirectURIs are the exact redirect URIs the client may use.
	RedirectURIs []string
}

// Provider is the authorization server. Its state lives in Store and in
// the sessions, so any number of Providers (nodes) may share them.
type Provider struct {
	Store    store.OAuth
	Sessions *session.Manager
	// Auth decides whether a session's user may still log in, counts
	// failed client authentications, and reads the directory.
	Auth    *auth.Authenticator
	Clients []Client
	// Audit receives the flow's events (nil: none); Log its warnings.
	Audit *audit.Logger
	Log   *slog.Logger
}

// Error is a refusal in the terms of RFC 6749 §4.1.2.1 and §5.2, RFC 6750
// §3.1 and RFC 7009 §2.2.1: an error code, a description for developers
// (never a secret) and the HTTP status to answer with.
type Error struct {
	Code        string
	Description string
	Status      int
}

func (e *Error) Error() string { return e.Code + ": " + e.Description }

// Error codes.
const (
	ErrInvalidRequest          = "invalid_request"
	ErrInvalidClient           = "invalid_client"
	ErrInvalidGrant            = "invalid_grant"
	ErrUnauthorizedClient      = "unauthorized_client"
	ErrUnsupportedGrantType    = "unsupported_grant_type"
	ErrUnsupportedResponseType = "unsupported_response_type"
	ErrInvalidScope            = "invalid_scope"
	ErrAccessDenied            = "access_denied"
	ErrInvalidToken            = "invalid_token"
	ErrUnsupportedTokenType    = "unsupported_token_type"
)

func fail(code, desc string) *Error {
	status := http.StatusBadRequest
	switch code {
	case ErrInvalidClient, ErrInvalidToken:
		status = http.StatusUnauthorized
	}
	return &Error{Code: code, Description: desc, Status: status}
}

// newSecret returns prefix and 256 random bits in base64url.
func newSecret(prefix string) string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("oauth: crypto/rand failed: " + err.Error())
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// hash is how codes and tokens are stored and looked up.
func hash(secret string) []byte { return session.HashSecret(secret) }

// client returns the registered client id.
func (p *Provider) client(id string) (Client, bool) {
	for _, c := range p.Clients {
		if c.ID == id {
			return c, true
		}
	}
	return Client{}, false
}

func (p *Provider) now() time.Time { return p.Sessions.Clock() }

func (p *Provider) audit(ctx context.Context, e audit.Event) {
	if p.Audit == nil {
		return
	}
	e.Service = uapi.ServiceWebmail
	p.Audit.Log(ctx, e)
}

// ---- authorization endpoint ----

// AuthorizeRequest is an authorization request (RFC 6749 §4.1.1, RFC 7636
// §4.3) as the browser brought it. Empty means absent.
type AuthorizeRequest struct {
	ClientID            string
	RedirectURI         string
	ResponseType        string
	Scope               string
	CodeChallenge       string
	CodeChallengeMethod string
}

// Redirect checks the client and the redirect URI of a request, which
// decide whether errors may be sent back to the client at all (RFC 6749
// §4.1.2.1): a refusal here must be shown to the user, never redirected.
// It returns the URI to redirect to: the one given, which must be one of
// the client's exactly, or the client's only one when none was given.
func (p *Provider) Redirect(clientID, redirectURI string) (string, *Error) {
	if clientID == "" {
		return "", fail(ErrInvalidRequest, "The request has no client_id.")
	}
	c, ok := p.client(clientID)
	if !ok {
		// Shown to the user as a page: no client authentication failed.
		return "", &Error{Code: ErrInvalidClient, Description: "The client is not registered.", Status: http.StatusBadRequest}
	}
	if redirectURI == "" {
		if len(c.RedirectURIs) != 1 {
			return "", fail(ErrInvalidRequest, "The request has no redirect_uri and the client has several.")
		}
		return c.RedirectURIs[0], nil
	}
	if !slices.Contains(c.RedirectURIs, redirectURI) {
		return "", fail(ErrInvalidRequest, "The redirect_uri is not registered for the client.")
	}
	return redirectURI, nil
}

// CheckRequest checks the rest of an authorization request whose client
// and redirect URI passed Redirect; its refusals go back to the client.
func (p *Provider) CheckRequest(req AuthorizeRequest) *Error {
	switch {
	case req.ResponseType == "":
		return fail(ErrInvalidRequest, "The request has no response_type.")
	case req.ResponseType != "code":
		return fail(ErrUnsupportedResponseType, "Only the response_type “code” is supported.")
	case !validScope(req.Scope):
		return fail(ErrInvalidScope, "The scope is malformed.")
	case req.CodeChallengeMethod != "" && req.CodeChallenge == "":
		return fail(ErrInvalidRequest, "The request has a code_challenge_method but no code_challenge.")
	case req.CodeChallenge == "":
		return nil
	case req.CodeChallengeMethod != "S256":
		// RFC 7636 §4.4.1: an unsupported transformation is
		// invalid_request. "plain" (the default) adds nothing over no
		// PKCE at all, so only S256 is taken.
		return fail(ErrInvalidRequest, "The code_challenge_method must be S256.")
	case !validChallenge(req.CodeChallenge):
		return fail(ErrInvalidRequest, "The code_challenge is not 43 base64url characters.")
	}
	return nil
}

// validScope checks RFC 6749 §3.3's syntax: space-separated tokens of
// printable ASCII but the space, '"' and '\'.
func validScope(s string) bool {
	if len(s) > 1024 {
		return false
	}
	for _, tok := range strings.Split(s, " ") {
		if tok == "" && s != "" {
			return false
		}
		for i := 0; i < len(tok); i++ {
			if c := tok[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
				return false
			}
		}
	}
	return true
}

// validChallenge reports whether s is an S256 code challenge: the
// base64url (no padding) of 32 bytes.
func validChallenge(s string) bool {
	if len(s) != 43 {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && len(b) == 32
}

// validVerifier checks RFC 7636 §4.1: 43 to 128 characters of
// [A-Za-z0-9-._~].
func validVerifier(s string) bool {
	if len(s) < 43 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// IssueCode issues an authorization code for a request that passed
// Redirect and CheckRequest, approved by the logged-in Webmail session sess
// (package auth resolved it from the browser's cookie, and found its user
// allowed to log in). It returns the code, the only time it exists in
// clear.
func (p *Provider) IssueCode(ctx context.Context, req AuthorizeRequest, sess store.Session) (string, error) {
	if sess.Service != uapi.ServiceWebmail || !sess.Consumed {
		return "", errors.New("oauth: a code needs a logged-in Webmail session")
	}
	now := p.now()
	for attempt := 0; ; attempt++ {
		code := newSecret(codePrefix)
		c := store.OAuthCode{
			Hash:        hash(code),
			SessionID:   sess.ID,
			ClientID:    req.ClientID,
			RedirectURI: req.RedirectURI,
			Challenge:   req.CodeChallenge,
			CreatedAt:   now,
			ExpiresAt:   now.Add(CodeTTL),
		}
		err := p.Store.CreateOAuthCode(ctx, c)
		if err == nil {
			p.audit(ctx, audit.Event{Event: audit.OAuthCode, Actor: sess.User, Method: req.ClientID,
				Target: sess.User, SessionID: sess.ID, SecretFP: audit.Fingerprint(code)})
			return code, nil
		}
		// A collision of 256 random bits does not happen; a retry
		// costs nothing.
		if !errors.Is(err, store.ErrExists) || attempt >= 2 {
			return "", fmt.Errorf("issue an authorization code: %w", err)
		}
	}
}

// ---- token endpoint ----

// ClientAuth is how a request authenticated its client (RFC 6749 §2.3.1):
// the client_id and client_secret of HTTP Basic or of the body.
type ClientAuth struct {
	ID, Secret string
	// AltSecret, when not empty, is another reading of the secret that
	// is accepted as well: HTTP Basic credentials as sent by clients that
	// do not form-urlencode them (RFC 6749 §2.3.1 says they should).
	AltSecret string
	// Basic is true when they came in an Authorization header (a
	// refusal then answers 401 with WWW-Authenticate).
	Basic bool
	// Remote is the client's address, against which failures count.
	Remote netip.Addr
}

// authenticate checks a client's credentials in constant time (every
// registered client is compared, so the time taken does not tell which
// ids exist). Failures count towards the brute-force limit of the
// client's address; a blocked address is refused without a check.
func (p *Provider) authenticate(ctx context.Context, ca ClientAuth) (Client, error) {
	if ca.ID == "" {
		return Client{}, fail(ErrInvalidClient, "The request does not authenticate a client.")
	}
	if blocked, err := p.Auth.Limiter.Blocked(ctx, ca.Remote, ""); err != nil || blocked {
		if err != nil {
			return Client{}, err
		}
		return Client{}, fail(ErrInvalidClient, "Client authentication failed.")
	}
	h := sha256.Sum256([]byte(ca.Secret))
	alt := h
	if ca.AltSecret != "" {
		alt = sha256.Sum256([]byte(ca.AltSecret))
	}
	var found Client
	ok := 0
	for _, c := range p.Clients {
		secret := subtle.ConstantTimeCompare(h[:], c.SecretHash[:]) | subtle.ConstantTimeCompare(alt[:], c.SecretHash[:])
		m := secret & subtle.ConstantTimeCompare([]byte(ca.ID), []byte(c.ID))
		if m == 1 {
			found = c
		}
		ok |= m
	}
	if ok != 1 {
		if _, err := p.Auth.Limiter.Fail(ctx, ca.Remote, ""); err != nil && p.Log != nil {
			p.Log.WarnContext(ctx, "failed client authentication not counted", "error", err.Error())
		}
		return Client{}, fail(ErrInvalidClient, "Client authentication failed.")
	}
	return found, nil
}

// TokenRequest is an access token request (RFC 6749 §4.1.3, §6).
type TokenRequest struct {
	Client       ClientAuth
	GrantType    string
	Code         string
	RedirectURI  string
	CodeVerifier string
	RefreshToken string
	Scope        string
}

// TokenResponse is a successful answer (RFC 6749 §5.1).
type TokenResponse struct {
	AccessToken  string
	ExpiresIn    int64 // seconds
	RefreshToken string
	Scope        string
}

// Token answers a token request: the authorization_code grant (a code
// for an access and a refresh token) and the refresh_token grant (a new
// access token for the same session). A code is consumed by its first
// exchange, whatever comes of it; a second use fails with invalid_grant
// and revokes every token the first one issued (RFC 6749 §4.1.2).
func (p *Provider) Token(ctx context.Context, req TokenRequest) (TokenResponse, error) {
	cl, err := p.authenticate(ctx, req.Client)
	if err != nil {
		return TokenResponse{}, err
	}
	var res TokenResponse
	switch req.GrantType {
	case "":
		return TokenResponse{}, fail(ErrInvalidRequest, "The request has no grant_type.")
	case "authorization_code":
		res, err = p.exchangeCode(ctx, cl, req)
	case "refresh_token":
		res, err = p.refresh(ctx, cl, req)
	default:
		return TokenResponse{}, fail(ErrUnsupportedGrantType, "The grant_type is not supported.")
	}
	var oe *Error
	if errors.As(err, &oe) {
		p.audit(ctx, audit.Event{Event: audit.OAuthTokenFailed, Actor: cl.ID, Method: req.GrantType,
			Client: addr(req.Client.Remote), Reason: oe.Code})
	}
	return res, err
}

func (p *Provider) exchangeCode(ctx context.Context, cl Client, req TokenRequest) (TokenResponse, error) {
	if req.Code == "" {
		return TokenResponse{}, fail(ErrInvalidRequest, "The request has no code.")
	}
	if req.Scope != "" && !validScope(req.Scope) {
		return TokenResponse{}, fail(ErrInvalidScope, "The scope is malformed.")
	}
	h := hash(req.Code)
	c, err := p.Store.ConsumeOAuthCode(ctx, h, p.now())
	switch {
	case errors.Is(err, store.ErrConsumed):
		// A replay: what the first exchange issued is revoked.
		n, derr := p.Store.DeleteOAuthGrant(ctx, h)
		if derr != nil {
			return TokenResponse{}, derr
		}
		if p.Log != nil {
			p.Log.WarnContext(ctx, "authorization code used twice; the tokens it issued are revoked", "client", cl.ID, "tokens", n)
		}
		return TokenResponse{}, fail(ErrInvalidGrant, "The authorization code was used already.")
	case errors.Is(err, store.ErrNotFound):
		return TokenResponse{}, fail(ErrInvalidGrant, "The authorization code is not valid.")
	case errors.Is(err, store.ErrExpired):
		return TokenResponse{}, fail(ErrInvalidGrant, "The authorization code has expired.")
	case err != nil:
		return TokenResponse{}, err
	}
	// The code is spent: whatever fails below, it cannot be tried again.
	if subtle.ConstantTimeCompare([]byte(c.ClientID), []byte(cl.ID)) != 1 {
		return TokenResponse{}, fail(ErrInvalidGrant, "The authorization code was issued to another client.")
	}
	switch {
	case c.RedirectURI != "" && req.RedirectURI != c.RedirectURI:
		return TokenResponse{}, fail(ErrInvalidGrant, "The redirect_uri is not the one of the authorization request.")
	case c.RedirectURI == "" && req.RedirectURI != "" && !slices.Contains(cl.RedirectURIs, req.RedirectURI):
		return TokenResponse{}, fail(ErrInvalidGrant, "The redirect_uri is not registered for the client.")
	}
	switch {
	case c.Challenge == "" && req.CodeVerifier != "":
		return TokenResponse{}, fail(ErrInvalidGrant, "The authorization request had no code_challenge.")
	case c.Challenge != "" && req.CodeVerifier == "":
		return TokenResponse{}, fail(ErrInvalidGrant, "The request has no code_verifier.")
	case c.Challenge != "":
		if !validVerifier(req.CodeVerifier) {
			return TokenResponse{}, fail(ErrInvalidGrant, "The code_verifier is malformed.")
		}
		sum := sha256.Sum256([]byte(req.CodeVerifier))
		if subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(c.Challenge)) != 1 {
			return TokenResponse{}, fail(ErrInvalidGrant, "The code_verifier does not match the code_challenge.")
		}
	}
	sess, err := p.liveSession(ctx, c.SessionID)
	if err != nil {
		return TokenResponse{}, err
	}
	access, exp, err := p.issue(ctx, store.OAuthAccess, cl.ID, sess, h)
	if err != nil {
		return TokenResponse{}, err
	}
	refresh, _, err := p.issue(ctx, store.OAuthRefresh, cl.ID, sess, h)
	if err != nil {
		return TokenResponse{}, err
	}
	p.audit(ctx, audit.Event{Event: audit.OAuthToken, Actor: cl.ID, Method: "authorization_code",
		Target: sess.User, SessionID: sess.ID, SecretFP: audit.Fingerprint(access), Client: addr(req.Client.Remote)})
	return TokenResponse{AccessToken: access, ExpiresIn: seconds(exp.Sub(p.now())), RefreshToken: refresh, Scope: Scope}, nil
}

func (p *Provider) refresh(ctx context.Context, cl Client, req TokenRequest) (TokenResponse, error) {
	if req.RefreshToken == "" {
		return TokenResponse{}, fail(ErrInvalidRequest, "The request has no refresh_token.")
	}
	if req.Scope != "" && !validScope(req.Scope) {
		return TokenResponse{}, fail(ErrInvalidScope, "The scope is malformed.")
	}
	t, sess, err := p.use(ctx, req.RefreshToken, store.OAuthRefresh)
	if err != nil {
		return TokenResponse{}, fail(ErrInvalidGrant, "The refresh token is not active.")
	}
	if subtle.ConstantTimeCompare([]byte(t.ClientID), []byte(cl.ID)) != 1 {
		return TokenResponse{}, fail(ErrInvalidGrant, "The refresh token was issued to another client.")
	}
	access, exp, err := p.issue(ctx, store.OAuthAccess, cl.ID, sess, t.Grant)
	if err != nil {
		return TokenResponse{}, err
	}
	p.audit(ctx, audit.Event{Event: audit.OAuthToken, Actor: cl.ID, Method: "refresh_token",
		Target: sess.User, SessionID: sess.ID, SecretFP: audit.Fingerprint(access), Client: addr(req.Client.Remote)})
	return TokenResponse{AccessToken: access, ExpiresIn: seconds(exp.Sub(p.now())), Scope: Scope}, nil
}

// addr is a as the audit trail shows it ("" when unknown).
func addr(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.Unmap().String()
}

// seconds rounds d down to whole seconds, at least 1.
func seconds(d time.Duration) int64 { return max(int64(d/time.Second), 1) }

// liveSession returns the logged-in Webmail session id after recording a
// use of it (idle timeout), if it still lives and its user may log in;
// else invalid_grant. Other errors are the stores'.
func (p *Provider) liveSession(ctx context.Context, id string) (store.Session, error) {
	sess, err := p.Sessions.Store.Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Session{}, fail(ErrInvalidGrant, "The session has ended.")
	}
	if err != nil {
		return store.Session{}, err
	}
	now := p.now()
	if sess.Service != uapi.ServiceWebmail || !sess.Consumed || sess.Expired(now) {
		return store.Session{}, fail(ErrInvalidGrant, "The session has ended.")
	}
	ok, err := p.Auth.LoginAllowed(ctx, sess.Account, sess.User)
	if err != nil {
		return store.Session{}, err
	}
	if !ok {
		return store.Session{}, fail(ErrInvalidGrant, "The login is suspended.")
	}
	sess, err = p.Sessions.Touch(ctx, sess, now)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrExpired) {
		return store.Session{}, fail(ErrInvalidGrant, "The session has ended.")
	}
	return sess, err
}

// issue creates a token of kind for sess and returns it with its expiry:
// an access token ends with the session's current expiry (its idle and
// absolute limits), a refresh token with the session's absolute limit.
func (p *Provider) issue(ctx context.Context, kind, clientID string, sess store.Session, grant []byte) (string, time.Time, error) {
	now := p.now()
	exp := sess.ExpiresAt
	prefix := accessPrefix
	if kind == store.OAuthRefresh {
		exp, prefix = p.Sessions.EndsAt(sess), refreshPrefix
	}
	if !exp.After(now) {
		return "", time.Time{}, fail(ErrInvalidGrant, "The session has ended.")
	}
	for attempt := 0; ; attempt++ {
		tok := newSecret(prefix)
		err := p.Store.CreateOAuthToken(ctx, store.OAuthToken{Hash: hash(tok), Kind: kind, SessionID: sess.ID,
			ClientID: clientID, Grant: grant, CreatedAt: now, ExpiresAt: exp})
		if err == nil {
			return tok, exp, nil
		}
		if !errors.Is(err, store.ErrExists) || attempt >= 2 {
			return "", time.Time{}, fmt.Errorf("issue a token: %w", err)
		}
	}
}

// errInactive is the one answer for a token that is not active, whatever
// the reason: unknown, expired, of another kind, of an ended session or a
// user who may not log in.
var errInactive = errors.New("oauth: the token is not active")

// use looks a token of kind up and, if it is active (unexpired, its
// session alive and its user allowed to log in), records a use of its
// session (idle timeout) and returns both. Inactive tokens answer
// errInactive; other errors are the stores'.
func (p *Provider) use(ctx context.Context, token, kind string) (store.OAuthToken, store.Session, error) {
	if token == "" || len(token) > 512 {
		return store.OAuthToken{}, store.Session{}, errInactive
	}
	h := hash(token)
	t, err := p.Store.OAuthTokenByHash(ctx, h)
	if errors.Is(err, store.ErrNotFound) {
		return store.OAuthToken{}, store.Session{}, errInactive
	}
	if err != nil {
		return store.OAuthToken{}, store.Session{}, err
	}
	if subtle.ConstantTimeCompare(t.Hash, h) != 1 || t.Kind != kind || t.Expired(p.now()) {
		return store.OAuthToken{}, store.Session{}, errInactive
	}
	sess, err := p.liveSession(ctx, t.SessionID)
	var oe *Error
	if errors.As(err, &oe) {
		return store.OAuthToken{}, store.Session{}, errInactive
	}
	if err != nil {
		return store.OAuthToken{}, store.Session{}, err
	}
	return t, sess, nil
}

// ---- introspection, user info, revocation ----

// Introspection is the answer of RFC 7662 §2.2. An inactive token has
// only Active false.
type Introspection struct {
	Active    bool
	Username  string // the mailbox address, or the account user
	ClientID  string
	Exp, Iat  int64 // Unix seconds
	Scope     string
	TokenType string
}

// Introspect answers a resource server's (Dovecot's) question about an
// access token: active while the token is unexpired, its session lives
// and neither the mailbox's login nor the account is suspended. Refresh
// tokens are never active here: they are no credential for a resource
// server. Each successful introspection is a use of the session (idle
// timeout). The resource server's own authentication is the caller's
// (auth.Authenticator.ResourceServer).
func (p *Provider) Introspect(ctx context.Context, token string) (Introspection, error) {
	t, sess, err := p.use(ctx, token, store.OAuthAccess)
	if errors.Is(err, errInactive) {
		return Introspection{}, nil
	}
	if err != nil {
		return Introspection{}, err
	}
	return Introspection{Active: true, Username: sess.User, ClientID: t.ClientID, Exp: t.ExpiresAt.Unix(),
		Iat: t.CreatedAt.Unix(), Scope: Scope, TokenType: "Bearer"}, nil
}

// UserInfo is who an access token speaks for.
type UserInfo struct {
	// Sub is the login name: the mailbox address, or the account user.
	Sub string
	// Email is the mailbox address (for an account, its user at its main
	// domain, cPanel's default address).
	Email string
	// PreferredUsername is the name to log in to IMAP with: Sub.
	PreferredUsername string
	// ReturnURL is where the session's creator wants the browser back
	// after a logout (the return_url of create_webmail_session_for_*),
	// when it is an absolute http(s) URL; else "".
	ReturnURL string
}

// UserInfo answers the user info request of a client holding an access
// token (RFC 6750 bearer): invalid_token when the token is not active.
// Like an introspection, it is a use of the session.
func (p *Provider) UserInfo(ctx context.Context, token string) (UserInfo, error) {
	_, sess, err := p.use(ctx, token, store.OAuthAccess)
	if errors.Is(err, errInactive) {
		return UserInfo{}, fail(ErrInvalidToken, "The access token is not active.")
	}
	if err != nil {
		return UserInfo{}, err
	}
	ui := UserInfo{Sub: sess.User, Email: sess.User, PreferredUsername: sess.User}
	if u, err := url.Parse(sess.ReturnURL); err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" {
		ui.ReturnURL = sess.ReturnURL
	}
	if !strings.Contains(sess.User, "@") {
		acct, err := p.Auth.Dir.GetAccount(ctx, sess.User)
		if err != nil {
			return UserInfo{}, err
		}
		ui.Email = ""
		if len(acct.Domains) > 0 {
			ui.Email = acct.User + "@" + acct.Domains[0]
		}
	}
	return ui, nil
}

// RevokeRequest is a revocation request (RFC 7009 §2.1).
type RevokeRequest struct {
	Client        ClientAuth
	Token         string
	TokenTypeHint string
}

// Revoke answers a revocation request. Revoking an access or refresh
// token of the client ends its session, and so every token of it: the
// client logs the user out. A token that is unknown, expired or already
// ended is no error (RFC 7009 §2.2); a token of another client is
// refused (unauthorized_client).
func (p *Provider) Revoke(ctx context.Context, req RevokeRequest) error {
	cl, err := p.authenticate(ctx, req.Client)
	if err != nil {
		return err
	}
	if req.Token == "" {
		return fail(ErrInvalidRequest, "The request has no token.")
	}
	// The hint is ignored (RFC 7009 §2.1 allows it): one lookup finds
	// either kind.
	if len(req.Token) > 512 {
		return nil
	}
	h := hash(req.Token)
	t, err := p.Store.OAuthTokenByHash(ctx, h)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare([]byte(t.ClientID), []byte(cl.ID)) != 1 {
		return fail(ErrUnauthorizedClient, "The token was issued to another client.")
	}
	err = p.Sessions.End(ctx, t.SessionID, "logout")
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	// The session's end removes its tokens (the app's OnEnd); this makes
	// sure of it when the session was gone already.
	if _, err := p.Store.DeleteOAuthTokens(ctx, t.SessionID); err != nil {
		return err
	}
	p.audit(ctx, audit.Event{Event: audit.OAuthRevoke, Actor: cl.ID, SessionID: t.SessionID,
		SecretFP: audit.Fingerprint(req.Token), Client: addr(req.Client.Remote)})
	return nil
}

// Sweep removes expired codes and tokens (their sessions' ends remove the
// others).
func (p *Provider) Sweep(ctx context.Context) (int, error) {
	return p.Store.SweepOAuth(ctx, p.now(), 0)
}

// Metadata is the authorization server's metadata (RFC 8414) for issuer,
// the base URL of the Webmail listener.
func Metadata(issuer string) map[string]any {
	return map[string]any{
		"issuer":                                        issuer,
		"authorization_endpoint":                        issuer + "/oauth2/authorize",
		"token_endpoint":                                issuer + "/oauth2/token",
		"userinfo_endpoint":                             issuer + "/oauth2/userinfo",
		"introspection_endpoint":                        issuer + "/oauth2/introspect",
		"revocation_endpoint":                           issuer + "/oauth2/revoke",
		"response_types_supported":                      []string{"code"},
		"grant_types_supported":                         []string{"authorization_code", "refresh_token"},
		"scopes_supported":                              []string{Scope},
		"code_challenge_methods_supported":              []string{"S256"},
		"token_endpoint_auth_methods_supported":         []string{"client_secret_basic", "client_secret_post"},
		"introspection_endpoint_auth_methods_supported": []string{"client_secret_basic"},
		"revocation_endpoint_auth_methods_supported":    []string{"client_secret_basic", "client_secret_post"},
	}
}
