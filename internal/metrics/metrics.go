// Package metrics holds uapid's Prometheus metrics. Each App has its own
// registry (no global state), served on the --metrics-addr listener at
// /metrics. Session, login, brute-force and temporary-user counters are
// derived from the audit events, so every such event is counted exactly
// where it is recorded.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/uapid/uapid/internal/audit"
	"github.com/uapid/uapid/internal/store"
)

// Metrics are the collectors of one App.
type Metrics struct {
	Registry *prometheus.Registry

	requests        *prometheus.CounterVec
	requestDuration *prometheus.HistogramVec
	sessionsCreated *prometheus.CounterVec
	logins          *prometheus.CounterVec
	loginFailures   *prometheus.CounterVec
	sessionsEnded   *prometheus.CounterVec
	blocks          *prometheus.CounterVec
	tempUsers       *prometheus.CounterVec
	webmail         *prometheus.CounterVec
	storeDuration   *prometheus.HistogramVec
}

// New registers uapid's metrics (and the Go and process collectors) in a
// fresh registry. liveTempUsers, if set, reports the recorded temporary
// database users at scrape time.
func New(liveTempUsers func() float64) *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "uapid_http_requests_total",
		Help: "HTTP requests by service, UAPI/WHM module and function (or route), and HTTP status.",
	}, []string{"service", "module", "function", "code"})
	m.requestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "uapid_http_request_duration_seconds",
		Help:    "HTTP request latency by service, module and function (or route).",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"service", "module", "function"})
	m.sessionsCreated = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "uapid_sessions_created_total", Help: "Sessions created, by service and method.",
	}, []string{"service", "method"})
	m.logins = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "uapid_logins_total", Help: "Successful logins (session secrets redeemed and password logins), by service.",
	}, []string{"service"})
	m.loginFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "uapid_login_failures_total", Help: "Refused session logins, by reason code.",
	}, []string{"reason"})
	m.sessionsEnded = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "uapid_sessions_ended_total", Help: "Sessions ended, by how: logout, expire or revoke.",
	}, []string{"how"})
	m.blocks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "uapid_bruteforce_blocks_total", Help: "Brute-force blocks started, by kind (ip or user).",
	}, []string{"kind"})
	m.tempUsers = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "uapid_temp_users_total", Help: "Temporary database users created and dropped.",
	}, []string{"action"})
	m.webmail = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "uapid_webmail_events_total",
		Help: "OAuth codes and tokens issued, refused and revoked, and mail clients' password logins decided, by event (the audit event names).",
	}, []string{"event"})
	m.storeDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "uapid_store_operation_duration_seconds",
		Help:    "Session store operation latency by operation.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25},
	}, []string{"operation"})
	m.Registry.MustRegister(m.requests, m.requestDuration, m.sessionsCreated, m.logins, m.loginFailures,
		m.sessionsEnded, m.blocks, m.tempUsers, m.webmail, m.storeDuration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if liveTempUsers != nil {
		m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "uapid_temp_users_live", Help: "Temporary database users currently recorded.",
		}, liveTempUsers))
	}
	return m
}

// Handler serves the registry.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// ObserveRequest records one HTTP request. module and function must come
// from a bounded set (registered names or route names), never raw input.
func (m *Metrics) ObserveRequest(service, module, function string, code int, d time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(service, module, function, strconv.Itoa(code)).Inc()
	m.requestDuration.WithLabelValues(service, module, function).Observe(d.Seconds())
}

// ObserveEvent counts an audit event.
func (m *Metrics) ObserveEvent(e audit.Event) {
	if m == nil {
		return
	}
	switch e.Event {
	case audit.SessionCreate:
		m.sessionsCreated.WithLabelValues(e.Service, e.Method).Inc()
	case audit.SessionLogin:
		m.logins.WithLabelValues(e.Service).Inc()
	case audit.SessionLoginFailed:
		m.loginFailures.WithLabelValues(e.Reason).Inc()
	case audit.SessionLogout:
		m.sessionsEnded.WithLabelValues("logout").Inc()
	case audit.SessionExpire:
		m.sessionsEnded.WithLabelValues("expire").Inc()
	case audit.SessionRevoke:
		m.sessionsEnded.WithLabelValues("revoke").Inc()
	case audit.BruteforceBlock:
		kind := "user"
		if e.Client != "" {
			kind = "ip"
		}
		m.blocks.WithLabelValues(kind).Inc()
	case audit.TempUserCreate:
		m.tempUsers.WithLabelValues("create").Inc()
	case audit.TempUserDrop:
		m.tempUsers.WithLabelValues("drop").Inc()
	case audit.OAuthCode, audit.OAuthToken, audit.OAuthTokenFailed, audit.OAuthRevoke, audit.MailLogin, audit.MailLoginFailed:
		m.webmail.WithLabelValues(e.Event).Inc()
	}
}

// InstrumentStore wraps a session store so that each operation's latency is
// observed.
func (m *Metrics) InstrumentStore(s store.Sessions) store.Sessions {
	if m == nil {
		return s
	}
	return &instrumented{Sessions: s, m: m}
}

type instrumented struct {
	store.Sessions
	m *Metrics
}

// Unwrap returns the instrumented store.
func (s *instrumented) Unwrap() store.Sessions { return s.Sessions }

func (s *instrumented) observe(op string, start time.Time) {
	s.m.storeDuration.WithLabelValues(op).Observe(time.Since(start).Seconds())
}

func (s *instrumented) Create(ctx context.Context, r store.Session) error {
	defer s.observe("create", time.Now())
	return s.Sessions.Create(ctx, r)
}

func (s *instrumented) Get(ctx context.Context, id string) (store.Session, error) {
	defer s.observe("get", time.Now())
	return s.Sessions.Get(ctx, id)
}

func (s *instrumented) ByLoginHash(ctx context.Context, h []byte) (store.Session, error) {
	defer s.observe("by_login_hash", time.Now())
	return s.Sessions.ByLoginHash(ctx, h)
}

func (s *instrumented) ByCookieHash(ctx context.Context, h []byte) (store.Session, error) {
	defer s.observe("by_cookie_hash", time.Now())
	return s.Sessions.ByCookieHash(ctx, h)
}

func (s *instrumented) Consume(ctx context.Context, id string, cookieHash []byte, now, expires time.Time) (store.Session, error) {
	defer s.observe("consume", time.Now())
	return s.Sessions.Consume(ctx, id, cookieHash, now, expires)
}

func (s *instrumented) Touch(ctx context.Context, id string, now, expires time.Time) error {
	defer s.observe("touch", time.Now())
	return s.Sessions.Touch(ctx, id, now, expires)
}

func (s *instrumented) MarkTempCreated(ctx context.Context, id string) (bool, error) {
	defer s.observe("mark_temp_created", time.Now())
	return s.Sessions.MarkTempCreated(ctx, id)
}

func (s *instrumented) Delete(ctx context.Context, id string) (store.Session, error) {
	defer s.observe("delete", time.Now())
	return s.Sessions.Delete(ctx, id)
}

func (s *instrumented) DeleteByAccount(ctx context.Context, account, user string) ([]store.Session, error) {
	defer s.observe("delete_by_account", time.Now())
	return s.Sessions.DeleteByAccount(ctx, account, user)
}

func (s *instrumented) List(ctx context.Context, account string) ([]store.Session, error) {
	defer s.observe("list", time.Now())
	return s.Sessions.List(ctx, account)
}

func (s *instrumented) Sweep(ctx context.Context, now time.Time, limit int) ([]store.Session, error) {
	defer s.observe("sweep", time.Now())
	return s.Sessions.Sweep(ctx, now, limit)
}
