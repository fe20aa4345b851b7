package bench

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/uapid/uapid/internal/app"
	"github.com/uapid/uapid/internal/config"
	"github.com/uapid/uapid/internal/server"
	"github.com/uapid/uapid/internal/uapi"
)

// uapidServer is a uapid started in this process the way `uapid serve`
// starts it (app.Open, server.New, Listen, Serve), on loopback ports. The
// periodic sweep loop of `serve` is not run: the sweep scenario triggers
// the same sweep (Manager.Sweep with batches of 1000) when it wants it.
type uapidServer struct {
	app             *app.App
	srv             *server.Server
	cpanel, webmail string // host:port of the TLS listeners
	// startup is the time from app.Open to listening.
	startup time.Duration

	cancel context.CancelFunc
	done   chan error
}

// startUapid starts uapid on dataDir; fixture ("" for none) is applied at
// start as --fixture does; bs (nil: the embedded SQLite store) names
// shared stores. The server's log goes to logw.
func startUapid(ctx context.Context, dataDir, fixture string, logw io.Writer, bs *benchStores) (*uapidServer, error) {
	_, vals := config.FlagSet("uapid bench", io.Discard)
	for k, v := range map[string]string{
		"data":        dataDir,
		"hostname":    "localhost",
		"cpanel-addr": "127.0.0.1:0", "webmail-addr": "127.0.0.1:0", "whm-addr": "off",
		"log-level": "info",
	} {
		vals.Set(k, v)
	}
	if fixture != "" {
		vals.Set("fixture", fixture)
	}
	env := map[string]string{}
	if bs != nil {
		if bs.store != "" {
			vals.Set("store", bs.store)
		}
		if bs.sessionStore != "" {
			vals.Set("session-store", bs.sessionStore)
		}
		if bs.key != "" {
			env["UAPID_SECRET_KEY"] = bs.key
		}
	}
	cfg, err := config.Load(vals, func(k string) string { return env[k] })
	if err != nil {
		return nil, err
	}
	log := slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelInfo}))
	t0 := time.Now()
	a, err := app.Open(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	srv, err := server.New(a)
	if err != nil {
		a.Close()
		return nil, err
	}
	if err := srv.Listen(io.Discard); err != nil {
		a.Close()
		return nil, err
	}
	u := &uapidServer{
		app: a, srv: srv, startup: time.Since(t0),
		cpanel:  net.JoinHostPort("127.0.0.1", strconv.Itoa(srv.BoundPort(uapi.ServiceCPanel))),
		webmail: net.JoinHostPort("127.0.0.1", strconv.Itoa(srv.BoundPort(uapi.ServiceWebmail))),
		done:    make(chan error, 1),
	}
	sctx, cancel := context.WithCancel(context.Background())
	u.cancel = cancel
	go func() { u.done <- srv.Serve(sctx, 10*time.Second) }()
	return u, nil
}

// stop drains the server and closes its stores.
func (u *uapidServer) stop() error {
	u.cancel()
	err := <-u.done
	return errors.Join(err, u.app.Close())
}

// baselineServer is a bare net/http TLS server answering every request
// with one fixed JSON body: the ceiling any Go HTTPS handler on this
// machine can reach with this client.
type baselineServer struct {
	addr string
	srv  *http.Server
	ln   net.Listener
}

func startBaseline(tc *tls.Config, body []byte) (*baselineServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	size := strconv.Itoa(len(body))
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Set("Content-Type", "application/json")
			h.Set("Content-Length", size)
			w.Write(body)
		}),
		TLSConfig:         tc.Clone(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          nil,
	}
	b := &baselineServer{addr: ln.Addr().String(), srv: srv, ln: ln}
	go srv.ServeTLS(ln, "", "")
	return b, nil
}

func (b *baselineServer) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.srv.Shutdown(ctx); err != nil {
		b.srv.Close()
	}
}

// fixedBody returns a body of n bytes shaped like a UAPI result.
func fixedBody(n int) []byte {
	const head = `{"data":{"hostname":null,"session":"`
	const tail = `"},"errors":null,"messages":null,"metadata":{"transformed":1},"status":1,"warnings":null}` + "\n"
	pad := max(n-len(head)-len(tail), 0)
	b := make([]byte, 0, len(head)+pad+len(tail))
	b = append(b, head...)
	for i := range pad {
		b = append(b, "abcdefghijklmnopqrstuvwxyz0123456789"[i%36])
	}
	return append(b, tail...)
}
