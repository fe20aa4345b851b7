package server

import (
	"errors"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/uapid/uapid/internal/auth"
	"github.com/uapid/uapid/internal/session"
	"github.com/uapid/uapid/internal/store"
	"github.com/uapid/uapid/internal/tempdb"
	"github.com/uapid/uapid/internal/uapi"
)

// The phpMyAdmin sign-on (docs/phpmyadmin.md) has two routes:
//
//	GET  /cpsess…/3rdparty/phpMyAdmin/   the browser, inside its cPanel
//	     session (cookie and token): a one-time ticket bound to the
//	     session, and a redirect to --phpmyadmin-url with it
//	POST /3rdparty/phpMyAdmin/signon     the sign-on script, authenticated
//	     as the resource server phpmyadmin, with the ticket (or the handle
//	     of an earlier sign-on): the session's temporary database user,
//	     created if needed, with its password
//
// The password travels only in the answer to the second, which the
// browser cannot make. Without --phpmyadmin-url neither route exists.

// phpMyAdminPrefix is where the routes live, as on cPanel.
const phpMyAdminPrefix = "/3rdparty/phpMyAdmin"

// signOnParam is the query parameter that carries the ticket to
// phpMyAdmin (the sign-on script reads it).
const signOnParam = "uapid_signon"

// isPhpMyAdminPath reports whether path (without its /cpsess… token) is
// one of the sign-on routes' paths.
func isPhpMyAdminPath(path string) bool {
	return path == phpMyAdminPrefix || strings.HasPrefix(path, phpMyAdminPrefix+"/")
}

// servePhpMyAdmin dispatches the sign-on routes.
func (s *Server) servePhpMyAdmin(w http.ResponseWriter, r *http.Request, service, token string, hasToken bool, path string) {
	rest := strings.TrimPrefix(path, phpMyAdminPrefix)
	switch {
	case rest == "/signon" && !hasToken:
		setRoute(r, "web", "phpmyadmin_signon")
		s.phpMyAdminSignOn(w, r, service)
	case rest == "" || rest == "/" || rest == "/index.php":
		setRoute(r, "web", "phpmyadmin_open")
		if !allowMethods(w, r, http.MethodGet) {
			return
		}
		s.phpMyAdminOpen(w, r, service, token, hasToken)
	default:
		http.NotFound(w, r)
	}
}

// phpMyAdminOpen sends the browser of a cPanel session to phpMyAdmin with
// a fresh one-time ticket.
func (s *Server) phpMyAdminOpen(w http.ResponseWriter, r *http.Request, service, token string, hasToken bool) {
	if !hasToken {
		token = ""
	}
	remote := s.clientAddr(r)
	_, rec, err := s.app.Auth.Cookie(r.Context(), auth.Request{Service: service, Remote: remote, Cookie: cookieValue(r, service), Token: token})
	var le *auth.LoginError
	if errors.As(err, &le) {
		s.log.Info("phpMyAdmin sign-on refused", "request_id", RequestID(r.Context()), "service", service, "reason", le.Code, "remote", remote.String())
		s.loginFailure(w, false, le.Code)
		return
	}
	if err != nil {
		s.webInternalError(w, r, err)
		return
	}
	if service != uapi.ServiceCPanel || rec.TempUser == "" {
		s.log.Info("phpMyAdmin sign-on refused", "request_id", RequestID(r.Context()), "service", service, "reason", "not a cPanel session",
			"user", rec.User, "session_id", rec.ID)
		renderHTML(w, http.StatusForbidden, cPanelOnlyPage, map[string]any{"Token": rec.Token})
		return
	}
	ticket, err := s.app.Sessions.IssueTicket(r.Context(), rec)
	if err != nil {
		s.webInternalError(w, r, err)
		return
	}
	s.log.Info("phpMyAdmin sign-on ticket issued", "request_id", RequestID(r.Context()), "user", rec.User, "session_id", rec.ID)
	http.Redirect(w, r, withQuery(s.cfg.PhpMyAdminURL, signOnParam, ticket), http.StatusFound)
}

// withQuery returns the absolute URL u (validated at start) with the query
// parameter key set to value.
func withQuery(u, key, value string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	q := p.Query()
	q.Set(key, value)
	p.RawQuery = q.Encode()
	return p.String()
}

// phpMyAdminSignOn answers the sign-on script: the temporary database
// user of the session a ticket or handle leads to.
func (s *Server) phpMyAdminSignOn(w http.ResponseWriter, r *http.Request, service string) {
	if service != uapi.ServiceCPanel {
		writeRawJSON(w, http.StatusNotFound, signOnFailure("The sign-on is served on the cPanel ports."))
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeRawJSON(w, http.StatusMethodNotAllowed, signOnFailure("Use POST."))
		return
	}
	args, err := uapi.ParseRequest(r, s.cfg.MaxBodyBytes)
	if err != nil {
		status := http.StatusBadRequest
		if tooLarge(err) {
			status = http.StatusRequestEntityTooLarge
		}
		writeRawJSON(w, status, signOnFailure("The request could not be parsed."))
		return
	}
	ticket, _ := args.Get("ticket")
	handle, _ := args.Get("handle")
	if (ticket == "") == (handle == "") {
		writeRawJSON(w, http.StatusBadRequest, signOnFailure("Provide the “ticket” or the “handle” argument, not both."))
		return
	}
	ctx := r.Context()
	remote := s.clientAddr(r)
	rec, err := s.app.Auth.SignOn(ctx, auth.SignOnRequest{
		Authorization: r.Header.Get("Authorization"), Remote: remote, Ticket: ticket, Handle: handle,
	})
	var le *auth.LoginError
	switch {
	case errors.Is(err, auth.ErrDenied):
		// The API's refusal (SPEC §5): the script is an API client.
		h := w.Header()
		h.Set("WWW-Authenticate", `Basic realm="uapid"`)
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, accessDenied)
		return
	case errors.Is(err, auth.ErrNotSignOnApp):
		writeRawJSON(w, http.StatusForbidden, signOnFailure("This resource server may not sign on to phpMyAdmin; the sign-on script authenticates as “"+auth.PhpMyAdmin+"”."))
		return
	case errors.As(err, &le):
		s.log.Info("phpMyAdmin sign-on refused", "request_id", RequestID(ctx), "reason", le.Code, "ticket", ticket != "", "remote", remote.String())
		writeRawJSON(w, http.StatusForbidden, map[string]any{"status": 0, "message": le.Code})
		return
	case err != nil:
		s.signOnError(w, r, err)
		return
	}
	if !rec.TempCreated {
		rec, _, err = s.app.Sessions.CreateTempUser(ctx, rec.ID, "phpmyadmin_signon")
		switch {
		case errors.Is(err, store.ErrNotFound), errors.Is(err, tempdb.ErrSessionEnded):
			writeRawJSON(w, http.StatusForbidden, map[string]any{"status": 0, "message": auth.CodeInvalidSession})
			return
		case errors.Is(err, session.ErrNoTempDB):
			writeRawJSON(w, http.StatusServiceUnavailable, signOnFailure("No database server is configured for temporary users."))
			return
		case err != nil:
			s.signOnError(w, r, err)
			return
		}
	}
	if ticket != "" {
		s.log.Info("phpMyAdmin signed on", "request_id", RequestID(ctx), "user", rec.User, "session_id", rec.ID, "remote", remote.String())
	} else {
		s.log.Debug("phpMyAdmin sign-on checked", "request_id", RequestID(ctx), "user", rec.User, "session_id", rec.ID)
	}
	writeRawJSON(w, http.StatusOK, map[string]any{"status": 1, "data": map[string]any{
		"user":     rec.TempUser,
		"password": rec.TempPass,
		"handle":   session.SignOnHandle(rec),
		"account":  rec.Account,
		"expires":  rec.ExpiresAt.Unix(),
	}})
}

func signOnFailure(msg string) map[string]any {
	return map[string]any{"status": 0, "message": msg}
}

// signOnError answers an unexpected failure of the sign-on in its JSON: 503
// when a store cannot be reached, else 500 with an error id (the cause is
// logged under it).
func (s *Server) signOnError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, store.ErrUnavailable) {
		s.log.Warn("store unavailable", "request_id", RequestID(r.Context()), "path", logPath(r.URL.Path), "error", err.Error())
		w.Header().Set("Retry-After", "5")
		writeRawJSON(w, http.StatusServiceUnavailable, signOnFailure(unavailableText))
		return
	}
	id := uapi.NewErrorID()
	s.log.Error("internal error", "error_id", id, "request_id", RequestID(r.Context()), "path", logPath(r.URL.Path), "error", err.Error())
	writeRawJSON(w, http.StatusInternalServerError, signOnFailure("The request failed. (Error ID: "+id+")"))
}

var cPanelOnlyPage = template.Must(template.New("cpanelonly").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>phpMyAdmin</title><style>` + pageStyle + `</style></head>
<body><main>
<h1>phpMyAdmin</h1>
<p id="reason">phpMyAdmin opens from a cPanel session: it signs on as the session’s temporary database user, which only cPanel sessions have.</p>
<p><a href="{{.Token}}/">Back</a></p>
</main></body></html>
`))
