// Package config is uapid's configuration: one table of options, each
// settable by a command-line flag, an environment variable (UAPID_ + the
// flag name upper-cased with '-' as '_') and a key of the YAML config file,
// in that order of precedence over the built-in default. Load validates
// everything at start and reports the first problem as one clear line.
package config

import (
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// DefaultLocales is the server's locale list unless configured otherwise.
var DefaultLocales = strings.Fields("ar cs da de el en es es_419 es_es fi fil fr he hu id it ja ko ms nb nl pl pt pt_br ro ru sv th tr uk vi zh zh_tw")

// IP validation modes for logins (SPEC §4).
const (
	IPStrict   = "strict"
	IPLoose    = "loose"
	IPDisabled = "disabled"
)

// DevHost is the host name of session URLs under --dev without --hostname:
// one that resolves on this machine, so that a browser here can open them
// (the machine's own name often does not).
const DevHost = "127.0.0.1"

// Config is the validated configuration of one uapid process.
type Config struct {
	ConfigFile string // the file read, "" if none
	DataDir    string
	Fixture    string
	Dev        bool
	Hostname   string
	// HostnameSet is true when --hostname was given (not the default).
	HostnameSet bool

	CPanelAddr, WebmailAddr, WHMAddr                AddrOpt
	CPanelPlainAddr, WebmailPlainAddr, WHMPlainAddr AddrOpt
	MetricsAddr                                     AddrOpt

	TLSCert, TLSKey string

	// Store is the directory (and, unless SessionStore is set, session)
	// store URL: "sqlite:///path/file.db" or a path, "postgres://…".
	Store        string
	SessionStore string

	// SecretKeyFile names the file holding the key (32 bytes, base64 or
	// hex) that encrypts secrets at rest in a shared store (PostgreSQL,
	// Redis); SecretKeyOldFile the previous key, used only to decrypt
	// (rotation). SecretKey and SecretKeyOld are keys given directly in the
	// environment (UAPID_SECRET_KEY, UAPID_SECRET_KEY_OLD) — never as a flag
	// or config-file key, so that no key shows in a process list or a
	// shared config file.
	SecretKeyFile, SecretKeyOldFile string
	SecretKey, SecretKeyOld         Secret

	LoginTTL    time.Duration
	IdleTimeout time.Duration
	MaxAge      time.Duration
	// SweepInterval is how often expired sessions and orphaned temporary
	// database users are removed (also once at start).
	SweepInterval time.Duration

	IPValidation   string
	TrustedProxies []netip.Prefix
	// ResourceServers are the programs that call uapid on behalf of its
	// users with a credential of their own (Dovecot checking tokens and
	// passwords, a phpMyAdmin sign-on script): name and the SHA-256 of
	// the secret read from their file.
	ResourceServers []ResourceServer
	// OAuthClients are the applications (Roundcube) that may ask uapid,
	// as an OAuth 2.0 authorization server, for a Webmail session's
	// mailbox: id, the SHA-256 of the secret read from their file, and
	// the redirect URIs they may use.
	OAuthClients []OAuthClient

	WebmailHostname string
	// Nameservers are what get_nameserver_config and createacct report
	// (--nameservers); SharedIP the address accounts are shown on
	// (--shared-ip).
	Nameservers []string
	SharedIP    string
	// WebmailRedirect, when set, is where a successful Webmail login lands
	// (e.g. a Roundcube instance) instead of uapid's own landing page.
	WebmailRedirect string
	PublicPorts     map[string]int // service -> port announced in URLs

	MySQLDSN         string
	PostgresAdminDSN string
	// PhpMyAdminURL, when set, is the address of a phpMyAdmin that signs on
	// to cPanel sessions as their temporary database user (docs/phpmyadmin.md):
	// the landing page links to it, and uapid sends the browser there with a
	// one-time ticket.
	PhpMyAdminURL string

	Locales []string

	LogLevel  string
	LogFormat string
	// AuditLog is where audit events go: "off", "stdout", "stderr" or a
	// file path.
	AuditLog string

	MaxBodyBytes int64
	// MaxConnsPerIP caps the open connections of one client address.
	MaxConnsPerIP int
	// RequestTimeout bounds how long one request may take inside uapid,
	// waiting for its stores included: a store that does not answer
	// makes the request fail with 503 when it runs out.
	RequestTimeout time.Duration
	// ReadHeaderTimeout bounds how long a client may take to send the
	// request headers (slow-loris protection).
	ReadHeaderTimeout time.Duration

	// Brute-force protection (SPEC §6).
	BruteforceAllow   []netip.Prefix
	BruteforceIPMax   int
	BruteforceUserMax int
	BruteforceWindow  time.Duration
	BruteforceBan     time.Duration
}

// AddrOpt is a listen address; empty means the listener is off.
type AddrOpt string

// Enabled reports whether the listener is configured.
func (a AddrOpt) Enabled() bool { return a != "" }

type option struct {
	name  string // flag name and config-file key
	def   string
	usage string
	set   func(c *Config, v string) error
}

func (o option) env() string {
	return "UAPID_" + strings.ToUpper(strings.ReplaceAll(o.name, "-", "_"))
}

// validHostname reports whether n looks like a DNS host name.
func validHostname(n string) bool {
	if n == "" || len(n) > 253 {
		return false
	}
	for _, l := range strings.Split(n, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

func str(dst func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *dst(c) = v; return nil }
}

func addr(dst func(*Config) *AddrOpt) func(*Config, string) error {
	return func(c *Config, v string) error {
		if v == "" || v == "off" {
			*dst(c) = ""
			return nil
		}
		host, port, err := net.SplitHostPort(v)
		if err != nil {
			return fmt.Errorf("“%s” is not a host:port address", v)
		}
		n, err := strconv.Atoi(port)
		if err != nil || n < 0 || n > 65535 {
			return fmt.Errorf("“%s” has an invalid port (0-65535)", v)
		}
		if host != "" && host != "localhost" {
			if _, err := netip.ParseAddr(host); err != nil {
				return fmt.Errorf("“%s” has an invalid host (an IP address, localhost or empty)", v)
			}
		}
		*dst(c) = AddrOpt(v)
		return nil
	}
}

func dur(dst func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			// A bare number means seconds, as in "300".
			n, err2 := strconv.ParseInt(v, 10, 64)
			if err2 != nil || n > math.MaxInt64/int64(time.Second) {
				return fmt.Errorf("“%s” is not a duration (e.g. 300s, 15m, 24h)", v)
			}
			d = time.Duration(n) * time.Second
		}
		if d <= 0 {
			return fmt.Errorf("“%s” must be positive", v)
		}
		*dst(c) = d
		return nil
	}
}

func intOpt(dst func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1_000_000 {
			return fmt.Errorf("“%s” is not a number from 1 to 1000000", v)
		}
		*dst(c) = n
		return nil
	}
}

func boolean(dst func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("“%s” is not true or false", v)
		}
		*dst(c) = b
		return nil
	}
}

func port(service string) func(*Config, string) error {
	return func(c *Config, v string) error {
		if v == "" {
			delete(c.PublicPorts, service)
			return nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("“%s” is not a port (1-65535)", v)
		}
		c.PublicPorts[service] = n
		return nil
	}
}

var options = []option{
	{"data", "./uapid-data", "data directory (SQLite store, generated certificate)", str(func(c *Config) *string { return &c.DataDir })},
	{"fixture", "", "YAML fixture loaded (idempotently) at every start", str(func(c *Config) *string { return &c.Fixture })},
	{"dev", "false", "add demo data (root, a reseller, accounts, a mailbox, tokens; new secrets at every start) and print them with ready-to-paste commands", boolean(func(c *Config) *bool { return &c.Dev })},
	{"hostname", "", "host name used in session URLs (default: this machine's name; 127.0.0.1 with --dev)", func(c *Config, v string) error {
		if v != "" && !validHost(v) {
			return fmt.Errorf("“%s” is not a host name or IP address", v)
		}
		c.Hostname = v
		return nil
	}},
	{"cpanel-addr", ":2083", "cPanel TLS listener (empty or off: disabled)", addr(func(c *Config) *AddrOpt { return &c.CPanelAddr })},
	{"webmail-addr", ":2096", "Webmail TLS listener", addr(func(c *Config) *AddrOpt { return &c.WebmailAddr })},
	{"whm-addr", ":2087", "WHM TLS listener", addr(func(c *Config) *AddrOpt { return &c.WHMAddr })},
	{"cpanel-plain-addr", "", "cPanel plain-HTTP listener (off unless set, e.g. :2082)", addr(func(c *Config) *AddrOpt { return &c.CPanelPlainAddr })},
	{"webmail-plain-addr", "", "Webmail plain-HTTP listener (e.g. :2095)", addr(func(c *Config) *AddrOpt { return &c.WebmailPlainAddr })},
	{"whm-plain-addr", "", "WHM plain-HTTP listener (e.g. :2086)", addr(func(c *Config) *AddrOpt { return &c.WHMPlainAddr })},
	{"metrics-addr", "", "admin listener for /metrics, /healthz, /readyz (off unless set)", addr(func(c *Config) *AddrOpt { return &c.MetricsAddr })},
	{"tls-cert", "", "PEM certificate chain for the TLS listeners (default: self-signed, generated once into the data directory)", str(func(c *Config) *string { return &c.TLSCert })},
	{"tls-key", "", "PEM private key for --tls-cert", str(func(c *Config) *string { return &c.TLSKey })},
	{"store", "", "directory and session store: sqlite path or URL (default: <data>/uapid.db)", str(func(c *Config) *string { return &c.Store })},
	{"session-store", "", "separate session store URL: redis://, rediss://, redis+sentinel://… or postgres://… (default: the --store)", str(func(c *Config) *string { return &c.SessionStore })},
	{"secret-key-file", "", "file with the key that encrypts secrets in a shared store (32 bytes, base64 or hex; or set UAPID_SECRET_KEY to the key)", str(func(c *Config) *string { return &c.SecretKeyFile })},
	{"secret-key-old-file", "", "file with the previous key, for decryption only while rotating (or set UAPID_SECRET_KEY_OLD)", str(func(c *Config) *string { return &c.SecretKeyOldFile })},
	{"login-ttl", "300s", "how long a created session can be used to log in", dur(func(c *Config) *time.Duration { return &c.LoginTTL })},
	{"idle-timeout", "15m", "a logged-in session ends after this long without use", dur(func(c *Config) *time.Duration { return &c.IdleTimeout })},
	{"max-age", "24h", "a logged-in session ends this long after its creation in any case", dur(func(c *Config) *time.Duration { return &c.MaxAge })},
	{"sweep-interval", "1m", "how often expired sessions and orphaned temporary database users are removed", dur(func(c *Config) *time.Duration { return &c.SweepInterval })},
	{"ip-validation", IPStrict, "login address check: strict, loose (same /24 or /64) or disabled", func(c *Config, v string) error {
		if v != IPStrict && v != IPLoose && v != IPDisabled {
			return fmt.Errorf("“%s” is not one of strict, loose, disabled", v)
		}
		c.IPValidation = v
		return nil
	}},
	{"trusted-proxies", "", "comma-separated CIDRs whose X-Forwarded-For is believed", func(c *Config, v string) error {
		p, err := parsePrefixes(v)
		c.TrustedProxies = p
		return err
	}},
	{"resource-servers", "", "comma-separated NAME:SECRET_FILE of programs that call uapid with a credential of their own (HTTP Basic NAME:secret)", func(c *Config, v string) error {
		rs, err := parseResourceServers(v)
		c.ResourceServers = rs
		return err
	}},
	{"nameservers", "", "comma-separated name servers reported by get_nameserver_config and createacct", func(c *Config, v string) error {
		c.Nameservers = nil
		for _, n := range strings.Split(v, ",") {
			n = strings.ToLower(strings.TrimSpace(n))
			if n == "" {
				continue
			}
			if !validHostname(n) {
				return fmt.Errorf("“%s” is not a host name", n)
			}
			c.Nameservers = append(c.Nameservers, n)
		}
		return nil
	}},
	{"shared-ip", "127.0.0.1", "IPv4 address reported as the accounts' (shared) IP address", func(c *Config, v string) error {
		a, err := netip.ParseAddr(v)
		if err != nil || !a.Is4() {
			return fmt.Errorf("“%s” is not an IPv4 address", v)
		}
		c.SharedIP = a.String()
		return nil
	}},
	{"oauth-clients", "", "comma-separated ID:SECRET_FILE:REDIRECT_URI[|REDIRECT_URI…] of the OAuth 2.0 clients (Roundcube) that may log a Webmail session in", func(c *Config, v string) error {
		cl, err := parseOAuthClients(v)
		c.OAuthClients = cl
		return err
	}},
	{"webmail-hostname", "", "separate host Webmail logins must go to (reported as hostname)", str(func(c *Config) *string { return &c.WebmailHostname })},
	{"webmail-redirect", "", "URL a successful Webmail login redirects to instead of the built-in landing page", func(c *Config, v string) error {
		if v != "" {
			u, err := url.Parse(v)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return fmt.Errorf("“%s” is not an absolute http(s) URL", v)
			}
		}
		c.WebmailRedirect = v
		return nil
	}},
	{"public-port-cpaneld", "", "cPanel port announced in URLs (behind a proxy)", port("cpaneld")},
	{"public-port-webmaild", "", "Webmail port announced in URLs", port("webmaild")},
	{"public-port-whostmgrd", "", "WHM port announced in URLs", port("whostmgrd")},
	{"mysql-dsn", "", "administrative MariaDB/MySQL DSN for temporary users, e.g. root@tcp(127.0.0.1:3306)/", str(func(c *Config) *string { return &c.MySQLDSN })},
	{"postgres-admin-dsn", "", "administrative PostgreSQL DSN for temporary roles", str(func(c *Config) *string { return &c.PostgresAdminDSN })},
	{"phpmyadmin-url", "", "address of a phpMyAdmin that signs on to cPanel sessions as their temporary database user (needs --mysql-dsn and the resource server phpmyadmin)", func(c *Config, v string) error {
		if v != "" {
			u, err := url.Parse(v)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Fragment != "" {
				return fmt.Errorf("“%s” is not an absolute http(s) URL without user information or fragment", v)
			}
		}
		c.PhpMyAdminURL = v
		return nil
	}},
	{"locales", strings.Join(DefaultLocales, ","), "comma-separated locales this server offers", func(c *Config, v string) error {
		c.Locales = nil
		for _, l := range strings.Split(v, ",") {
			if l = strings.TrimSpace(l); l != "" {
				c.Locales = append(c.Locales, l)
			}
		}
		if len(c.Locales) == 0 {
			return errors.New("at least one locale is required")
		}
		return nil
	}},
	{"log-level", "info", "debug, info, warn or error", func(c *Config, v string) error {
		if !slices.Contains([]string{"debug", "info", "warn", "error"}, v) {
			return fmt.Errorf("“%s” is not one of debug, info, warn, error", v)
		}
		c.LogLevel = v
		return nil
	}},
	{"log-format", "text", "text or json", func(c *Config, v string) error {
		if v != "text" && v != "json" {
			return fmt.Errorf("“%s” is not one of text, json", v)
		}
		c.LogFormat = v
		return nil
	}},
	{"max-conns-per-ip", "256", "open connections one client address may hold", intOpt(func(c *Config) *int { return &c.MaxConnsPerIP })},
	{"read-header-timeout", "10s", "time a client has to send the request headers", dur(func(c *Config) *time.Duration { return &c.ReadHeaderTimeout })},
	{"request-timeout", "15s", "longest a request may take inside uapid, waiting for its stores included (then 503)", dur(func(c *Config) *time.Duration { return &c.RequestTimeout })},
	{"bruteforce-allow", "", "comma-separated CIDRs never blocked by brute-force protection", func(c *Config, v string) error {
		p, err := parsePrefixes(v)
		c.BruteforceAllow = p
		return err
	}},
	{"bruteforce-ip-max", "30", "failed attempts tolerated per address per window", intOpt(func(c *Config) *int { return &c.BruteforceIPMax })},
	{"bruteforce-user-max", "60", "failed attempts tolerated per user per window", intOpt(func(c *Config) *int { return &c.BruteforceUserMax })},
	{"bruteforce-window", "5m", "sliding window in which failures are counted", dur(func(c *Config) *time.Duration { return &c.BruteforceWindow })},
	{"bruteforce-ban", "10m", "first block time (doubles for repeat offenders, up to 24h)", dur(func(c *Config) *time.Duration { return &c.BruteforceBan })},
	{"audit-log", "off", "audit trail of JSON lines: off, stdout, stderr or a file path (appended to)", str(func(c *Config) *string { return &c.AuditLog })},
	{"max-body", "1048576", "largest accepted request body in bytes", func(c *Config, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1024 {
			return fmt.Errorf("“%s” is not a size in bytes (at least 1024)", v)
		}
		c.MaxBodyBytes = n
		return nil
	}},
}

// validHost reports whether h is an IP address or a DNS name (letters,
// digits, '-' and '_' in dot-separated labels of 1 to 63 characters).
func validHost(h string) bool {
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	if len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// ResourceServer is one entry of --resource-servers.
type ResourceServer struct {
	Name string
	// SecretFile holds the secret (the first line, at least 16
	// characters); SecretHash is its SHA-256, read at start.
	SecretFile string
	SecretHash [32]byte
}

var resourceServerName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// parseResourceServers parses NAME:FILE,… and reads each secret.
func parseResourceServers(v string) ([]ResourceServer, error) {
	var out []ResourceServer
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, file, ok := strings.Cut(part, ":")
		if !ok || !resourceServerName.MatchString(name) || file == "" {
			return nil, fmt.Errorf("“%s” is not NAME:SECRET_FILE (a name of 1 to 32 lower-case letters, digits, “_” or “-”)", part)
		}
		for _, o := range out {
			if o.Name == name {
				return nil, fmt.Errorf("the resource server “%s” is named twice", name)
			}
		}
		h, err := readSecretFile(name, file)
		if err != nil {
			return nil, err
		}
		out = append(out, ResourceServer{Name: name, SecretFile: file, SecretHash: h})
	}
	return out, nil
}

// readSecretFile reads the secret of name from file (its first line: at
// least 16 characters, no spaces or “:”) and returns its SHA-256. The
// secret itself is never kept.
func readSecretFile(name, file string) ([32]byte, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return [32]byte{}, fmt.Errorf("cannot read the secret of “%s” from %s: %v", name, file, errors.Unwrap(err))
	}
	secret, _, _ := strings.Cut(string(data), "\n")
	secret = strings.TrimRight(secret, "\r")
	if len(secret) < 16 || strings.ContainsAny(secret, " \t:") {
		return [32]byte{}, fmt.Errorf("the secret of “%s” in %s must be one line of at least 16 characters without spaces or “:”", name, file)
	}
	return sha256.Sum256([]byte(secret)), nil
}

// OAuthClient is one entry of --oauth-clients.
type OAuthClient struct {
	ID string
	// SecretFile holds the client secret (as for resource servers);
	// SecretHash is its SHA-256, read at start.
	SecretFile string
	SecretHash [32]byte
	// RedirectURIs are the exact redirect URIs the client may use.
	RedirectURIs []string
}

var oauthClientID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// parseOAuthClients parses ID:FILE:URI[|URI…],… and reads each secret.
func parseOAuthClients(v string) ([]OAuthClient, error) {
	var out []OAuthClient
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		id, rest, ok1 := strings.Cut(part, ":")
		file, uris, ok2 := strings.Cut(rest, ":")
		if !ok1 || !ok2 || !oauthClientID.MatchString(id) || file == "" || uris == "" {
			return nil, fmt.Errorf("“%s” is not ID:SECRET_FILE:REDIRECT_URI[|REDIRECT_URI…] (an id of 1 to 64 letters, digits, “.”, “_” or “-”)", part)
		}
		for _, o := range out {
			if o.ID == id {
				return nil, fmt.Errorf("the OAuth client “%s” is named twice", id)
			}
		}
		cl := OAuthClient{ID: id, SecretFile: file}
		for _, u := range strings.Split(uris, "|") {
			if err := checkRedirectURI(u); err != nil {
				return nil, fmt.Errorf("OAuth client “%s”: redirect URI “%s” %v", id, u, err)
			}
			if !slices.Contains(cl.RedirectURIs, u) {
				cl.RedirectURIs = append(cl.RedirectURIs, u)
			}
		}
		h, err := readSecretFile(id, file)
		if err != nil {
			return nil, err
		}
		cl.SecretHash = h
		out = append(out, cl)
	}
	return out, nil
}

// checkRedirectURI checks an OAuth redirect URI (RFC 6749 §3.1.2): an
// absolute https URL (http only to a loopback host, for a Roundcube on
// this machine) without user information or fragment.
func checkRedirectURI(u string) error {
	p, err := url.Parse(u)
	switch {
	case err != nil || !p.IsAbs() || p.Host == "" || p.Opaque != "":
		return errors.New("is not an absolute URL")
	case p.User != nil:
		return errors.New("has user information")
	case p.Fragment != "" || strings.Contains(u, "#"):
		return errors.New("has a fragment")
	case p.Scheme == "https":
		return nil
	case p.Scheme == "http" && loopbackHost(p.Hostname()):
		return nil
	case p.Scheme == "http":
		return errors.New("must use https (http only to 127.0.0.1, ::1 or localhost)")
	}
	return errors.New("is not an http(s) URL")
}

func loopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.IsLoopback()
}

func parsePrefixes(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !strings.Contains(s, "/") {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, fmt.Errorf("“%s” is not an address or CIDR", s)
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("“%s” is not an address or CIDR", s)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// FlagSet returns a flag set with every option (and --config) registered,
// for the commands that take them. Values are recorded as strings; Load
// interprets them.
func FlagSet(name string, out io.Writer) (*flag.FlagSet, *Values) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	v := &Values{set: map[string]string{}}
	fs.Func("config", "YAML config file (keys are the flag names)", func(s string) error { v.set["config"] = s; return nil })
	for _, o := range options {
		name := o.name
		if o.name == "dev" {
			fs.BoolFunc(name, o.usage, func(s string) error { v.set[name] = s; return nil })
			continue
		}
		fs.Func(name, fmt.Sprintf("%s (env %s, default %q)", o.usage, o.env(), o.def), func(s string) error {
			v.set[name] = s
			return nil
		})
	}
	return fs, v
}

// Values are the option values given on a command line.
type Values struct{ set map[string]string }

// Set records a value as if given as a flag.
func (v *Values) Set(name, value string) { v.set[name] = value }

// Load builds the configuration from flags (v, may be nil), the environment
// (getenv, usually os.Getenv) and the config file named by --config or
// UAPID_CONFIG. The error is one line naming the option and its source.
func Load(v *Values, getenv func(string) string) (*Config, error) {
	if v == nil {
		v = &Values{set: map[string]string{}}
	}
	c := &Config{PublicPorts: map[string]int{}}
	file := map[string]string{}
	cfgPath, ok := v.set["config"]
	cfgSrc := "flag --config"
	if !ok {
		cfgPath, cfgSrc = getenv("UAPID_CONFIG"), "environment variable UAPID_CONFIG"
	}
	if cfgPath != "" {
		var err error
		if file, err = readFile(cfgPath); err != nil {
			return nil, fmt.Errorf("invalid %s: %v", cfgSrc, err)
		}
		c.ConfigFile = cfgPath
	}
	srcs := map[string]string{} // option name -> where its value came from
	for _, o := range options {
		val, src := o.def, "default"
		if s, ok := file[o.name]; ok {
			val, src = s, "config file "+cfgPath+" key "+o.name
		}
		if s := getenv(o.env()); s != "" {
			val, src = s, "environment variable "+o.env()
		}
		if s, ok := v.set[o.name]; ok {
			val, src = s, "flag --"+o.name
		}
		srcs[o.name] = src
		if err := o.set(c, val); err != nil {
			return nil, fmt.Errorf("invalid %s: %v", src, err)
		}
	}
	c.SecretKey, c.SecretKeyOld = Secret(getenv("UAPID_SECRET_KEY")), Secret(getenv("UAPID_SECRET_KEY_OLD"))
	if err := c.finish(srcs); err != nil {
		return nil, err
	}
	return c, nil
}

func readFile(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read config file: %v", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("config file %s: %s", path, yamlMessage(err))
	}
	var raw map[string]any
	if len(doc.Content) > 0 {
		top := doc.Content[0]
		if top.Kind != yaml.MappingNode && top.ShortTag() != "!!null" {
			return nil, fmt.Errorf("config file %s: line %d: expected a mapping of option names to values (e.g. “data: /var/lib/uapid”)", path, top.Line)
		}
		if err := top.Decode(&raw); err != nil {
			return nil, fmt.Errorf("config file %s: %s", path, yamlMessage(err))
		}
	}
	known := map[string]bool{}
	for _, o := range options {
		known[o.name] = true
	}
	out := map[string]string{}
	for k, val := range raw {
		if !known[k] {
			return nil, fmt.Errorf("config file %s: unknown key “%s” (keys are the flag names, e.g. data, cpanel-addr)", path, k)
		}
		switch x := val.(type) {
		case nil:
			out[k] = ""
		case []any:
			parts := make([]string, len(x))
			for i, e := range x {
				parts[i] = fmt.Sprint(e)
			}
			out[k] = strings.Join(parts, ",")
		case map[string]any:
			return nil, fmt.Errorf("config file %s: key “%s” must be a scalar or a list", path, k)
		default:
			out[k] = fmt.Sprint(x)
		}
	}
	return out, nil
}

// yamlMessage is err of the YAML library as one line without its "yaml: "
// prefix.
func yamlMessage(err error) string {
	msg := err.Error()
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msg = strings.Join(te.Errors, "; ")
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	return strings.Join(strings.Fields(msg), " ")
}

// finish fills derived defaults and checks the options against each other
// and the file system. srcs says where each option's value came from.
func (c *Config) finish(srcs map[string]string) error {
	if c.DataDir == "" {
		return fmt.Errorf("invalid %s: the data directory must not be empty", srcs["data"])
	}
	c.HostnameSet = c.Hostname != ""
	if c.Hostname == "" && c.Dev {
		c.Hostname = DevHost
	}
	if c.Hostname == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "localhost"
		}
		c.Hostname = h
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		given, missing := "tls-cert", "tls-key"
		if c.TLSCert == "" {
			given, missing = missing, given
		}
		return fmt.Errorf("invalid %s: --tls-cert and --tls-key must be given together (--%s is not set)", srcs[given], missing)
	}
	for _, k := range []struct {
		file, env, path string
		key             Secret
	}{{"secret-key-file", "UAPID_SECRET_KEY", c.SecretKeyFile, c.SecretKey}, {"secret-key-old-file", "UAPID_SECRET_KEY_OLD", c.SecretKeyOldFile, c.SecretKeyOld}} {
		// An empty setting (as in the sample config) does not count.
		if k.key != "" && k.path != "" {
			return fmt.Errorf("invalid environment variable %s: the key is also given by %s; give it once", k.env, srcs[k.file])
		}
	}
	if (c.SecretKeyOld != "" || c.SecretKeyOldFile != "") && c.SecretKey == "" && c.SecretKeyFile == "" {
		return errors.New("invalid keys: an old key (--secret-key-old-file or UAPID_SECRET_KEY_OLD) needs the current key (--secret-key-file or UAPID_SECRET_KEY)")
	}
	for _, f := range []struct{ name, path string }{{"tls-cert", c.TLSCert}, {"tls-key", c.TLSKey}, {"fixture", c.Fixture},
		{"secret-key-file", c.SecretKeyFile}, {"secret-key-old-file", c.SecretKeyOldFile}} {
		if f.path == "" {
			continue
		}
		fh, err := os.Open(f.path)
		if err != nil {
			return fmt.Errorf("invalid %s: cannot read %s: %v", srcs[f.name], f.path, errors.Unwrap(err))
		}
		fh.Close()
	}
	if c.IdleTimeout > c.MaxAge {
		return fmt.Errorf("invalid lifetimes: --idle-timeout %s (%s) is longer than --max-age %s (%s)",
			c.IdleTimeout, srcs["idle-timeout"], c.MaxAge, srcs["max-age"])
	}
	if c.BruteforceWindow > c.BruteforceBan {
		return fmt.Errorf("invalid brute-force settings: --bruteforce-window %s (%s) is longer than --bruteforce-ban %s (%s)",
			c.BruteforceWindow, srcs["bruteforce-window"], c.BruteforceBan, srcs["bruteforce-ban"])
	}
	if _, _, err := storeKind(c.Store, c.DataDir); err != nil {
		return fmt.Errorf("invalid %s: %v", srcs["store"], err)
	}
	if c.SessionStore != "" {
		if _, err := sessionStoreKind(c.SessionStore); err != nil {
			return fmt.Errorf("invalid %s: %v", srcs["session-store"], err)
		}
	}
	seen := map[string]string{}
	for _, l := range []struct {
		name string
		a    AddrOpt
	}{{"cpanel-addr", c.CPanelAddr}, {"webmail-addr", c.WebmailAddr}, {"whm-addr", c.WHMAddr},
		{"cpanel-plain-addr", c.CPanelPlainAddr}, {"webmail-plain-addr", c.WebmailPlainAddr}, {"whm-plain-addr", c.WHMPlainAddr}, {"metrics-addr", c.MetricsAddr}} {
		if !l.a.Enabled() {
			continue
		}
		_, p, _ := net.SplitHostPort(string(l.a))
		if p == "0" {
			continue
		}
		if other, dup := seen[string(l.a)]; dup {
			return fmt.Errorf("invalid addresses: --%s (%s) and --%s (%s) are both %s", other, srcs[other], l.name, srcs[l.name], l.a)
		}
		seen[string(l.a)] = l.name
	}
	if c.MySQLDSN != "" && !strings.Contains(c.MySQLDSN, "/") {
		return fmt.Errorf("invalid %s: expected user[:password]@tcp(host:port)/", srcs["mysql-dsn"])
	}
	if c.PostgresAdminDSN != "" && !strings.HasPrefix(c.PostgresAdminDSN, "postgres://") && !strings.HasPrefix(c.PostgresAdminDSN, "postgresql://") {
		return fmt.Errorf("invalid %s: expected a postgres:// URL", srcs["postgres-admin-dsn"])
	}
	if c.PhpMyAdminURL != "" {
		if c.MySQLDSN == "" {
			return fmt.Errorf("invalid %s: phpMyAdmin signs on as a temporary MariaDB/MySQL user, so --mysql-dsn is required", srcs["phpmyadmin-url"])
		}
		if !slices.ContainsFunc(c.ResourceServers, func(rs ResourceServer) bool { return rs.Name == "phpmyadmin" }) {
			return fmt.Errorf("invalid %s: the sign-on script authenticates as the resource server phpmyadmin, so --resource-servers needs phpmyadmin:SECRET_FILE", srcs["phpmyadmin-url"])
		}
	}
	return nil
}

// Secret is configuration text that must never be shown: it prints as
// "[redacted]" (also inside a printed Config).
type Secret string

// String implements fmt.Stringer.
func (Secret) String() string { return "[redacted]" }

// GoString implements fmt.GoStringer.
func (Secret) GoString() string { return `"[redacted]"` }

// Store kinds.
const (
	KindSQLite   = "sqlite"
	KindPostgres = "postgres"
	KindRedis    = "redis"
)

// StoreKind returns the kind of --store and its location (a file path for
// SQLite, the URL otherwise).
func (c *Config) StoreKind() (kind, location string, err error) {
	kind, location, err = storeKind(c.Store, c.DataDir)
	if err != nil {
		return "", "", fmt.Errorf("invalid --store: %v", err)
	}
	return kind, location, nil
}

func storeKind(s, dataDir string) (kind, location string, err error) {
	switch {
	case s == "":
		return KindSQLite, filepath.Join(dataDir, "uapid.db"), nil
	case strings.HasPrefix(s, "sqlite://"):
		p := strings.TrimPrefix(s, "sqlite://")
		if p == "" {
			return "", "", fmt.Errorf("“%s”: sqlite:// needs a path", s)
		}
		return KindSQLite, p, nil
	case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
		return KindPostgres, s, nil
	case strings.Contains(s, "://"):
		return "", "", fmt.Errorf("“%s”: unknown store (use a SQLite path, sqlite://PATH or postgres://…)", redactURL(s))
	default:
		return KindSQLite, s, nil
	}
}

// SessionStoreKind returns the kind of --session-store (KindRedis or
// KindPostgres), or "" when sessions live in the --store.
func (c *Config) SessionStoreKind() (string, error) {
	if c.SessionStore == "" {
		return "", nil
	}
	k, err := sessionStoreKind(c.SessionStore)
	if err != nil {
		return "", fmt.Errorf("invalid --session-store: %v", err)
	}
	return k, nil
}

func sessionStoreKind(s string) (string, error) {
	switch {
	case strings.HasPrefix(s, "redis://"), strings.HasPrefix(s, "rediss://"),
		strings.HasPrefix(s, "redis+sentinel://"), strings.HasPrefix(s, "rediss+sentinel://"), strings.HasPrefix(s, "unix://"):
		return KindRedis, nil
	case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
		return KindPostgres, nil
	}
	return "", fmt.Errorf("“%s”: unknown store (use redis://… or postgres://…)", redactURL(s))
}

// redactURL hides a password in a URL before it is shown, also in a URL
// that does not parse.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err == nil {
		if u.User == nil {
			return s
		}
		return u.Redacted()
	}
	// Unparsable: hide everything between "://" and the last '@' of the
	// authority.
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return s
	}
	auth := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		auth = rest[:i]
	}
	if i := strings.LastIndex(auth, "@"); i >= 0 {
		user, _, _ := strings.Cut(auth[:i], ":")
		return scheme + "://" + user + ":xxxxx" + rest[i:]
	}
	return s
}

// Usage writes the option reference (used by --help and the README).
func Usage(w io.Writer) {
	for _, o := range options {
		fmt.Fprintf(w, "  --%s (%s, default %q)\n      %s\n", o.name, o.env(), o.def, o.usage)
	}
}
