package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
	"time"

	"github.com/uapid/uapid/internal/audit"
	"github.com/uapid/uapid/internal/auth"
	"github.com/uapid/uapid/internal/auth/oauth"
	"github.com/uapid/uapid/internal/reqctx"
	"github.com/uapid/uapid/internal/session"
	"github.com/uapid/uapid/internal/store"
	"github.com/uapid/uapid/internal/uapi"
)

type ctxKey int

const (
	routeKey ctxKey = iota
)

// route labels a request for metrics: bounded names only (registered
// modules and functions, or route names), never raw input.
type routeLabels struct{ module, function string }

func setRoute(r *http.Request, module, function string) {
	if rl, ok := r.Context().Value(routeKey).(*routeLabels); ok {
		rl.module, rl.function = module, function
	}
}

// RequestID returns the id of the request ctx belongs to ("" outside one).
func RequestID(ctx context.Context) string {
	return reqctx.ID(ctx)
}

// handler returns the handler of one listener.
func (s *Server) handler(service string, secure bool) http.Handler {
	route := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.route(w, r, service, secure)
	})
	return s.middleware(service, secure, route)
}

// statusWriter records the status for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// requestTimeout is the deadline of one request (--request-timeout).
func (s *Server) requestTimeout() time.Duration {
	if s.cfg.RequestTimeout > 0 {
		return s.cfg.RequestTimeout
	}
	return 15 * time.Second
}

// middleware gives every request an id, a deadline (so that a store that
// does not answer makes it fail with 503 rather than hang), common
// security headers, recovery from panics (a JSON error with an error id
// on API paths, never a stack trace) and an access-log line. The log carries the path with any
// /cpsess… token masked and never the query string or body, which may hold
// credentials.
func (s *Server) middleware(service string, secure bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := uapi.NewErrorID() + uapi.NewErrorID()
		rl := &routeLabels{module: "other", function: "other"}
		ctx, cancel := context.WithTimeout(r.Context(), s.requestTimeout())
		defer cancel()
		ctx = reqctx.With(ctx, id)
		ctx = auth.WithRequestView(ctx)
		ctx = context.WithValue(ctx, routeKey, rl)
		ctx = audit.WithRequest(ctx, audit.Request{Client: s.clientAddr(r).String(), UserAgent: r.UserAgent(), Service: service})
		r = r.WithContext(ctx)
		h := w.Header()
		h.Set("X-Request-Id", id)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		if secure {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		sw := &statusWriter{ResponseWriter: w}
		if r.ContentLength > s.cfg.MaxBodyBytes {
			// Refuse an announced oversized body before reading any of it.
			h.Set("Connection", "close")
			msg := fmt.Sprintf("The request body exceeds the limit of %d bytes.", s.cfg.MaxBodyBytes)
			switch {
			case isAPIPath(r.URL.Path):
				writeJSON(sw, http.StatusRequestEntityTooLarge, uapi.Fail(msg))
			case service == uapi.ServiceWebmail && oauthRoute(r.URL.Path):
				oauthJSONError(sw, &oauth.Error{Code: oauth.ErrInvalidRequest, Description: msg, Status: http.StatusRequestEntityTooLarge})
			default:
				http.Error(sw, msg, http.StatusRequestEntityTooLarge)
			}
			s.log.Info("request", "request_id", id, "service", service, "method", r.Method,
				"path", logPath(r.URL.Path), "status", sw.status, "remote", s.clientAddr(r).String())
			return
		}
		r.Body = http.MaxBytesReader(sw, r.Body, s.cfg.MaxBodyBytes)
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				eid := uapi.NewErrorID()
				s.log.Error("panic serving request", "error_id", eid, "request_id", id,
					"service", service, "path", logPath(r.URL.Path), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				if sw.status == 0 {
					if isAPIPath(r.URL.Path) {
						writeJSON(sw, http.StatusOK, uapi.Fail(uapi.GenericError(eid)))
					} else {
						http.Error(sw, "Internal error (Error ID: "+eid+")", http.StatusInternalServerError)
					}
				}
			}
			d := time.Since(start)
			s.app.Metrics.ObserveRequest(service, rl.module, rl.function, sw.status, d)
			s.log.Info("request", "request_id", id, "service", service, "method", r.Method,
				"path", logPath(r.URL.Path), "status", sw.status, "remote", s.clientAddr(r).String(),
				"duration_ms", float64(d.Microseconds())/1000)
		}()
		next.ServeHTTP(sw, r)
	})
}

// logPath masks the security token in a path.
func logPath(p string) string {
	if tok, rest, ok := session.TokenFromPath(p); ok && tok != "" {
		return "/cpsess**********" + rest
	}
	if len(p) > 256 {
		return p[:256] + "…"
	}
	return p
}

func isAPIPath(p string) bool {
	if _, rest, ok := session.TokenFromPath(p); ok {
		p = rest
	}
	return strings.HasPrefix(p, "/execute/") || p == "/execute" || strings.HasPrefix(p, "/json-api/")
}

// route dispatches one request of a listener.
func (s *Server) route(w http.ResponseWriter, r *http.Request, service string, secure bool) {
	path := r.URL.Path
	token, rest, hasToken := session.TokenFromPath(path)
	if hasToken {
		path = rest
	}
	switch {
	case path == "/execute" || strings.HasPrefix(path, "/execute/"):
		if service == uapi.ServiceWHM {
			s.notFound(w, r)
			return
		}
		s.serveUAPI(w, r, service, token, hasToken, strings.TrimPrefix(strings.TrimPrefix(path, "/execute"), "/"))
	case strings.HasPrefix(path, "/json-api/"):
		if service != uapi.ServiceWHM {
			s.notFound(w, r)
			return
		}
		s.serveWHM(w, r, service, token, hasToken, strings.TrimPrefix(path, "/json-api/"))
	case service == uapi.ServiceWebmail && !hasToken && oauthRoute(path):
		s.serveOAuth(w, r, secure, path)
	default:
		s.serveWeb(w, r, service, secure, token, hasToken, path)
	}
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	if isAPIPath(r.URL.Path) {
		writeJSON(w, http.StatusNotFound, uapi.Fail("The requested path does not exist on this service."))
		return
	}
	http.NotFound(w, r)
}

// serveUAPI runs /execute/{Module}/{function}.
func (s *Server) serveUAPI(w http.ResponseWriter, r *http.Request, service, token string, hasToken bool, mf string) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		writeJSON(w, http.StatusMethodNotAllowed, uapi.Fail("The “"+r.Method+"” method is not allowed; use GET or POST."))
		return
	}
	module, function, _ := strings.Cut(mf, "/")
	switch {
	case s.app.Registry.Has(module, function):
		setRoute(r, module, function)
	case s.app.Registry.HasModule(module):
		setRoute(r, module, "unknown")
	default:
		setRoute(r, "unknown", "unknown")
	}
	caller, ok := s.authenticateAPI(w, r, service, token, hasToken)
	if !ok {
		return
	}
	args, err := uapi.ParseRequest(r, s.cfg.MaxBodyBytes)
	if err != nil {
		if tooLarge(err) {
			writeJSON(w, http.StatusRequestEntityTooLarge, uapi.Fail(fmt.Sprintf("The request body exceeds the limit of %d bytes.", s.cfg.MaxBodyBytes)))
			return
		}
		writeJSON(w, http.StatusBadRequest, uapi.Fail("The request could not be parsed: "+err.Error()))
		return
	}
	res := s.app.Registry.Dispatch(r.Context(), &uapi.Call{Module: module, Function: function, Args: args, Caller: caller})
	if err := res.Err(); err != nil && s.unavailable(w, r, err) {
		return
	}
	s.log.Debug("uapi call", "request_id", RequestID(r.Context()), "module", logName(module), "function", logName(function),
		"user", caller.User, "status", res.Status, "arguments", args.Keys())
	writeJSON(w, http.StatusOK, res)
}

// accessDenied is the one body of every failed API authentication (SPEC §5).
const accessDenied = `{"status":0,"errors":["Access denied"],"data":null,"messages":null,"warnings":null,"metadata":{}}`

// whmAccessDenied is the body of a failed authentication on the WHM
// ports, in WHM's shape (cPanel's cpanelresult object) whatever the API
// version asked for.
const whmAccessDenied = `{"cpanelresult":{"apiversion":"2","data":{"reason":"Access denied","result":"0"},"error":"Access denied","type":"text"}}`

func denyAPI(w http.ResponseWriter, service string) {
	h := w.Header()
	h.Set("WWW-Authenticate", `Basic realm="uapid"`)
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusUnauthorized)
	if service == uapi.ServiceWHM {
		io.WriteString(w, whmAccessDenied)
		return
	}
	io.WriteString(w, accessDenied)
}

// authenticateAPI authenticates an API request by its Authorization header
// (Basic or token) or by session cookie plus /cpsess… token (package auth
// decides, brute-force accounting included). On failure it has answered
// the request.
func (s *Server) authenticateAPI(w http.ResponseWriter, r *http.Request, service, token string, hasToken bool) (uapi.Caller, bool) {
	remote := s.clientAddr(r)
	ctx := r.Context()
	if !hasToken {
		token = ""
	}
	c, err := s.app.Auth.API(ctx, auth.Request{
		Service:       service,
		Remote:        remote,
		Authorization: r.Header.Get("Authorization"),
		Cookie:        cookieValue(r, service),
		Token:         token,
	})
	var le *auth.LoginError
	switch {
	case errors.As(err, &le):
		s.log.Debug("cookie authentication refused", "request_id", RequestID(ctx), "service", service, "reason", le.Code)
		denyAPI(w, service)
		return uapi.Caller{}, false
	case errors.Is(err, auth.ErrDenied):
		denyAPI(w, service)
		return uapi.Caller{}, false
	case err != nil:
		s.internalError(w, r, err)
		return uapi.Caller{}, false
	}
	c.UserAgent = r.UserAgent()
	s.log.Debug("authenticated", "request_id", RequestID(ctx), "service", service, "user", c.User,
		"mailbox", c.Mailbox, "method", c.Method, "session_id", c.SessionID, "remote", remote.String())
	return c, true
}

// internalError answers an unexpected failure with the generic UAPI error and
// logs its cause under the error id; a store that cannot be reached answers
// 503 with the same envelope (unavailableError).
func (s *Server) internalError(w http.ResponseWriter, r *http.Request, err error) {
	if s.unavailable(w, r, err) {
		return
	}
	id := uapi.NewErrorID()
	s.log.Error("internal error", "error_id", id, "request_id", RequestID(r.Context()), "path", logPath(r.URL.Path), "error", err.Error())
	writeJSON(w, http.StatusOK, uapi.Fail(uapi.GenericError(id)))
}

// unavailableText is the error of a request that needs a store that cannot
// be reached.
const unavailableText = "The service is temporarily unavailable: its data store cannot be reached. Try again shortly."

// unavailable answers a request that failed because a store cannot be
// reached (store.ErrUnavailable): 503, Retry-After, and the error in the
// envelope of the request's path (WHM API 1 on /json-api/, UAPI on other
// API paths, text elsewhere). It reports whether err was such a failure.
func (s *Server) unavailable(w http.ResponseWriter, r *http.Request, err error) bool {
	if !errors.Is(err, store.ErrUnavailable) {
		return false
	}
	s.log.Warn("store unavailable", "request_id", RequestID(r.Context()), "path", logPath(r.URL.Path), "error", err.Error())
	w.Header().Set("Retry-After", "5")
	path := r.URL.Path
	if _, rest, ok := session.TokenFromPath(path); ok {
		path = rest
	}
	switch {
	case path == "/json-api/cpanel":
		q := r.URL.Query() // the wrapped UAPI form of the proxy
		writeJSON(w, http.StatusServiceUnavailable, uapi.Wrap(q.Get("cpanel_jsonapi_module"), q.Get("cpanel_jsonapi_func"), uapi.Fail(unavailableText)))
	case strings.HasPrefix(path, "/json-api/"):
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"metadata": map[string]any{
			"command": strings.TrimPrefix(path, "/json-api/"), "result": 0, "version": 1, "reason": unavailableText}})
	case isAPIPath(r.URL.Path):
		writeJSON(w, http.StatusServiceUnavailable, uapi.Fail(unavailableText))
	default:
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, unavailableText, http.StatusServiceUnavailable)
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := uapi.Encode("json", v)
	if err != nil {
		data = []byte(`{"data":null,"errors":["The response could not be encoded."],"messages":null,"warnings":null,"metadata":{},"status":0}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(data)
}

// clientAddr is the client's address: the connection's peer, or, when the
// peer is a trusted proxy, the right-most address of X-Forwarded-For that is
// not itself a trusted proxy.
func (s *Server) clientAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	addr := ap.Addr().Unmap()
	if len(s.cfg.TrustedProxies) == 0 || !s.trusted(addr) {
		return addr
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return addr
		}
		a = a.Unmap()
		if !s.trusted(a) {
			return a
		}
		addr = a
	}
	return addr
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// tooLarge reports whether a body-parsing error means the body was over the
// limit (found by the parser or by the middleware's MaxBytesReader).
func tooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.Is(err, uapi.ErrBodyTooLarge) || errors.As(err, &mbe)
}

// logName bounds a caller-supplied name before it is logged.
func logName(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
