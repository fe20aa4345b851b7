// Package app assembles one uapid runtime from a configuration: the
// stores, the session manager, the account lifecycle, the authenticator
// with its brute-force limiter, and the UAPI and WHM registries with their
// modules. The server, the uapi and whmapi1 commands and the admin
// commands all use it, so that they see the same data the same way.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/uapid/uapid/internal/accounts"
	"github.com/uapid/uapid/internal/audit"
	"github.com/uapid/uapid/internal/auth"
	"github.com/uapid/uapid/internal/auth/oauth"
	"github.com/uapid/uapid/internal/config"
	"github.com/uapid/uapid/internal/fixture"
	"github.com/uapid/uapid/internal/metrics"
	"github.com/uapid/uapid/internal/session"
	"github.com/uapid/uapid/internal/store"
	"github.com/uapid/uapid/internal/tempdb"
	"github.com/uapid/uapid/internal/uapi"
	"github.com/uapid/uapid/internal/whmapi"
)

// App is an assembled runtime. Close releases it.
type App struct {
	Config *config.Config
	Log    *slog.Logger
	Dir    store.Directory
	// Packages holds the hosting packages and reseller ACL lists (in the
	// same store as Dir).
	Packages store.Packages
	// Store holds the session records; Sessions applies the session
	// lifecycle (lifetimes, one-time redemption, ends) over it.
	Store    store.Sessions
	Sessions *session.Manager
	// Accounts is the account lifecycle every interface uses.
	Accounts *accounts.Service
	Registry *uapi.Registry
	WHM      *whmapi.Registry
	// Auth makes every credential decision, brute-force accounting
	// included (Auth.Limiter).
	Auth *auth.Authenticator
	// Audit is the audit trail (its writer may be off; events still reach
	// the metrics).
	Audit *audit.Logger
	// Metrics are this runtime's Prometheus collectors.
	Metrics *metrics.Metrics
	// OAuth is uapid as an OAuth 2.0 authorization server for Webmail
	// clients (Roundcube) and mail servers (Dovecot).
	OAuth *oauth.Provider
	// TempDB creates and drops the temporary database users of cPanel
	// sessions; TempDB.Configured() is false without a database server.
	TempDB *tempdb.Manager

	// stores are the backends (stores.go).
	stores *stores

	portsMu sync.Mutex
	bound   map[string]int
}

// SetBoundPorts records the ports the TLS listeners are bound to, by
// service, for the URLs of single-sign-on sessions.
func (a *App) SetBoundPorts(ports map[string]int) {
	a.portsMu.Lock()
	defer a.portsMu.Unlock()
	a.bound = maps.Clone(ports)
}

// PublicPort is the port announced in URLs for service: the configured
// --public-port-<service>, else the bound TLS port, else the port of the
// configured address, else cPanel's default.
func (a *App) PublicPort(service string) int {
	if p, ok := a.Config.PublicPorts[service]; ok {
		return p
	}
	a.portsMu.Lock()
	p, ok := a.bound[service]
	a.portsMu.Unlock()
	if ok && p != 0 {
		return p
	}
	if rt, ok := a.runtime(); ok && rt.Ports[service] != 0 {
		return rt.Ports[service]
	}
	addr := map[string]config.AddrOpt{uapi.ServiceCPanel: a.Config.CPanelAddr, uapi.ServiceWebmail: a.Config.WebmailAddr, uapi.ServiceWHM: a.Config.WHMAddr}[service]
	if _, ps, err := net.SplitHostPort(string(addr)); err == nil {
		if n, err := strconv.Atoi(ps); err == nil && n > 0 {
			return n
		}
	}
	return map[string]int{uapi.ServiceCPanel: 2083, uapi.ServiceWebmail: 2096, uapi.ServiceWHM: 2087}[service]
}

// Open opens the stores named by cfg (creating the data directory and the
// SQLite file on first use; PostgreSQL and Redis with --store postgres://…
// and --session-store, see stores.go), applies migrations, assembles the
// runtime and registers the modules.
func Open(ctx context.Context, cfg *config.Config, log *slog.Logger) (*App, error) {
	st, err := openStores(ctx, cfg) // see stores.go
	if err != nil {
		return nil, err
	}
	dir, sessions, ledger := st.dir, st.sessions, st.ledger
	auditLog, err := audit.Open(cfg.AuditLog)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("--audit-log: %w", err)
	}
	tm := &tempdb.Manager{Ledger: ledger, Log: log}
	if cfg.MySQLDSN != "" {
		s, err := tempdb.NewMySQL(cfg.MySQLDSN)
		if err != nil {
			st.Close()
			return nil, fmt.Errorf("--mysql-dsn: %w", err)
		}
		tm.Servers = append(tm.Servers, s)
	}
	if cfg.PostgresAdminDSN != "" {
		s, err := tempdb.NewPostgres(cfg.PostgresAdminDSN)
		if err != nil {
			closeServers(tm)
			st.Close()
			return nil, fmt.Errorf("--postgres-admin-dsn: %w", err)
		}
		tm.Servers = append(tm.Servers, s)
	}
	met := metrics.New(func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		users, err := ledger.ListTempUsers(ctx)
		if err != nil {
			return -1
		}
		return float64(len(users))
	})
	auditLog.Hook = met.ObserveEvent
	sessionStore := met.InstrumentStore(sessions)
	sm := &session.Manager{
		Store:    sessionStore,
		LoginTTL: cfg.LoginTTL,
		Idle:     cfg.IdleTimeout,
		Max:      cfg.MaxAge,
		Audit:    auditLog,
		Tickets:  st.tickets,
	}
	limiter := auth.NewLimiter(auth.LimitConfig{
		Allow: cfg.BruteforceAllow, IPMax: cfg.BruteforceIPMax, UserMax: cfg.BruteforceUserMax,
		Window: cfg.BruteforceWindow, Ban: cfg.BruteforceBan,
	}, st.attempts)
	a := &App{
		Config:   cfg,
		Log:      log,
		Dir:      dir,
		Packages: st.packages,
		Store:    sessionStore,
		Sessions: sm,
		Accounts: &accounts.Service{Dir: dir, Packages: st.packages, Sessions: sm, Audit: auditLog},
		Audit:    auditLog,
		Metrics:  met,
		Registry: uapi.NewRegistry(log),
		WHM:      whmapi.NewRegistry(log),
		Auth: &auth.Authenticator{
			Dir:             dir,
			Sessions:        sm,
			Limiter:         limiter,
			IPValidation:    cfg.IPValidation,
			Cache:           auth.NewCredCache(5*time.Minute, 100_000),
			Audit:           auditLog,
			Log:             log,
			ResourceServers: resourceServers(cfg),
		},
		TempDB: tm,
		stores: st,
	}
	a.OAuth = &oauth.Provider{Store: st.oauth, Sessions: sm, Auth: a.Auth, Clients: oauthClients(cfg), Audit: auditLog, Log: log}
	limiter.OnBlock = func(b auth.Block) {
		log.Warn("brute-force block", "kind", b.Kind, "key", b.Key, "until", b.Until.UTC().Format(time.RFC3339))
		ev := audit.Event{Event: audit.BruteforceBlock, Reason: b.Kind + " blocked until " + b.Until.UTC().Format(time.RFC3339)}
		if b.Kind == store.AttemptIP {
			ev.Client = b.Key
		} else {
			ev.Target = b.Key
		}
		a.Audit.Log(context.Background(), ev)
	}
	a.Sessions.OnEnd = a.sessionEnded
	a.Sessions.TempUsers = tempUsers{a}
	registerModules(a)
	if cfg.Fixture != "" {
		fx, err := fixture.Load(cfg.Fixture)
		if err != nil {
			a.Close()
			return nil, err
		}
		if err := fx.Apply(ctx, dir); err != nil {
			a.Close()
			return nil, err
		}
	}
	return a, nil
}

// Close releases the stores and database-server connections.
func (a *App) Close() error {
	closeServers(a.TempDB)
	a.Audit.Close()
	return a.stores.Close()
}

func closeServers(tm *tempdb.Manager) {
	for _, s := range tm.Servers {
		s.Close()
	}
}

// sessionEnded releases what hangs off ended sessions: their OAuth codes
// and tokens (already inactive, as every use reads the session) and their
// temporary database users. A failed drop is logged; the ledger keeps the
// user and the sweeper retries; tokens left behind expire with the
// session's limits and are swept.
func (a *App) sessionEnded(ctx context.Context, rs []store.Session, reason string) {
	var webmail []string
	for _, r := range rs {
		if r.Service == uapi.ServiceWebmail {
			webmail = append(webmail, r.ID)
		}
	}
	// One step for all of them: a sweep ends hundreds at once.
	if len(webmail) > 0 {
		if _, err := a.OAuth.Store.DeleteOAuthTokens(context.WithoutCancel(ctx), webmail...); err != nil {
			a.Log.WarnContext(ctx, "the OAuth tokens of ended sessions were not removed; they are inactive and will be swept",
				"sessions", len(webmail), "first_session_id", webmail[0], "error", err.Error())
		}
	}
	for _, r := range rs {
		a.dropTempUser(ctx, r, reason)
	}
}

// dropTempUser drops the temporary database user of the ended session r,
// if it has one.
func (a *App) dropTempUser(ctx context.Context, r store.Session, reason string) {
	// Drop even when the record does not say "created": a crash between
	// the creation and the mark leaves a recorded user. The manager drops
	// only names its ledger holds.
	if r.TempUser == "" {
		return
	}
	if !a.TempDB.Configured() {
		a.Log.WarnContext(ctx, "a session with a temporary database user ended, but no database server is configured to drop it; it stays recorded until one is",
			"session_id", r.ID, "account", r.Account, "reason", reason)
		return
	}
	if err := a.TempDB.Drop(context.WithoutCancel(ctx), r.TempUser); err != nil {
		a.Log.ErrorContext(ctx, "temporary database user not dropped; the sweeper will retry",
			"session_id", r.ID, "account", r.Account, "reason", reason, "error", err.Error())
		return
	}
	a.Audit.Log(ctx, audit.Event{Event: audit.TempUserDrop, Target: r.Account, SessionID: r.ID,
		SecretFP: audit.Fingerprint(r.TempUser), Reason: reason})
}

// SweepTempUsers drops every recorded temporary user whose session no
// longer exists (expired sessions are ended, and their users dropped, by the
// session sweep).
func (a *App) SweepTempUsers(ctx context.Context) (int, error) {
	if !a.TempDB.Configured() {
		return 0, nil
	}
	return a.TempDB.Sweep(ctx, func(ctx context.Context, id string) (bool, error) {
		_, err := a.Store.Get(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	})
}

// Ping reports whether every store answers (the readiness of /readyz).
func (a *App) Ping(ctx context.Context) error { return a.stores.Ping(ctx) }

// oauthClients are the configured --oauth-clients as auth/oauth uses them.
func oauthClients(cfg *config.Config) []oauth.Client {
	out := make([]oauth.Client, len(cfg.OAuthClients))
	for i, c := range cfg.OAuthClients {
		out[i] = oauth.Client{ID: c.ID, SecretHash: c.SecretHash, RedirectURIs: c.RedirectURIs}
	}
	return out
}

// resourceServers are the configured --resource-servers as auth uses them.
func resourceServers(cfg *config.Config) []auth.ResourceServer {
	out := make([]auth.ResourceServer, len(cfg.ResourceServers))
	for i, rs := range cfg.ResourceServers {
		out[i] = auth.ResourceServer{Name: rs.Name, SecretHash: rs.SecretHash}
	}
	return out
}
