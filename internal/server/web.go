package server

import (
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/uapid/uapid/internal/auth"
	"github.com/uapid/uapid/internal/session"
	"github.com/uapid/uapid/internal/store"
	"github.com/uapid/uapid/internal/uapi"
)

// serveWeb handles the browser-facing routes: /{token}/login, /login/,
// /{token}/logout/, the landing page /{token}/, the root page and the
// phpMyAdmin sign-on (signon.go).
func (s *Server) serveWeb(w http.ResponseWriter, r *http.Request, service string, secure bool, token string, hasToken bool, path string) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	switch {
	case hasToken && (path == "/login" || path == "/login/"):
		setRoute(r, "web", "session_login")
		if !allowMethods(w, r, http.MethodGet, http.MethodPost) {
			return
		}
		s.sessionLogin(w, r, service, secure, token)
	case !hasToken && (path == "/login" || path == "/login/"):
		setRoute(r, "web", "password_login")
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			s.renderLoginForm(w, service)
			return
		}
		if !allowMethods(w, r, http.MethodPost) {
			return
		}
		s.passwordLogin(w, r, service, secure)
	case hasToken && (path == "/logout" || path == "/logout/"):
		setRoute(r, "web", "logout")
		if !allowMethods(w, r, http.MethodGet, http.MethodPost) {
			return
		}
		s.logout(w, r, service, secure, token)
	case hasToken && path == "/":
		setRoute(r, "web", "landing")
		if !allowMethods(w, r, http.MethodGet, http.MethodHead) {
			return
		}
		s.landing(w, r, service, token)
	case isPhpMyAdminPath(path) && s.cfg.PhpMyAdminURL != "":
		s.servePhpMyAdmin(w, r, service, token, hasToken, path)
	case hasToken && (strings.HasPrefix(path, "/frontend/") || strings.HasPrefix(path, "/3rdparty/")):
		// An application's page (create_user_session's "app"): uapid
		// serves the landing page, naming the application's path.
		setRoute(r, "web", "landing")
		if !allowMethods(w, r, http.MethodGet, http.MethodHead) {
			return
		}
		s.landing(w, r, service, token)
	case !hasToken && path == "/":
		if !allowMethods(w, r, http.MethodGet, http.MethodHead) {
			return
		}
		http.Redirect(w, r, "/login/", http.StatusFound)
	default:
		http.NotFound(w, r)
	}
}

func allowMethods(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	http.Error(w, "Method not allowed", http.StatusMethodNotAllowed)
	return false
}

// formArgs parses the query and form body of a browser request.
func (s *Server) formArgs(w http.ResponseWriter, r *http.Request) (*uapi.Args, bool) {
	args, err := uapi.ParseRequest(r, s.cfg.MaxBodyBytes)
	if err != nil {
		status := http.StatusBadRequest
		if tooLarge(err) {
			status = http.StatusRequestEntityTooLarge
		}
		http.Error(w, http.StatusText(status), status)
		return nil, false
	}
	return args, true
}

// sessionLogin redeems a one-time login secret (SPEC §4).
func (s *Server) sessionLogin(w http.ResponseWriter, r *http.Request, service string, secure bool, token string) {
	args, ok := s.formArgs(w, r)
	if !ok {
		return
	}
	loginOnly, _ := args.Get("login_only")
	secret, _ := args.Get("session")
	remote := s.clientAddr(r)
	rec, cookie, err := s.app.Auth.SessionLogin(r.Context(), auth.LoginRequest{
		Secret: secret, Token: token, Service: service, Remote: remote,
	})
	var le *auth.LoginError
	if errors.As(err, &le) {
		s.log.Info("login refused", "request_id", RequestID(r.Context()), "service", service, "reason", le.Code, "remote", remote.String())
		s.loginFailure(w, loginOnly == "1", le.Code)
		return
	}
	if err != nil {
		s.webInternalError(w, r, err)
		return
	}
	s.log.Info("login", "request_id", RequestID(r.Context()), "service", service, "user", rec.User, "session_id", rec.ID, "remote", remote.String())
	s.setCookie(w, service, secure, cookie, 0)
	if rec.Locale != "" {
		// The session's locale, for the pages of the session (cPanel's
		// session_locale cookie).
		http.SetCookie(w, &http.Cookie{Name: "session_locale", Value: url.QueryEscape(rec.Locale), Path: "/",
			Secure: secure, SameSite: http.SameSiteLaxMode})
	}
	target := rec.Token + "/"
	if g, _ := args.Get("goto_uri"); safeRelative(g) {
		if _, rest, ok := session.TokenFromPath(g); ok {
			g = rest
		}
		target = rec.Token + g
	} else if service == uapi.ServiceWebmail && s.cfg.WebmailRedirect != "" {
		target = s.cfg.WebmailRedirect
	}
	if loginOnly == "1" {
		writeRawJSON(w, http.StatusOK, map[string]any{"status": 1, "security_token": rec.Token, "redirect": target})
		return
	}
	http.Redirect(w, r, target, http.StatusFound)
}

// safeRelative reports whether g is a path on this server: it starts with a
// single '/', has no scheme, no backslash and no control characters.
func safeRelative(g string) bool {
	if g == "" || g[0] != '/' || strings.HasPrefix(g, "//") || strings.ContainsAny(g, "\\") {
		return false
	}
	for i := 0; i < len(g); i++ {
		if g[i] < 0x20 || g[i] == 0x7f {
			return false
		}
	}
	u, err := url.Parse(g)
	return err == nil && u.Scheme == "" && u.Host == ""
}

func (s *Server) setCookie(w http.ResponseWriter, service string, secure bool, value string, maxAge int) {
	c := &http.Cookie{
		Name:     CookieName[service],
		Value:    url.QueryEscape(value),
		Path:     "/",
		HttpOnly: true,
		Secure:   secure,
		SameSite: http.SameSiteLaxMode,
		MaxAge:   maxAge,
	}
	http.SetCookie(w, c)
}

// cookieValue returns the decoded session cookie of service ("" if none).
func cookieValue(r *http.Request, service string) string {
	c, err := r.Cookie(CookieName[service])
	if err != nil {
		return ""
	}
	v, err := url.QueryUnescape(c.Value)
	if err != nil {
		return ""
	}
	return v
}

// passwordLogin is POST /login/ with user and pass (SPEC §4).
func (s *Server) passwordLogin(w http.ResponseWriter, r *http.Request, service string, secure bool) {
	args, ok := s.formArgs(w, r)
	if !ok {
		return
	}
	loginOnly, _ := args.Get("login_only")
	user, _ := args.Get("user")
	pass, _ := args.Get("pass")
	remote := s.clientAddr(r)
	rec, cookie, err := s.app.Auth.PasswordLogin(r.Context(), service, user, pass, remote)
	if errors.Is(err, auth.ErrDenied) {
		s.log.Info("password login refused", "request_id", RequestID(r.Context()), "service", service, "remote", remote.String())
		s.loginFailure(w, loginOnly == "1", auth.CodeInvalidLogin)
		return
	}
	if err != nil {
		s.webInternalError(w, r, err)
		return
	}
	s.log.Info("login", "request_id", RequestID(r.Context()), "service", service, "user", rec.User, "session_id", rec.ID, "method", "password", "remote", remote.String())
	s.setCookie(w, service, secure, cookie, 0)
	target := rec.Token + "/"
	if g, _ := args.Get("goto_uri"); safeRelative(g) {
		// Back to where the login was asked for (the OAuth
		// authorization of a Webmail client).
		target = g
	}
	if loginOnly == "1" {
		writeRawJSON(w, http.StatusOK, map[string]any{"status": 1, "security_token": rec.Token, "redirect": target})
		return
	}
	http.Redirect(w, r, target, http.StatusFound)
}

// logout ends the cookie's session (SPEC §4), also when its account was
// suspended meanwhile.
func (s *Server) logout(w http.ResponseWriter, r *http.Request, service string, secure bool, token string) {
	if v := cookieValue(r, service); v != "" {
		_, rec, err := s.app.Auth.Cookie(r.Context(), auth.Request{Service: service, Remote: s.clientAddr(r), Cookie: v, Token: token})
		var le *auth.LoginError
		switch {
		case errors.As(err, &le) && (le.Code == auth.CodeTokenIncorrect || le.Code == auth.CodeTokenMissing):
			s.loginFailure(w, false, le.Code)
			return
		case err != nil && !errors.As(err, &le):
			s.webInternalError(w, r, err)
			return
		}
		if rec.ID != "" {
			if err := s.app.Sessions.End(r.Context(), rec.ID, "logout"); err != nil && !errors.Is(err, store.ErrNotFound) {
				s.webInternalError(w, r, err)
				return
			}
			s.log.Info("logout", "request_id", RequestID(r.Context()), "service", service, "user", rec.User, "session_id", rec.ID)
		}
	}
	s.setCookie(w, service, secure, "", -1)
	http.Redirect(w, r, "/", http.StatusFound)
}

// appPath is the application page a landing request names below its
// /cpsess… token ("" for the home page).
func appPath(p string) string {
	if _, rest, ok := session.TokenFromPath(p); ok && rest != "/" {
		return rest
	}
	return ""
}

// landing is the page at /{token}/ for a logged-in session.
func (s *Server) landing(w http.ResponseWriter, r *http.Request, service, token string) {
	_, rec, err := s.app.Auth.Cookie(r.Context(), auth.Request{Service: service, Remote: s.clientAddr(r), Cookie: cookieValue(r, service), Token: token})
	var le *auth.LoginError
	if errors.As(err, &le) {
		s.loginFailure(w, false, le.Code)
		return
	}
	if err != nil {
		s.webInternalError(w, r, err)
		return
	}
	title := map[string]string{uapi.ServiceWebmail: "Webmail", uapi.ServiceCPanel: "cPanel", uapi.ServiceWHM: "WHM"}[service]
	renderHTML(w, http.StatusOK, landingPage, map[string]any{
		"Title":   title,
		"User":    rec.User,
		"Token":   rec.Token,
		"Idle":    rec.ExpiresAt.UTC().Format(time.RFC1123),
		"Expires": s.app.Sessions.EndsAt(rec).UTC().Format(time.RFC1123),
		"Page":    appPath(r.URL.Path),
		// phpMyAdmin signs on to cPanel sessions (signon.go).
		"PhpMyAdmin": service == uapi.ServiceCPanel && s.cfg.PhpMyAdminURL != "",
	})
}

// loginFailure answers a refused login: 401 with the failure page, or the
// JSON form for login_only=1.
func (s *Server) loginFailure(w http.ResponseWriter, loginOnly bool, code string) {
	w.Header().Set("Cache-Control", "no-store")
	if loginOnly {
		writeRawJSON(w, http.StatusUnauthorized, map[string]any{"status": 0, "message": code})
		return
	}
	renderHTML(w, http.StatusUnauthorized, failurePage, map[string]any{"Code": code, "Text": failureText[code]})
}

var failureText = map[string]string{
	auth.CodeInvalidSession: "The session is not valid, or it was already used.",
	auth.CodeExpiredSession: "The session has expired.",
	auth.CodeTokenIncorrect: "The security token does not match the session.",
	auth.CodeTokenMissing:   "The request has no security token.",
	auth.CodeChangedIP:      "The session was created for a different IP address.",
	auth.CodeInvalidLogin:   "The login is not valid or the account is suspended.",
}

func (s *Server) webInternalError(w http.ResponseWriter, r *http.Request, err error) {
	if s.unavailable(w, r, err) {
		return
	}
	id := uapi.NewErrorID()
	s.log.Error("internal error", "error_id", id, "request_id", RequestID(r.Context()), "path", logPath(r.URL.Path), "error", err.Error())
	http.Error(w, "The request failed. (Error ID: "+id+")", http.StatusInternalServerError)
}

func writeRawJSON(w http.ResponseWriter, status int, v any) {
	data, _ := uapi.Encode("json", v)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(data)
}

func renderHTML(w http.ResponseWriter, status int, t *template.Template, data any) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	t.Execute(w, data)
}

func (s *Server) renderLoginForm(w http.ResponseWriter, service string) {
	title := map[string]string{uapi.ServiceWebmail: "Webmail", uapi.ServiceCPanel: "cPanel", uapi.ServiceWHM: "WHM"}[service]
	renderHTML(w, http.StatusOK, loginPage, map[string]any{"Title": title})
}

const pageStyle = `body{font-family:system-ui,sans-serif;background:#f4f6f8;color:#1d2733;margin:0}
main{max-width:28rem;margin:4rem auto;background:#fff;border-radius:8px;padding:2rem;box-shadow:0 1px 4px rgba(0,0,0,.12)}
h1{font-size:1.3rem;margin-top:0}code{background:#eef1f4;padding:.1rem .3rem;border-radius:3px}
button{background:#1769aa;color:#fff;border:0;border-radius:4px;padding:.5rem 1rem;font-size:1rem;cursor:pointer}
input{display:block;width:100%;box-sizing:border-box;margin:.3rem 0 1rem;padding:.45rem;font-size:1rem}
.muted{color:#5b6875;font-size:.9rem}`

var landingPage = template.Must(template.New("landing").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{{.Title}} — {{.User}}</title><style>` + pageStyle + `</style></head>
<body><main>
<h1>{{.Title}}</h1>
<p>Logged in as <strong id="user">{{.User}}</strong></p>
{{if .Page}}<p class="muted">Page: <code id="page">{{.Page}}</code></p>{{end}}
<p class="muted">Without activity this session ends at <span id="idle">{{.Idle}}</span>; it ends at <span id="expires">{{.Expires}}</span> at the latest.</p>
{{if .PhpMyAdmin}}<p><a id="phpmyadmin" href="{{.Token}}/3rdparty/phpMyAdmin/">phpMyAdmin</a> <span class="muted">— your databases, as this session’s temporary database user</span></p>{{end}}
<form method="post" action="{{.Token}}/logout/"><button type="submit" id="logout">Log out</button></form>
</main></body></html>
`))

var failurePage = template.Must(template.New("failure").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Login failed</title><style>` + pageStyle + `</style></head>
<body><main>
<h1>Login failed</h1>
<p id="reason">{{.Text}}</p>
<p class="muted">Reason code: <code id="code">{{.Code}}</code></p>
<p><a href="/login/">Log in with a password</a></p>
</main></body></html>
`))

var loginPage = template.Must(template.New("login").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{{.Title}} login</title><style>` + pageStyle + `</style></head>
<body><main>
<h1>{{.Title}} login</h1>
<form method="post" action="/login/">
<label>User name<input name="user" autocomplete="username" required></label>
<label>Password<input name="pass" type="password" autocomplete="current-password" required></label>
<button type="submit">Log in</button>
</form>
</main></body></html>
`))
