// Package server runs uapid's HTTP listeners (cPanel, Webmail and WHM, each
// over TLS and optionally plain HTTP), with the middleware every request
// passes through (request id, recovery, security headers, access log without
// secrets) and the routes of SPEC §1.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/uapid/uapid/internal/app"
	"github.com/uapid/uapid/internal/config"
	"github.com/uapid/uapid/internal/tlsutil"
	"github.com/uapid/uapid/internal/uapi"
)

// CookieName is the session cookie of each service (SPEC §1).
var CookieName = map[string]string{
	uapi.ServiceCPanel:  "cpsession",
	uapi.ServiceWebmail: "webmailsession",
	uapi.ServiceWHM:     "whostmgrsession",
}

// Server serves one App on its configured listeners.
type Server struct {
	app *app.App
	cfg *config.Config
	log *slog.Logger
	tls *tls.Config

	mu        sync.Mutex
	listeners []*listener
	// ports are the bound TLS ports by service, for the URLs of SSO sessions.
	ports map[string]int
}

type listener struct {
	service string
	secure  bool
	ln      net.Listener
	srv     *http.Server
}

// New prepares a server. It loads (or generates) the TLS certificate; the
// listeners are bound by Listen.
func New(a *app.App) (*Server, error) {
	cfg := a.Config
	tc, err := tlsutil.Load(cfg.TLSCert, cfg.TLSKey, cfg.DataDir, cfg.Hostname)
	if err != nil {
		return nil, err
	}
	return &Server{app: a, cfg: cfg, log: a.Log, tls: tc, ports: map[string]int{}}, nil
}

// Listen binds every configured listener and writes one
// "listening service=… tls=… addr=…" line per listener to out, in the order
// cPanel, Webmail, WHM (TLS first, then plain), then metrics. If any address
// cannot be bound, nothing stays bound and the error names the address.
func (s *Server) Listen(out io.Writer) error {
	type spec struct {
		service string
		secure  bool
		addr    config.AddrOpt
	}
	specs := []spec{
		{uapi.ServiceCPanel, true, s.cfg.CPanelAddr},
		{uapi.ServiceWebmail, true, s.cfg.WebmailAddr},
		{uapi.ServiceWHM, true, s.cfg.WHMAddr},
		{uapi.ServiceCPanel, false, s.cfg.CPanelPlainAddr},
		{uapi.ServiceWebmail, false, s.cfg.WebmailPlainAddr},
		{uapi.ServiceWHM, false, s.cfg.WHMPlainAddr},
		{"metrics", false, s.cfg.MetricsAddr},
	}
	var bound []*listener
	for _, sp := range specs {
		if !sp.addr.Enabled() {
			continue
		}
		ln, err := net.Listen("tcp", string(sp.addr))
		if err != nil {
			for _, l := range bound {
				l.ln.Close()
			}
			return fmt.Errorf("cannot listen on %s for %s: %v", sp.addr, sp.service, errors.Unwrap(errors.Unwrap(err)))
		}
		l := &listener{service: sp.service, secure: sp.secure, ln: newLimitListener(ln, s.cfg.MaxConnsPerIP)}
		l.srv = s.httpServer(sp.service, sp.secure)
		bound = append(bound, l)
		if sp.secure {
			s.ports[sp.service] = ln.Addr().(*net.TCPAddr).Port
		}
	}
	s.mu.Lock()
	s.listeners = bound
	s.mu.Unlock()
	s.app.SetBoundPorts(s.ports)
	if err := s.app.WriteRuntime(s.ports); err != nil {
		s.log.Warn("cannot record the listening ports in the data directory", "error", err.Error())
	}
	for _, l := range bound {
		fmt.Fprintf(out, "listening service=%s tls=%t addr=%s\n", l.service, l.secure, l.ln.Addr())
	}
	return nil
}

func (s *Server) httpServer(service string, secure bool) *http.Server {
	var h http.Handler
	if service == "metrics" {
		h = s.adminHandler()
	} else {
		h = s.handler(service, secure)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10, // larger headers get 431
		ErrorLog:          log.New(slogWriter{s.log}, "", 0),
	}
	if secure {
		srv.TLSConfig = s.tls.Clone()
	}
	return srv
}

// slogWriter sends net/http's own error lines (TLS handshake failures and
// the like) to the structured log at debug level.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Debug("http", "msg", string(p))
	return len(p), nil
}

// Serve serves the bound listeners until ctx is done, then stops accepting,
// drains in-flight requests (up to drain) and returns nil. A listener that
// fails makes Serve stop all of them and return the error.
func (s *Server) Serve(ctx context.Context, drain time.Duration) error {
	s.mu.Lock()
	ls := s.listeners
	s.mu.Unlock()
	errc := make(chan error, len(ls))
	for _, l := range ls {
		go func() {
			var err error
			if l.secure {
				err = l.srv.ServeTLS(l.ln, "", "")
			} else {
				err = l.srv.Serve(l.ln)
			}
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			}
			errc <- err
		}()
	}
	var first error
	select {
	case <-ctx.Done():
	case first = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	var wg sync.WaitGroup
	for _, l := range ls {
		wg.Go(func() {
			if err := l.srv.Shutdown(sctx); err != nil {
				l.srv.Close()
			}
		})
	}
	wg.Wait()
	s.app.RemoveRuntime()
	return first
}

// adminHandler serves /healthz and /readyz on the metrics address.
func (s *Server) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.app.Metrics.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := s.app.Ping(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "store unavailable\n")
			return
		}
		io.WriteString(w, "ok\n")
	})
	return mux
}

// BoundPort returns the port the TLS listener of service is bound to (0 when
// it is off).
func (s *Server) BoundPort(service string) int { return s.ports[service] }
