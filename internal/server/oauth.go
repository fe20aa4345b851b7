package server

import (
	"encoding/base64"
	"errors"
	"html/template"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/uapid/uapid/internal/auth"
	"github.com/uapid/uapid/internal/auth/oauth"
	"github.com/uapid/uapid/internal/uapi"
)

// The OAuth 2.0 authorization server of the Webmail listeners (package
// auth/oauth decides; this is its HTTP form), and the mail server's
// password and user lookups (package auth decides):
//
//	GET|POST /oauth2/authorize      RFC 6749 §4.1, RFC 7636 (session cookie)
//	POST     /oauth2/token          RFC 6749 §4.1.3, §6 (client authentication)
//	GET|POST /oauth2/userinfo       bearer (RFC 6750)
//	POST     /oauth2/introspect     RFC 7662 (resource server, HTTP Basic)
//	POST     /oauth2/revoke         RFC 7009 (client authentication)
//	GET      /.well-known/oauth-authorization-server   RFC 8414
//	POST     /mailauth/v1/password  a mail client's password login (resource server)
//	POST     /mailauth/v1/user      whether a mail user exists (resource server)

// oauthRoute reports whether path is one of the routes above.
func oauthRoute(path string) bool {
	return strings.HasPrefix(path, "/oauth2/") || path == "/.well-known/oauth-authorization-server" ||
		strings.HasPrefix(path, "/mailauth/")
}

// serveOAuth dispatches the routes above (Webmail listeners only).
func (s *Server) serveOAuth(w http.ResponseWriter, r *http.Request, secure bool, path string) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	route := map[string]struct {
		name    string
		methods []string
		fn      func(http.ResponseWriter, *http.Request)
	}{
		"/oauth2/authorize":  {"authorize", []string{http.MethodGet, http.MethodPost}, func(w http.ResponseWriter, r *http.Request) { s.oauthAuthorize(w, r, secure) }},
		"/oauth2/token":      {"token", []string{http.MethodPost}, s.oauthToken},
		"/oauth2/userinfo":   {"userinfo", []string{http.MethodGet, http.MethodPost}, s.oauthUserInfo},
		"/oauth2/introspect": {"introspect", []string{http.MethodPost}, s.oauthIntrospect},
		"/oauth2/revoke":     {"revoke", []string{http.MethodPost}, s.oauthRevoke},
		"/.well-known/oauth-authorization-server": {"metadata", []string{http.MethodGet, http.MethodHead},
			func(w http.ResponseWriter, r *http.Request) { s.oauthMetadata(w, r, secure) }},
		"/mailauth/v1/password": {"mail_password", []string{http.MethodPost}, s.mailPassword},
		"/mailauth/v1/user":     {"mail_user", []string{http.MethodPost}, s.mailUser},
	}[path]
	if route.fn == nil {
		setRoute(r, "oauth", "unknown")
		oauthJSONError(w, &oauth.Error{Code: oauth.ErrInvalidRequest, Description: "There is no such endpoint.", Status: http.StatusNotFound})
		return
	}
	setRoute(r, "oauth", route.name)
	for _, m := range route.methods {
		if r.Method == m {
			route.fn(w, r)
			return
		}
	}
	h.Set("Allow", strings.Join(route.methods, ", "))
	oauthJSONError(w, &oauth.Error{Code: oauth.ErrInvalidRequest,
		Description: "The method " + r.Method + " is not allowed here; use " + strings.Join(route.methods, " or ") + ".",
		Status:      http.StatusMethodNotAllowed})
}

// oauthJSONError answers e as RFC 6749 §5.2 describes: a JSON object
// with error and error_description.
func oauthJSONError(w http.ResponseWriter, e *oauth.Error) {
	if e.Status == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
		w.Header().Set("WWW-Authenticate", `Basic realm="uapid"`)
	}
	writeRawJSON(w, e.Status, map[string]any{"error": e.Code, "error_description": e.Description})
}

// oauthFailure answers an error of package oauth, or of a store.
func (s *Server) oauthFailure(w http.ResponseWriter, r *http.Request, err error) {
	var oe *oauth.Error
	if errors.As(err, &oe) {
		oauthJSONError(w, oe)
		return
	}
	if s.unavailable(w, r, err) {
		return
	}
	id := uapi.NewErrorID()
	s.log.Error("internal error", "error_id", id, "request_id", RequestID(r.Context()), "path", logPath(r.URL.Path), "error", err.Error())
	writeRawJSON(w, http.StatusInternalServerError, map[string]any{"error": "server_error",
		"error_description": "The request failed. (Error ID: " + id + ")"})
}

// oauthParams parses the parameters of an OAuth request: the query string
// of a GET, the application/x-www-form-urlencoded body of a POST (RFC
// 6749 §3.2, RFC 7662 §2.1, RFC 7009 §2.1). A parameter given twice is
// refused (RFC 6749 §3.1).
func (s *Server) oauthParams(r *http.Request) (map[string]string, *oauth.Error) {
	raw := r.URL.RawQuery
	if r.Method == http.MethodPost {
		ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || ct != "application/x-www-form-urlencoded" {
			return nil, &oauth.Error{Code: oauth.ErrInvalidRequest, Description: "The body must be application/x-www-form-urlencoded.", Status: http.StatusBadRequest}
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			status := http.StatusBadRequest
			if tooLarge(err) {
				status = http.StatusRequestEntityTooLarge
			}
			return nil, &oauth.Error{Code: oauth.ErrInvalidRequest, Description: "The body could not be read.", Status: status}
		}
		raw = string(body)
	}
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return nil, &oauth.Error{Code: oauth.ErrInvalidRequest, Description: "The parameters are malformed.", Status: http.StatusBadRequest}
	}
	out := make(map[string]string, len(vals))
	for k, v := range vals {
		if len(v) > 1 {
			return nil, &oauth.Error{Code: oauth.ErrInvalidRequest, Description: "The parameter " + logName(k) + " is given more than once.", Status: http.StatusBadRequest}
		}
		out[k] = v[0]
	}
	return out, nil
}

// clientAuth reads the client's credentials: HTTP Basic (client_id and
// client_secret form-urlencoded, RFC 6749 §2.3.1) or client_id and
// client_secret in the body. Using both is refused.
func (s *Server) clientAuth(r *http.Request, p map[string]string) (oauth.ClientAuth, *oauth.Error) {
	ca := oauth.ClientAuth{Remote: s.clientAddr(r)}
	if h := r.Header.Get("Authorization"); h != "" {
		id, secret, raw, ok := basicCredentials(h)
		if !ok {
			return ca, &oauth.Error{Code: oauth.ErrInvalidClient, Description: "The Authorization header is not HTTP Basic with a client id and secret.", Status: http.StatusUnauthorized}
		}
		if _, given := p["client_secret"]; given {
			return ca, &oauth.Error{Code: oauth.ErrInvalidRequest, Description: "The client authenticates in two ways at once.", Status: http.StatusBadRequest}
		}
		if pid, given := p["client_id"]; given && pid != id {
			return ca, &oauth.Error{Code: oauth.ErrInvalidRequest, Description: "The client_id is not the authenticated client.", Status: http.StatusBadRequest}
		}
		ca.ID, ca.Secret, ca.Basic = id, secret, true
		if raw != secret {
			ca.AltSecret = raw
		}
		return ca, nil
	}
	ca.ID, ca.Secret = p["client_id"], p["client_secret"]
	return ca, nil
}

// basicCredentials decodes an HTTP Basic header whose user and password
// are form-urlencoded, as RFC 6749 §2.3.1 has clients send them; raw is
// the password as sent (clients that do not encode it send that).
func basicCredentials(h string) (user, pass, raw string, ok bool) {
	scheme, rest, found := strings.Cut(h, " ")
	if !found || !strings.EqualFold(scheme, "basic") {
		return "", "", "", false
	}
	dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
	if err != nil {
		return "", "", "", false
	}
	u, p, found := strings.Cut(string(dec), ":")
	if !found {
		return "", "", "", false
	}
	if user, err = url.QueryUnescape(u); err != nil {
		return "", "", "", false
	}
	if pass, err = url.QueryUnescape(p); err != nil {
		pass = p
	}
	return user, pass, p, user != ""
}

// ---- authorization endpoint ----

func (s *Server) oauthAuthorize(w http.ResponseWriter, r *http.Request, secure bool) {
	p, perr := s.oauthParams(r)
	if perr != nil {
		s.authorizeFailure(w, perr)
		return
	}
	req := oauth.AuthorizeRequest{ClientID: p["client_id"], RedirectURI: p["redirect_uri"], ResponseType: p["response_type"],
		Scope: p["scope"], CodeChallenge: p["code_challenge"], CodeChallengeMethod: p["code_challenge_method"]}
	target, oe := s.app.OAuth.Redirect(req.ClientID, req.RedirectURI)
	if oe != nil {
		// The client or the redirect URI is wrong: tell the user, never
		// redirect (RFC 6749 §4.1.2.1).
		s.authorizeFailure(w, oe)
		return
	}
	state, hasState := p["state"]
	back := func(params url.Values) {
		if hasState {
			params.Set("state", state)
		}
		u, _ := url.Parse(target)
		q := u.Query()
		for k, v := range params {
			q[k] = v
		}
		u.RawQuery = q.Encode()
		http.Redirect(w, r, u.String(), http.StatusFound)
	}
	if oe := s.app.OAuth.CheckRequest(req); oe != nil {
		back(url.Values{"error": {oe.Code}, "error_description": {oe.Description}})
		return
	}
	remote := s.clientAddr(r)
	_, sess, err := s.app.Auth.CookieOnly(r.Context(), auth.Request{Service: uapi.ServiceWebmail, Remote: remote, Cookie: cookieValue(r, uapi.ServiceWebmail)})
	var le *auth.LoginError
	if errors.As(err, &le) {
		s.log.Info("authorization refused: no Webmail session", "request_id", RequestID(r.Context()), "client", req.ClientID,
			"reason", le.Code, "remote", remote.String())
		// Log in first, then come back here.
		renderHTML(w, http.StatusUnauthorized, authorizeLoginPage, map[string]any{"Goto": authorizeGoto(p)})
		return
	}
	if err != nil {
		s.webInternalError(w, r, err)
		return
	}
	code, err := s.app.OAuth.IssueCode(r.Context(), req, sess)
	if err != nil {
		s.webInternalError(w, r, err)
		return
	}
	s.log.Info("authorization code issued", "request_id", RequestID(r.Context()), "client", req.ClientID,
		"user", sess.User, "session_id", sess.ID, "remote", remote.String())
	back(url.Values{"code": {code}})
}

// authorizeGoto is the authorization request as a relative URL, for the
// login form to return to.
func authorizeGoto(p map[string]string) string {
	q := url.Values{}
	for k, v := range p {
		q.Set(k, v)
	}
	return "/oauth2/authorize?" + q.Encode()
}

// authorizeFailure shows a refused authorization request to the user.
func (s *Server) authorizeFailure(w http.ResponseWriter, e *oauth.Error) {
	renderHTML(w, e.Status, authorizeErrorPage, map[string]any{"Code": e.Code, "Text": e.Description})
}

var authorizeErrorPage = template.Must(template.New("authorize-error").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Authorization failed</title><style>` + pageStyle + `</style></head>
<body><main>
<h1>Authorization failed</h1>
<p id="reason">{{.Text}}</p>
<p class="muted">Error: <code id="code">{{.Code}}</code></p>
</main></body></html>
`))

var authorizeLoginPage = template.Must(template.New("authorize-login").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Webmail login</title><style>` + pageStyle + `</style></head>
<body><main>
<h1>Webmail login</h1>
<p id="reason">You are not logged in to Webmail. Log in to continue.</p>
<p class="muted">Reason code: <code id="code">login_required</code></p>
<form method="post" action="/login/">
<input type="hidden" name="goto_uri" value="{{.Goto}}">
<label>Email address<input name="user" autocomplete="username" required></label>
<label>Password<input name="pass" type="password" autocomplete="current-password" required></label>
<button type="submit">Log in</button>
</form>
</main></body></html>
`))

// ---- token endpoint ----

func (s *Server) oauthToken(w http.ResponseWriter, r *http.Request) {
	p, perr := s.oauthParams(r)
	if perr != nil {
		oauthJSONError(w, perr)
		return
	}
	ca, perr := s.clientAuth(r, p)
	if perr != nil {
		oauthJSONError(w, perr)
		return
	}
	res, err := s.app.OAuth.Token(r.Context(), oauth.TokenRequest{Client: ca, GrantType: p["grant_type"], Code: p["code"],
		RedirectURI: p["redirect_uri"], CodeVerifier: p["code_verifier"], RefreshToken: p["refresh_token"], Scope: p["scope"]})
	if err != nil {
		var oe *oauth.Error
		if errors.As(err, &oe) {
			s.log.Info("token request refused", "request_id", RequestID(r.Context()), "client", logName(ca.ID),
				"grant_type", logName(p["grant_type"]), "error", oe.Code, "remote", ca.Remote.String())
		}
		s.oauthFailure(w, r, err)
		return
	}
	out := map[string]any{"access_token": res.AccessToken, "token_type": "Bearer", "expires_in": res.ExpiresIn, "scope": res.Scope}
	if res.RefreshToken != "" {
		out["refresh_token"] = res.RefreshToken
	}
	s.log.Info("tokens issued", "request_id", RequestID(r.Context()), "client", ca.ID, "grant_type", p["grant_type"], "remote", ca.Remote.String())
	writeRawJSON(w, http.StatusOK, out)
}

// ---- userinfo, introspection, revocation ----

func (s *Server) oauthUserInfo(w http.ResponseWriter, r *http.Request) {
	token, perr := s.bearer(r)
	if perr != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="uapid", error="`+perr.Code+`"`)
		oauthJSONError(w, perr)
		return
	}
	if token == "" {
		// No credential at all: 401 without an error code (RFC 6750
		// §3.1).
		w.Header().Set("WWW-Authenticate", `Bearer realm="uapid"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	ui, err := s.app.OAuth.UserInfo(r.Context(), token)
	var oe *oauth.Error
	if errors.As(err, &oe) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="uapid", error="`+oe.Code+`", error_description="`+oe.Description+`"`)
	}
	if err != nil {
		s.oauthFailure(w, r, err)
		return
	}
	out := map[string]any{"sub": ui.Sub, "preferred_username": ui.PreferredUsername}
	if ui.Email != "" {
		out["email"] = ui.Email
	}
	if ui.ReturnURL != "" {
		out["return_url"] = ui.ReturnURL
	}
	writeRawJSON(w, http.StatusOK, out)
}

// bearer returns the access token of a request (RFC 6750): the
// Authorization header's Bearer token, or access_token in a form body; ""
// when the request has none.
func (s *Server) bearer(r *http.Request) (string, *oauth.Error) {
	h := r.Header.Get("Authorization")
	if h != "" {
		scheme, tok, _ := strings.Cut(h, " ")
		tok = strings.TrimSpace(tok)
		if !strings.EqualFold(scheme, "bearer") || tok == "" {
			return "", &oauth.Error{Code: oauth.ErrInvalidRequest, Description: "The Authorization header is not a Bearer token.", Status: http.StatusBadRequest}
		}
		return tok, nil
	}
	if r.Method == http.MethodPost && r.Header.Get("Content-Type") != "" {
		p, perr := s.oauthParams(r)
		if perr != nil {
			return "", perr
		}
		if tok := p["access_token"]; tok != "" {
			return tok, nil
		}
	}
	return "", nil
}

func (s *Server) oauthIntrospect(w http.ResponseWriter, r *http.Request) {
	remote := s.clientAddr(r)
	rs, err := s.app.Auth.ResourceServer(r.Context(), r.Header.Get("Authorization"), remote)
	if errors.Is(err, auth.ErrDenied) {
		s.log.Info("introspection refused: not a resource server", "request_id", RequestID(r.Context()), "remote", remote.String())
		oauthJSONError(w, &oauth.Error{Code: oauth.ErrInvalidClient, Description: "Resource server authentication failed.", Status: http.StatusUnauthorized})
		return
	}
	if err != nil {
		s.oauthFailure(w, r, err)
		return
	}
	p, perr := s.oauthParams(r)
	if perr != nil {
		oauthJSONError(w, perr)
		return
	}
	token, ok := p["token"]
	if !ok || token == "" {
		oauthJSONError(w, &oauth.Error{Code: oauth.ErrInvalidRequest, Description: "The request has no token.", Status: http.StatusBadRequest})
		return
	}
	in, err := s.app.OAuth.Introspect(r.Context(), token)
	if err != nil {
		s.oauthFailure(w, r, err)
		return
	}
	s.log.Debug("introspection", "request_id", RequestID(r.Context()), "resource_server", rs, "active", in.Active, "user", in.Username)
	if !in.Active {
		writeRawJSON(w, http.StatusOK, map[string]any{"active": false})
		return
	}
	writeRawJSON(w, http.StatusOK, map[string]any{"active": true, "username": in.Username, "sub": in.Username,
		"client_id": in.ClientID, "exp": in.Exp, "iat": in.Iat, "scope": in.Scope, "token_type": in.TokenType})
}

func (s *Server) oauthRevoke(w http.ResponseWriter, r *http.Request) {
	p, perr := s.oauthParams(r)
	if perr != nil {
		oauthJSONError(w, perr)
		return
	}
	ca, perr := s.clientAuth(r, p)
	if perr != nil {
		oauthJSONError(w, perr)
		return
	}
	if err := s.app.OAuth.Revoke(r.Context(), oauth.RevokeRequest{Client: ca, Token: p["token"], TokenTypeHint: p["token_type_hint"]}); err != nil {
		s.oauthFailure(w, r, err)
		return
	}
	s.log.Info("token revoked", "request_id", RequestID(r.Context()), "client", ca.ID, "remote", ca.Remote.String())
	w.WriteHeader(http.StatusOK)
}

// oauthMetadata describes the authorization server (RFC 8414). The
// issuer is this listener: https, the Webmail host name (--webmail-hostname
// or --hostname) and its public port.
func (s *Server) oauthMetadata(w http.ResponseWriter, r *http.Request, secure bool) {
	writeRawJSON(w, http.StatusOK, oauth.Metadata(s.issuer(r, secure)))
}

func (s *Server) issuer(r *http.Request, secure bool) string {
	host := s.cfg.Hostname
	if s.cfg.WebmailHostname != "" {
		host = s.cfg.WebmailHostname
	}
	scheme, port := "https", s.app.PublicPort(uapi.ServiceWebmail)
	if !secure {
		scheme, port = "http", 0
		if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
			if ta, ok := a.(*net.TCPAddr); ok {
				port = ta.Port
			}
		}
	}
	if (scheme == "https" && port == 443) || (scheme == "http" && port == 80) || port == 0 {
		return scheme + "://" + hostPort(host, "")
	}
	return scheme + "://" + hostPort(host, strconv.Itoa(port))
}

// hostPort joins host and port ("" for none), bracketing an IPv6 host.
func hostPort(host, port string) string {
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port == "" {
		return host
	}
	return host + ":" + port
}

// ---- the mail server's lookups ----

// mailJSON answers the mail server: {"result": result, …}.
func mailJSON(w http.ResponseWriter, status int, result string, extra map[string]any) {
	out := map[string]any{"result": result}
	for k, v := range extra {
		out[k] = v
	}
	writeRawJSON(w, status, out)
}

// mailResourceServer authenticates the calling mail server; on failure it
// has answered.
func (s *Server) mailResourceServer(w http.ResponseWriter, r *http.Request) (map[string]string, bool) {
	remote := s.clientAddr(r)
	_, err := s.app.Auth.ResourceServer(r.Context(), r.Header.Get("Authorization"), remote)
	if errors.Is(err, auth.ErrDenied) {
		w.Header().Set("WWW-Authenticate", `Basic realm="uapid"`)
		mailJSON(w, http.StatusUnauthorized, "error", map[string]any{"message": "Resource server authentication failed."})
		return nil, false
	}
	if err != nil {
		s.oauthFailure(w, r, err)
		return nil, false
	}
	p, perr := s.oauthParams(r)
	if perr != nil {
		mailJSON(w, perr.Status, "error", map[string]any{"message": perr.Description})
		return nil, false
	}
	if p["user"] == "" {
		mailJSON(w, http.StatusBadRequest, "error", map[string]any{"message": "The request has no user."})
		return nil, false
	}
	return p, true
}

// mailPassword decides a mail client's password login: 200 {"result":
// "ok", "user": …}, or 403 {"result": "denied"} for every refusal (wrong
// password, unknown user, suspended login or account, blocked client).
// Form fields: user, password, client (the mail client's address as the
// mail server saw it), protocol.
func (s *Server) mailPassword(w http.ResponseWriter, r *http.Request) {
	p, ok := s.mailResourceServer(w, r)
	if !ok {
		return
	}
	client, _ := netip.ParseAddr(p["client"])
	user, err := s.app.Auth.MailPassword(r.Context(), auth.MailLogin{User: p["user"], Password: p["password"], Client: client, Protocol: p["protocol"]})
	if errors.Is(err, auth.ErrDenied) {
		s.log.Info("mail login refused", "request_id", RequestID(r.Context()), "protocol", logName(p["protocol"]), "client", client.String())
		mailJSON(w, http.StatusForbidden, "denied", nil)
		return
	}
	if err != nil {
		s.oauthFailure(w, r, err)
		return
	}
	s.log.Info("mail login", "request_id", RequestID(r.Context()), "user", user, "protocol", logName(p["protocol"]), "client", client.String())
	mailJSON(w, http.StatusOK, "ok", map[string]any{"user": user})
}

// mailUser answers whether user exists for the mail server: 200
// {"result": "ok", "user": …} or 404 {"result": "unknown"}.
func (s *Server) mailUser(w http.ResponseWriter, r *http.Request) {
	p, ok := s.mailResourceServer(w, r)
	if !ok {
		return
	}
	user, found, err := s.app.Auth.MailUser(r.Context(), p["user"])
	if err != nil {
		s.oauthFailure(w, r, err)
		return
	}
	if !found {
		mailJSON(w, http.StatusNotFound, "unknown", nil)
		return
	}
	mailJSON(w, http.StatusOK, "ok", map[string]any{"user": user})
}
