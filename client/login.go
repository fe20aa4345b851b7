package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
)

// Session is a logged-in cPanel, Webmail or WHM session, as a browser holds
// it: a session cookie and the /cpsess… security token that must prefix
// every path. It is safe for concurrent use.
type Session struct {
	// Client is an HTTP client whose cookie jar holds the session cookie
	// (it follows redirects like a browser). Requests through it must
	// carry Token as their path prefix; [Session.Do] and [Session.Get]
	// add it.
	Client *http.Client
	// Token is the security token, "/cpsess" + digits.
	Token string
	// BaseURL is the service URL the session belongs to, e.g.
	// "https://host.example.com:2096".
	BaseURL string

	base  *url.URL
	api   *Client // through the session: token prefix, cookie, no redirects
	owned bool    // Client's transport was made here
}

var tokenRE = regexp.MustCompile(`^/cpsess[0-9]{1,32}$`)

// Login redeems a one-time session at the service baseURL (e.g.
// "https://host.example.com:2096" for a session from
// create_webmail_session_for_mail_user), like a browser following
// {baseURL}{token}/login/?session=…, and returns the logged-in session. The
// session string is sent in a POST body with login_only=1. The options
// configure the HTTP client (WithHTTPClient, WithTLSConfig, WithTimeout,
// WithUserAgent); credentials options are ignored. The HTTP client gets a
// fresh cookie jar.
//
// A refusal is a [*LoginError] with the server's code (e.g.
// [CodeInvalidSession] for a session that was already used, [CodeChangedIP]
// when the login comes from another address than the session was created
// for).
func Login(ctx context.Context, baseURL, token, session string, opts ...Option) (*Session, error) {
	base, err := parseBase(baseURL)
	if err != nil {
		return nil, err
	}
	token = "/" + strings.Trim(token, "/")
	if !tokenRE.MatchString(token) {
		return nil, errors.New("uapid client: the security token must be /cpsess followed by digits")
	}
	if session == "" {
		return nil, errors.New("uapid client: the session string is empty")
	}
	st := collect(opts)
	hc, owned, err := st.httpClient()
	if err != nil {
		return nil, err
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	hc.Jar = jar
	if st.timeout > 0 {
		hc.Timeout = st.timeout
	}
	noRedirect := *hc
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	s := &Session{Client: hc, Token: token, BaseURL: base.String(), base: base, owned: owned,
		api: &Client{base: base, prefix: token, hc: &noRedirect, ua: st.agent(), timeout: st.timeout}}

	r, err := s.api.post(ctx, "/login/", nil, url.Values{"session": {session}, "login_only": {"1"}})
	if err != nil {
		s.closeIdle()
		return nil, err
	}
	if err := s.loginAnswer(r); err != nil {
		s.closeIdle()
		return nil, err
	}
	return s, nil
}

// loginAnswer interprets the answer to a login: uapid's login_only JSON, or
// (from servers that ignore login_only) a redirect or page that set the
// session cookie.
func (s *Session) loginAnswer(r *response) error {
	if r.status == http.StatusUnauthorized || r.status == http.StatusForbidden {
		if le := loginErrorFrom(r.status, r.body); le != nil {
			return le
		}
		return r.httpError("")
	}
	if r.status != http.StatusOK && (r.status < 300 || r.status > 399) {
		return r.httpError("")
	}
	var v struct {
		Status  *flexInt `json:"status"`
		Message string   `json:"message"`
	}
	if r.status == http.StatusOK && json.Unmarshal(r.body, &v) == nil && v.Status != nil && *v.Status == 0 {
		code := v.Message
		if !validCode(code) {
			code = CodeInvalidSession
		}
		return &LoginError{Code: code, StatusCode: r.status}
	}
	u := *s.base
	u.Path += s.Token + "/"
	if len(s.Client.Jar.Cookies(&u)) == 0 {
		return r.httpError("the login set no session cookie")
	}
	return nil
}

// LoginURL follows a session login URL such as the url of WHM's
// create_user_session ("https://host:2083/cpsess…/login/?session=…") and
// returns the logged-in session; see [Login].
func LoginURL(ctx context.Context, rawURL string, opts ...Option) (*Session, error) {
	bad := errors.New("uapid client: not a session login URL (https://host:port/cpsess…/login/?session=…)")
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return nil, bad
	}
	loc := tokenInPath.FindStringIndex(u.Path)
	if loc == nil || !strings.HasPrefix(u.Path[loc[1]:], "/login") {
		return nil, bad
	}
	session := u.Query().Get("session")
	if session == "" {
		return nil, bad
	}
	base := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path[:loc[0]]}
	return Login(ctx, base.String(), u.Path[loc[0]:loc[1]], session, opts...)
}

// Do sends req through the session. A request with a relative URL (e.g.
// made by http.NewRequestWithContext(ctx, "GET", "/execute/Email/list_pops",
// nil)) goes to BaseURL + Token + its path; an absolute URL is sent as it
// is. As with [http.Client.Do], the caller closes the response body.
func (s *Session) Do(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	if req.URL.Host == "" && !req.URL.IsAbs() {
		p := req.URL.Path
		if !strings.HasPrefix(p, "/") {
			p = "/" + p
		}
		if p != s.Token && !strings.HasPrefix(p, s.Token+"/") {
			p = s.Token + p
		}
		u := *s.base
		u.Path = s.base.Path + p
		u.RawQuery = req.URL.RawQuery
		req.URL = &u
		req.Host = ""
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", s.api.ua)
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		return nil, transportError(req.Method, redact(req.URL), err)
	}
	return resp, nil
}

// Get fetches path (relative to BaseURL + Token, e.g. "/" for the landing
// page) through the session.
func (s *Session) Get(ctx context.Context, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, errors.New("uapid client: invalid path")
	}
	if req.URL.IsAbs() || req.URL.Host != "" {
		return nil, errors.New("uapid client: Session.Get takes a path, not a URL")
	}
	return s.Do(req)
}

// UAPI calls a UAPI function through the session
// ({BaseURL}{Token}/execute/{module}/{function}), authenticated by the
// session cookie; see [Client.UAPI].
func (s *Session) UAPI(ctx context.Context, module, function string, args url.Values) (*Result, error) {
	return s.api.UAPI(ctx, module, function, args)
}

// API returns a [Client] that calls through the session, for the typed
// methods (e.g. [Client.CreateTempUser], which creates a database user only
// within a cPanel session).
func (s *Session) API() *Client { return s.api }

// Logout ends the session on the server (POST {Token}/logout/) and drops
// the cookie. A session the server no longer knows is not an error.
func (s *Session) Logout(ctx context.Context) error {
	r, err := s.api.post(ctx, "/logout/", nil, nil)
	if err != nil {
		return err
	}
	defer s.closeIdle()
	switch {
	case r.status == http.StatusUnauthorized || r.status == http.StatusForbidden:
		if le := loginErrorFrom(r.status, r.body); le != nil {
			return le
		}
		return r.httpError("")
	case r.status >= 200 && r.status <= 399:
		return nil
	}
	return r.httpError("")
}

func (s *Session) closeIdle() {
	if s.owned {
		s.Client.CloseIdleConnections()
	}
}

// String describes the session without its secrets.
func (s *Session) String() string {
	return "client.Session(" + s.BaseURL + ", /cpsess**********)"
}

// GoString describes the session without its secrets.
func (s *Session) GoString() string { return s.String() }
