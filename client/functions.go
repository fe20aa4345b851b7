package client

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/url"
	"strings"
	"time"
)

// Services, as WHM's create_user_session names them.
const (
	ServiceCPanel  = "cpaneld"
	ServiceWebmail = "webmaild"
	ServiceWHM     = "whostmgrd"
)

// WebmailSessionRequest are the arguments of
// Session::create_webmail_session_for_mail_user (and its check_password
// variant). Empty optional fields are not sent.
type WebmailSessionRequest struct {
	// Login is the mailbox's local part ("info" of info@example.com).
	Login string
	// Domain is the mailbox's domain.
	Domain string
	// Locale is the session's locale (default: the caller's).
	Locale string
	// RemoteAddress is the IP address the login will come from (default:
	// the address this call comes from). Set it to the end user's address
	// when a server-side integration creates sessions for browsers.
	RemoteAddress string
	// ReturnURL is where Webmail's logout returns to.
	ReturnURL string
}

// SelfSessionRequest are the arguments of
// Session::create_webmail_session_for_self; all are optional.
type SelfSessionRequest struct {
	Locale        string
	RemoteAddress string
	ReturnURL     string
}

// WebmailSession is a created one-time Webmail session.
type WebmailSession struct {
	// Hostname is the host Webmail logins must go to, "" when the server
	// answered null (any host of the server will do).
	Hostname string `json:"hostname"`
	// Token is the security token, "/cpsess" + 10 digits.
	Token string `json:"token"`
	// Session is the one-time login secret. It is a bearer credential:
	// do not log it.
	Session string `json:"session"`
}

// LoginURL returns the URL that logs a browser in with this session:
// {webmailBaseURL}{Token}/login/?session=…, where the host of
// webmailBaseURL (e.g. "https://host.example.com:2096") is replaced by
// Hostname when the server named one. The URL carries the secret.
func (w *WebmailSession) LoginURL(webmailBaseURL string) (string, error) {
	u, err := w.base(webmailBaseURL)
	if err != nil {
		return "", err
	}
	u.Path += w.Token + "/login/"
	u.RawQuery = url.Values{"session": {w.Session}}.Encode()
	return u.String(), nil
}

// Login redeems the session like a browser would, at webmailBaseURL (its
// host replaced by Hostname when the server named one), and returns the
// logged-in [Session]. See [Login].
func (w *WebmailSession) Login(ctx context.Context, webmailBaseURL string, opts ...Option) (*Session, error) {
	u, err := w.base(webmailBaseURL)
	if err != nil {
		return nil, err
	}
	return Login(ctx, u.String(), w.Token, w.Session, opts...)
}

func (w *WebmailSession) base(webmailBaseURL string) (*url.URL, error) {
	u, err := parseBase(webmailBaseURL)
	if err != nil {
		return nil, err
	}
	if w.Hostname != "" {
		h := strings.Trim(w.Hostname, "[]")
		switch {
		case u.Port() != "":
			u.Host = net.JoinHostPort(h, u.Port())
		case strings.Contains(h, ":"): // an IPv6 address
			u.Host = "[" + h + "]"
		default:
			u.Host = h
		}
	}
	return u, nil
}

func (r WebmailSessionRequest) values() url.Values {
	v := url.Values{"login": {r.Login}, "domain": {r.Domain}}
	setIf(v, "locale", r.Locale)
	setIf(v, "remote_address", r.RemoteAddress)
	setIf(v, "return_url", r.ReturnURL)
	return v
}

func setIf(v url.Values, k, s string) {
	if s != "" {
		v.Set(k, s)
	}
}

func (c *Client) webmailSession(ctx context.Context, function string, args url.Values) (*WebmailSession, error) {
	res, err := c.UAPI(ctx, "Session", function, args)
	if err != nil {
		return nil, err
	}
	var ws WebmailSession
	if err := res.Decode(&ws); err != nil {
		return nil, err
	}
	if ws.Token == "" || ws.Session == "" {
		return nil, errors.New("uapid client: Session::" + function + " answered without a token or session")
	}
	return &ws, nil
}

// CreateWebmailSessionForMailUser calls
// Session::create_webmail_session_for_mail_user: a one-time Webmail login
// for a mailbox the caller (a cPanel account, reseller or root) owns.
func (c *Client) CreateWebmailSessionForMailUser(ctx context.Context, req WebmailSessionRequest) (*WebmailSession, error) {
	return c.webmailSession(ctx, "create_webmail_session_for_mail_user", req.values())
}

// CreateWebmailSessionForMailUserCheckPassword calls
// Session::create_webmail_session_for_mail_user_check_password: as
// [Client.CreateWebmailSessionForMailUser], after checking the mailbox's
// password. A refusal is an [*APIError] whose Type is [TypeUserNotFound],
// [TypeSuspended] or [TypeBadPassword].
func (c *Client) CreateWebmailSessionForMailUserCheckPassword(ctx context.Context, req WebmailSessionRequest, password string) (*WebmailSession, error) {
	v := req.values()
	v.Set("password", password)
	return c.webmailSession(ctx, "create_webmail_session_for_mail_user_check_password", v)
}

// CreateWebmailSessionForSelf calls Session::create_webmail_session_for_self:
// a one-time Webmail login as the cPanel account itself.
func (c *Client) CreateWebmailSessionForSelf(ctx context.Context, req SelfSessionRequest) (*WebmailSession, error) {
	v := url.Values{}
	setIf(v, "locale", req.Locale)
	setIf(v, "remote_address", req.RemoteAddress)
	setIf(v, "return_url", req.ReturnURL)
	return c.webmailSession(ctx, "create_webmail_session_for_self", v)
}

// CreateTempUser calls Session::create_temp_user, which creates the
// temporary database user of the current cPanel session. It creates
// something only through a session ([Session.API] of a cPanel [Session]):
// with Basic or token authentication, or when the session's user already
// exists, created is false and name "".
func (c *Client) CreateTempUser(ctx context.Context) (created bool, name string, err error) {
	res, err := c.UAPI(ctx, "Session", "create_temp_user", nil)
	if err != nil {
		return false, "", err
	}
	var d struct {
		Created flexInt `json:"created"`
		Name    string  `json:"session_temp_user"`
	}
	if err := res.Decode(&d); err != nil {
		return false, "", err
	}
	return d.Created != 0, d.Name, nil
}

// UserSessionRequest are the arguments of WHM API 1 create_user_session.
type UserSessionRequest struct {
	// User is a cPanel account, or login@domain with Service webmaild.
	User string
	// Service is ServiceCPanel, ServiceWebmail or ServiceWHM.
	Service string
	// App, Locale and PreferredDomain are optional; PreferredDomain is
	// the host of the returned URL.
	App, Locale, PreferredDomain string
}

// UserSession is a session created by WHM's create_user_session.
type UserSession struct {
	// CPSecurityToken is the security token, "/cpsess" + 10 digits.
	CPSecurityToken string
	// Expires is when the unused login expires.
	Expires time.Time
	// Service is the service the session is for.
	Service string
	// Session is the one-time login secret (a bearer credential).
	Session string
	// URL logs a browser in once; it carries the secret.
	URL string
	// Locale is the requested locale ("" unless given).
	Locale string
}

// Login follows the session's URL like a browser would and returns the
// logged-in [Session]; see [LoginURL].
func (s *UserSession) Login(ctx context.Context, opts ...Option) (*Session, error) {
	return LoginURL(ctx, s.URL, opts...)
}

// CreateUserSession calls WHM API 1 create_user_session (root, or the
// reseller owning the account). c must be a WHM client.
func (c *Client) CreateUserSession(ctx context.Context, req UserSessionRequest) (*UserSession, error) {
	v := url.Values{"user": {req.User}, "service": {req.Service}}
	setIf(v, "app", req.App)
	setIf(v, "locale", req.Locale)
	setIf(v, "preferred_domain", req.PreferredDomain)
	res, err := c.WHM(ctx, "create_user_session", v)
	if err != nil {
		return nil, err
	}
	var d struct {
		Token   string          `json:"cp_security_token"`
		Expires flexInt         `json:"expires"`
		Service string          `json:"service"`
		Session string          `json:"session"`
		URL     string          `json:"url"`
		Locale  json.RawMessage `json:"locale"`
	}
	if err := res.Decode(&d); err != nil {
		return nil, err
	}
	if d.Session == "" || d.URL == "" {
		return nil, errors.New("uapid client: create_user_session answered without a session or URL")
	}
	s := &UserSession{CPSecurityToken: d.Token, Expires: time.Unix(int64(d.Expires), 0), Service: d.Service,
		Session: d.Session, URL: d.URL}
	if len(d.Locale) > 0 {
		_ = json.Unmarshal(d.Locale, &s.Locale)
	}
	return s, nil
}
