package config_test

import (
	"crypto/sha256"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/config"
)

// load parses flags as `uapid serve` would and loads the configuration with
// env as the environment.
func load(t *testing.T, flags []string, env map[string]string) (*config.Config, error) {
	t.Helper()
	fs, v := config.FlagSet("test", io.Discard)
	if err := fs.Parse(flags); err != nil {
		t.Fatalf("parse %q: %v", flags, err)
	}
	return config.Load(v, func(k string) string { return env[k] })
}

// writeFile writes content into a new file in a temporary directory.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaults(t *testing.T) {
	c, err := load(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"data", c.DataDir, "./uapid-data"},
		{"cpanel-addr", c.CPanelAddr, config.AddrOpt(":2083")},
		{"webmail-addr", c.WebmailAddr, config.AddrOpt(":2096")},
		{"whm-addr", c.WHMAddr, config.AddrOpt(":2087")},
		{"cpanel-plain-addr", c.CPanelPlainAddr.Enabled(), false},
		{"webmail-plain-addr", c.WebmailPlainAddr.Enabled(), false},
		{"whm-plain-addr", c.WHMPlainAddr.Enabled(), false},
		{"metrics-addr", c.MetricsAddr.Enabled(), false},
		{"login-ttl", c.LoginTTL, 300 * time.Second},
		{"idle-timeout", c.IdleTimeout, 15 * time.Minute},
		{"max-age", c.MaxAge, 24 * time.Hour},
		{"ip-validation", c.IPValidation, config.IPStrict},
		{"trusted-proxies", len(c.TrustedProxies), 0},
		{"locales", c.Locales, strings.Fields("ar cs da de el en es es_419 es_es fi fil fr he hu id it ja ko ms nb nl pl pt pt_br ro ru sv th tr uk vi zh zh_tw")},
		{"log-level", c.LogLevel, "info"},
		{"log-format", c.LogFormat, "text"},
		{"max-body", c.MaxBodyBytes, int64(1048576)},
		{"dev", c.Dev, false},
		{"tls-cert", c.TLSCert, ""},
		{"store", c.Store, ""},
		{"session-store", c.SessionStore, ""},
		{"webmail-hostname", c.WebmailHostname, ""},
		{"webmail-redirect", c.WebmailRedirect, ""},
		{"config file", c.ConfigFile, ""},
		{"public ports", len(c.PublicPorts), 0},
	}
	for _, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("default %s = %#v, want %#v", ch.name, ch.got, ch.want)
		}
	}
	if c.Hostname == "" {
		t.Error("default hostname is empty, want the machine name")
	}
	if !reflect.DeepEqual(c.Locales, config.DefaultLocales) {
		t.Errorf("Locales = %v, want DefaultLocales", c.Locales)
	}
	kind, loc, err := c.StoreKind()
	if err != nil || kind != config.KindSQLite || loc != filepath.Join("uapid-data", "uapid.db") {
		t.Errorf("StoreKind() = %q, %q, %v; want sqlite in the data directory", kind, loc, err)
	}
}

func TestPrecedence(t *testing.T) {
	file := writeFile(t, "uapid.yaml", `
data: /from/file
hostname: file.example
login-ttl: 100
idle-timeout: 5m
cpanel-addr: 127.0.0.1:1001
trusted-proxies: [10.0.0.0/8, 192.168.1.1]
locales: [en, de]
dev: true
`)
	tests := []struct {
		name  string
		flags []string
		env   map[string]string
		check func(t *testing.T, c *config.Config)
	}{
		{"default only", nil, nil, func(t *testing.T, c *config.Config) {
			if c.DataDir != "./uapid-data" || c.LoginTTL != 300*time.Second {
				t.Errorf("got data %q, login-ttl %s", c.DataDir, c.LoginTTL)
			}
		}},
		{"file over default", []string{"--config", file}, nil, func(t *testing.T, c *config.Config) {
			if c.ConfigFile != file {
				t.Errorf("ConfigFile = %q", c.ConfigFile)
			}
			if c.DataDir != "/from/file" || c.Hostname != "file.example" || c.CPanelAddr != "127.0.0.1:1001" {
				t.Errorf("got data %q hostname %q cpanel %q", c.DataDir, c.Hostname, c.CPanelAddr)
			}
			if c.LoginTTL != 100*time.Second || c.IdleTimeout != 5*time.Minute || c.MaxAge != 24*time.Hour {
				t.Errorf("lifetimes %s %s %s", c.LoginTTL, c.IdleTimeout, c.MaxAge)
			}
			want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.1/32")}
			if !reflect.DeepEqual(c.TrustedProxies, want) {
				t.Errorf("TrustedProxies = %v", c.TrustedProxies)
			}
			if !reflect.DeepEqual(c.Locales, []string{"en", "de"}) || !c.Dev {
				t.Errorf("locales %v dev %t", c.Locales, c.Dev)
			}
		}},
		{"config file from UAPID_CONFIG", nil, map[string]string{"UAPID_CONFIG": file}, func(t *testing.T, c *config.Config) {
			if c.DataDir != "/from/file" || c.ConfigFile != file {
				t.Errorf("data %q config %q", c.DataDir, c.ConfigFile)
			}
		}},
		{"env over file", []string{"--config", file}, map[string]string{"UAPID_DATA": "/from/env", "UAPID_LOGIN_TTL": "60s", "UAPID_CPANEL_ADDR": "off"}, func(t *testing.T, c *config.Config) {
			if c.DataDir != "/from/env" || c.LoginTTL != time.Minute || c.CPanelAddr.Enabled() {
				t.Errorf("data %q login-ttl %s cpanel %q", c.DataDir, c.LoginTTL, c.CPanelAddr)
			}
			if c.Hostname != "file.example" {
				t.Errorf("hostname %q, want the file's", c.Hostname)
			}
		}},
		{"empty env is unset", []string{"--config", file}, map[string]string{"UAPID_DATA": ""}, func(t *testing.T, c *config.Config) {
			if c.DataDir != "/from/file" {
				t.Errorf("data %q", c.DataDir)
			}
		}},
		{"flag over env and file", []string{"--config", file, "--data", "/from/flag", "--login-ttl=2m", "--dev=false"},
			map[string]string{"UAPID_DATA": "/from/env", "UAPID_LOGIN_TTL": "60s"}, func(t *testing.T, c *config.Config) {
				if c.DataDir != "/from/flag" || c.LoginTTL != 2*time.Minute || c.Dev {
					t.Errorf("data %q login-ttl %s dev %t", c.DataDir, c.LoginTTL, c.Dev)
				}
				if c.IdleTimeout != 5*time.Minute {
					t.Errorf("idle %s, want the file's", c.IdleTimeout)
				}
			}},
		{"flag --config over UAPID_CONFIG", []string{"--config", file}, map[string]string{"UAPID_CONFIG": "/nonexistent/uapid.yaml"}, func(t *testing.T, c *config.Config) {
			if c.ConfigFile != file {
				t.Errorf("ConfigFile = %q", c.ConfigFile)
			}
		}},
		{"env over default", nil, map[string]string{"UAPID_IP_VALIDATION": "loose", "UAPID_LOCALES": "en, fr ,", "UAPID_PUBLIC_PORT_CPANELD": "443", "UAPID_MAX_BODY": "2048"}, func(t *testing.T, c *config.Config) {
			if c.IPValidation != config.IPLoose || !reflect.DeepEqual(c.Locales, []string{"en", "fr"}) || c.PublicPorts["cpaneld"] != 443 || c.MaxBodyBytes != 2048 {
				t.Errorf("ip %q locales %q ports %v max-body %d", c.IPValidation, c.Locales, c.PublicPorts, c.MaxBodyBytes)
			}
		}},
		{"dev bool flag", []string{"--dev"}, nil, func(t *testing.T, c *config.Config) {
			if !c.Dev {
				t.Error("dev not set")
			}
			if c.Hostname != config.DevHost || c.HostnameSet {
				t.Errorf("hostname %q (set %t), want %q, a name that resolves here, by default under --dev", c.Hostname, c.HostnameSet, config.DevHost)
			}
		}},
		{"dev with hostname", []string{"--dev", "--hostname", "panel.example"}, nil, func(t *testing.T, c *config.Config) {
			if c.Hostname != "panel.example" || !c.HostnameSet {
				t.Errorf("hostname %q (set %t), want the flag's", c.Hostname, c.HostnameSet)
			}
		}},
		{"store and session store", []string{"--store", "sqlite:///tmp/x.db", "--session-store", "redis://127.0.0.1:6379/0"}, nil, func(t *testing.T, c *config.Config) {
			kind, loc, err := c.StoreKind()
			if err != nil || kind != config.KindSQLite || loc != "/tmp/x.db" {
				t.Errorf("StoreKind() = %q, %q, %v", kind, loc, err)
			}
		}},
		{"durations as bare seconds and listener off", []string{"--login-ttl", "30", "--whm-addr", "off", "--metrics-addr", "127.0.0.1:0", "--cpanel-plain-addr", "[::1]:0"}, nil, func(t *testing.T, c *config.Config) {
			if c.LoginTTL != 30*time.Second || c.WHMAddr.Enabled() || c.MetricsAddr != "127.0.0.1:0" || c.CPanelPlainAddr != "[::1]:0" {
				t.Errorf("login-ttl %s whm %q metrics %q plain %q", c.LoginTTL, c.WHMAddr, c.MetricsAddr, c.CPanelPlainAddr)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := load(t, tc.flags, tc.env)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

func TestBadConfiguration(t *testing.T) {
	dir := t.TempDir()
	certPEM := writeFile(t, "cert.pem", "not really a certificate")
	unreadableDir := filepath.Join(dir, "missing")
	shortSecret := writeFile(t, "short.secret", "too-short\n")
	goodSecret := writeFile(t, "good.secret", "Pma-secret-0123456789\n")
	tests := []struct {
		name  string
		flags []string
		env   map[string]string
		file  string // config file content; written and passed as --config
		want  []string
		never []string // must not appear (secrets)
	}{
		{name: "port too large", flags: []string{"--cpanel-addr", ":99999"}, want: []string{"flag --cpanel-addr", ":99999"}},
		{name: "port not a number", flags: []string{"--webmail-addr", "abc"}, want: []string{"flag --webmail-addr", "abc"}},
		{name: "port letters after host", flags: []string{"--whm-addr", "1.2.3.4:x"}, want: []string{"flag --whm-addr", "1.2.3.4:x"}},
		{name: "port from env", env: map[string]string{"UAPID_METRICS_ADDR": ":65536"}, want: []string{"environment variable UAPID_METRICS_ADDR", ":65536"}},
		{name: "port from file", file: "cpanel-plain-addr: \":-1\"\n", want: []string{"config file", "cpanel-plain-addr", ":-1"}},
		{name: "bad listen host", flags: []string{"--cpanel-addr", "exa mple:2083"}, want: []string{"flag --cpanel-addr", "host"}},
		{name: "listen host is a name", flags: []string{"--webmail-addr", "example.com:2096"}, want: []string{"flag --webmail-addr", "host"}},
		{name: "bad hostname", flags: []string{"--hostname", "bad host/name"}, want: []string{"flag --hostname", "bad host/name"}},
		{name: "bad duration", flags: []string{"--login-ttl", "5 minutes"}, want: []string{"flag --login-ttl", "5 minutes"}},
		{name: "bad duration env", env: map[string]string{"UAPID_MAX_AGE": "1d"}, want: []string{"environment variable UAPID_MAX_AGE", "1d"}},
		{name: "duration overflow in seconds", flags: []string{"--login-ttl", "18446744074"}, want: []string{"flag --login-ttl", "18446744074"}},
		{name: "negative duration", flags: []string{"--idle-timeout", "-5m"}, want: []string{"flag --idle-timeout", "-5m", "positive"}},
		{name: "zero duration", flags: []string{"--login-ttl", "0"}, want: []string{"flag --login-ttl", "positive"}},
		{name: "zero duration with unit", file: "max-age: 0s\n", want: []string{"config file", "max-age", "positive"}},
		{name: "idle longer than max-age", flags: []string{"--idle-timeout", "2h", "--max-age", "1h"}, want: []string{"--idle-timeout", "--max-age", "flag --idle-timeout", "flag --max-age"}},
		{name: "idle longer than default max-age", env: map[string]string{"UAPID_IDLE_TIMEOUT": "25h"}, want: []string{"--idle-timeout", "--max-age", "environment variable UAPID_IDLE_TIMEOUT", "default"}},
		{name: "resource server without file", flags: []string{"--resource-servers", "dovecot"}, want: []string{"flag --resource-servers", "NAME:SECRET_FILE"}},
		{name: "resource server bad name", flags: []string{"--resource-servers", "Dove Cot:" + goodSecret}, want: []string{"flag --resource-servers", "Dove Cot"}},
		{name: "resource server twice", flags: []string{"--resource-servers", "pma:" + goodSecret + ",pma:" + goodSecret}, want: []string{"flag --resource-servers", "twice"}},
		{name: "resource server missing file", flags: []string{"--resource-servers", "pma:" + unreadableDir + "/s"}, want: []string{"flag --resource-servers", "cannot read"}},
		{name: "resource server short secret", flags: []string{"--resource-servers", "pma:" + shortSecret}, want: []string{"flag --resource-servers", "16 characters"}, never: []string{"too-short"}},
		{name: "oauth client without uri", flags: []string{"--oauth-clients", "roundcube:" + goodSecret}, want: []string{"flag --oauth-clients", "ID:SECRET_FILE:REDIRECT_URI"}},
		{name: "oauth client bad id", flags: []string{"--oauth-clients", "round cube:" + goodSecret + ":https://m.example/cb"}, want: []string{"flag --oauth-clients", "round cube"}},
		{name: "oauth client twice", flags: []string{"--oauth-clients", "rc:" + goodSecret + ":https://m.example/cb,rc:" + goodSecret + ":https://m.example/cb"}, want: []string{"flag --oauth-clients", "twice"}},
		{name: "oauth client relative uri", flags: []string{"--oauth-clients", "rc:" + goodSecret + ":/index.php/login/oauth"}, want: []string{"flag --oauth-clients", "absolute"}},
		{name: "oauth client fragment", flags: []string{"--oauth-clients", "rc:" + goodSecret + ":https://m.example/cb#x"}, want: []string{"flag --oauth-clients", "fragment"}},
		{name: "oauth client userinfo", flags: []string{"--oauth-clients", "rc:" + goodSecret + ":https://u@m.example/cb"}, want: []string{"flag --oauth-clients", "user information"}},
		{name: "oauth client plain http", flags: []string{"--oauth-clients", "rc:" + goodSecret + ":http://m.example/cb"}, want: []string{"flag --oauth-clients", "https"}},
		{name: "oauth client other scheme", flags: []string{"--oauth-clients", "rc:" + goodSecret + ":ftp://m.example/cb"}, want: []string{"flag --oauth-clients", "http(s)"}},
		{name: "oauth client short secret", env: map[string]string{"UAPID_OAUTH_CLIENTS": "rc:" + shortSecret + ":https://m.example/cb"}, want: []string{"environment variable UAPID_OAUTH_CLIENTS", "16 characters"}, never: []string{"too-short"}},
		{name: "oauth client missing file", file: "oauth-clients: [\"rc:" + unreadableDir + "/s:https://m.example/cb\"]\n", want: []string{"config file", "oauth-clients", "cannot read"}},
		{name: "phpmyadmin-url relative", flags: []string{"--phpmyadmin-url", "/phpmyadmin/"}, want: []string{"flag --phpmyadmin-url", "/phpmyadmin/", "absolute"}},
		{name: "phpmyadmin-url other scheme", env: map[string]string{"UAPID_PHPMYADMIN_URL": "ftp://db.example/"}, want: []string{"environment variable UAPID_PHPMYADMIN_URL", "absolute"}},
		{name: "phpmyadmin-url with user", flags: []string{"--phpmyadmin-url", "https://u:p@db.example/"}, want: []string{"flag --phpmyadmin-url", "user information"}},
		{name: "phpmyadmin-url without mysql-dsn", flags: []string{"--phpmyadmin-url", "https://db.example/phpmyadmin/", "--resource-servers", "phpmyadmin:" + goodSecret}, want: []string{"flag --phpmyadmin-url", "--mysql-dsn"}},
		{name: "phpmyadmin-url without its resource server", flags: []string{"--phpmyadmin-url", "https://db.example/phpmyadmin/", "--mysql-dsn", "root@tcp(127.0.0.1:3306)/", "--resource-servers", "pma:" + goodSecret}, want: []string{"flag --phpmyadmin-url", "resource server phpmyadmin", "phpmyadmin:SECRET_FILE"}},
		{name: "bad ip-validation", flags: []string{"--ip-validation", "Strict"}, want: []string{"flag --ip-validation", "Strict"}},
		{name: "bad trusted proxy", flags: []string{"--trusted-proxies", "10.0.0.0/8,10.0.0.0/33"}, want: []string{"flag --trusted-proxies", "10.0.0.0/33"}},
		{name: "bad trusted proxy env", env: map[string]string{"UAPID_TRUSTED_PROXIES": "proxy.example"}, want: []string{"environment variable UAPID_TRUSTED_PROXIES", "proxy.example"}},
		{name: "unknown config key", file: "data: /x\ncpanel_addr: :1\n", want: []string{"config file", "cpanel_addr"}},
		{name: "config file not YAML", file: "data: [unclosed\n", want: []string{"config file", "flag --config"}},
		{name: "config file plain text", file: "this is not a config file\n", want: []string{"config file", "flag --config"}},
		{name: "config file a list", file: "- data\n- /x\n", want: []string{"config file", "flag --config"}},
		{name: "config file duplicate key", file: "data: /x\ndata: /y\n", want: []string{"config file", "data"}},
		{name: "config file nested value", file: "data:\n  a: b\n", want: []string{"config file", "data"}},
		{name: "config file unreadable", flags: []string{"--config", filepath.Join(unreadableDir, "uapid.yaml")}, want: []string{"config file", "flag --config", "uapid.yaml"}},
		{name: "config file unreadable env", env: map[string]string{"UAPID_CONFIG": filepath.Join(unreadableDir, "u.yaml")}, want: []string{"config file", "UAPID_CONFIG", "u.yaml"}},
		{name: "tls-cert without tls-key", flags: []string{"--tls-cert", certPEM}, want: []string{"--tls-cert", "--tls-key", "flag --tls-cert"}},
		{name: "tls-key without tls-cert", env: map[string]string{"UAPID_TLS_KEY": certPEM}, want: []string{"--tls-cert", "--tls-key", "environment variable UAPID_TLS_KEY"}},
		{name: "unreadable tls-cert", flags: []string{"--tls-cert", filepath.Join(unreadableDir, "c.pem"), "--tls-key", certPEM}, want: []string{"flag --tls-cert", "c.pem"}},
		{name: "unreadable tls-key", flags: []string{"--tls-cert", certPEM, "--tls-key", filepath.Join(unreadableDir, "k.pem")}, want: []string{"flag --tls-key", "k.pem"}},
		{name: "unreadable fixture", flags: []string{"--fixture", filepath.Join(unreadableDir, "f.yaml")}, want: []string{"flag --fixture", "f.yaml"}},
		{name: "unreadable fixture env", env: map[string]string{"UAPID_FIXTURE": filepath.Join(unreadableDir, "f.yaml")}, want: []string{"environment variable UAPID_FIXTURE", "f.yaml"}},
		{name: "unknown store scheme", flags: []string{"--store", "mysql://uapid:s3cretpw@db.example/uapid"}, want: []string{"flag --store", "mysql://", "db.example"}, never: []string{"s3cretpw"}},
		{name: "unknown store scheme unparsable URL", env: map[string]string{"UAPID_STORE": "mysql://uapid:s3cr%zzpw@db.example/uapid"}, want: []string{"environment variable UAPID_STORE", "mysql://"}, never: []string{"s3cr"}},
		{name: "empty sqlite path", flags: []string{"--store", "sqlite://"}, want: []string{"flag --store", "sqlite://"}},
		{name: "unknown session store", flags: []string{"--session-store", "memcached://u:hunter2@cache:11211"}, want: []string{"flag --session-store", "memcached://"}, never: []string{"hunter2"}},
		{name: "session store not a URL", file: "session-store: /tmp/sessions.db\n", want: []string{"config file", "session-store"}},
		{name: "bad log level", flags: []string{"--log-level", "verbose"}, want: []string{"flag --log-level", "verbose"}},
		{name: "bad log format", env: map[string]string{"UAPID_LOG_FORMAT": "xml"}, want: []string{"environment variable UAPID_LOG_FORMAT", "xml"}},
		{name: "webmail-redirect relative", flags: []string{"--webmail-redirect", "/roundcube/"}, want: []string{"flag --webmail-redirect", "/roundcube/"}},
		{name: "webmail-redirect other scheme", flags: []string{"--webmail-redirect", "ftp://mail.example/"}, want: []string{"flag --webmail-redirect", "ftp://mail.example/"}},
		{name: "webmail-redirect without host", flags: []string{"--webmail-redirect", "https:///x"}, want: []string{"flag --webmail-redirect"}},
		{name: "duplicate listen addresses", flags: []string{"--cpanel-addr", "127.0.0.1:8443", "--whm-addr", "127.0.0.1:8443"}, want: []string{"--cpanel-addr", "--whm-addr", "127.0.0.1:8443", "flag --cpanel-addr", "flag --whm-addr"}},
		{name: "duplicate with default", env: map[string]string{"UAPID_WEBMAIL_PLAIN_ADDR": ":2083"}, want: []string{"--cpanel-addr", "--webmail-plain-addr", ":2083", "default", "environment variable UAPID_WEBMAIL_PLAIN_ADDR"}},
		{name: "max-body not a number", flags: []string{"--max-body", "1MB"}, want: []string{"flag --max-body", "1MB"}},
		{name: "max-body too small", flags: []string{"--max-body", "10"}, want: []string{"flag --max-body", "10"}},
		{name: "max-body negative", file: "max-body: -1\n", want: []string{"config file", "max-body", "-1"}},
		{name: "bad public port", flags: []string{"--public-port-webmaild", "0"}, want: []string{"flag --public-port-webmaild"}},
		{name: "no locales", flags: []string{"--locales", " , "}, want: []string{"flag --locales"}},
		{name: "bad dev", env: map[string]string{"UAPID_DEV": "maybe"}, want: []string{"environment variable UAPID_DEV", "maybe"}},
		{name: "empty data", flags: []string{"--data", ""}, want: []string{"flag --data"}},
		{name: "bad mysql dsn", flags: []string{"--mysql-dsn", "root:pw"}, want: []string{"flag --mysql-dsn"}, never: []string{"pw"}},
		{name: "bad postgres dsn", flags: []string{"--postgres-admin-dsn", "host=x password=pgsecret"}, want: []string{"flag --postgres-admin-dsn"}, never: []string{"pgsecret"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			flags := tc.flags
			if tc.file != "" {
				flags = append([]string{"--config", writeFile(t, "uapid.yaml", tc.file)}, flags...)
			}
			var (
				c   *config.Config
				err error
			)
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("Load panicked: %v", p)
					}
				}()
				c, err = load(t, flags, tc.env)
			}()
			if err == nil {
				t.Fatalf("Load succeeded (%+v), want an error", c)
			}
			msg := err.Error()
			t.Log(msg)
			if strings.ContainsAny(msg, "\r\n") || strings.TrimSpace(msg) != msg || msg == "" {
				t.Errorf("error is not one line: %q", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not mention %q", msg, w)
				}
			}
			for _, n := range tc.never {
				if strings.Contains(msg, n) {
					t.Errorf("error %q reveals %q", msg, n)
				}
			}
		})
	}
}

// TestGoodEdgeValues checks values at the edge of what is accepted.
func TestGoodEdgeValues(t *testing.T) {
	cert := writeFile(t, "c.pem", "x")
	key := writeFile(t, "k.pem", "x")
	fx := writeFile(t, "f.yaml", "")
	tests := []struct {
		name  string
		flags []string
	}{
		{"port 0 and 65535", []string{"--cpanel-addr", "127.0.0.1:0", "--webmail-addr", "127.0.0.1:0", "--whm-addr", "localhost:65535"}},
		{"ipv6 listener", []string{"--cpanel-addr", "[::1]:2083"}},
		{"tls pair and fixture", []string{"--tls-cert", cert, "--tls-key", key, "--fixture", fx}},
		{"idle equal to max-age", []string{"--idle-timeout", "1h", "--max-age", "1h"}},
		{"postgres store", []string{"--store", "postgres://u:p@db/uapid"}},
		{"plain path store", []string{"--store", "/var/lib/uapid/other.db"}},
		{"https redirect", []string{"--webmail-redirect", "https://mail.example/roundcube/"}},
		{"max-body minimum", []string{"--max-body", "1024"}},
		{"hostname IP", []string{"--hostname", "192.0.2.1"}},
		{"hostname name", []string{"--hostname", "server-1.example.com"}},
		{"resource servers", []string{"--resource-servers", "dovecot:" + writeFile(t, "d.secret", "Dovecot-secret-01234\n") + ", pma:" + writeFile(t, "p.secret", "Pma-secret-0123456789")}},
		{"oauth clients", []string{"--oauth-clients", "roundcube:" + writeFile(t, "rc.secret", "Roundcube-secret-0123\n") +
			":https://mail.example/index.php/login/oauth|http://127.0.0.1:8080/index.php/login/oauth|http://localhost/cb|http://[::1]:1/cb,other:" +
			writeFile(t, "o.secret", "Other-secret-01234567") + ":https://other.example/cb"}},
		{"phpmyadmin", []string{"--phpmyadmin-url", "https://db.example.com/phpmyadmin/?lang=en", "--mysql-dsn", "root@unix(/run/mysqld/mysqld.sock)/",
			"--resource-servers", "phpmyadmin:" + writeFile(t, "pma.secret", "Pma-secret-0123456789")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := load(t, tc.flags, nil); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestUsageListsEveryOption(t *testing.T) {
	var b strings.Builder
	config.Usage(&b)
	for _, name := range []string{"--data", "--cpanel-addr", "--login-ttl", "--ip-validation", "--trusted-proxies", "--store", "--session-store", "--max-body", "UAPID_DATA"} {
		if !strings.Contains(b.String(), name) {
			t.Errorf("usage lacks %s", name)
		}
	}
}

// TestOAuthClients checks what --oauth-clients keeps: ids, the secrets'
// hashes (never the secrets) and the redirect URIs, duplicates once.
func TestOAuthClients(t *testing.T) {
	secret := writeFile(t, "rc.secret", "Roundcube-secret-0123\r\nignored second line\n")
	c, err := load(t, []string{"--oauth-clients", "roundcube:" + secret + ":https://a.example/cb|https://b.example/cb|https://a.example/cb"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.OAuthClients) != 1 {
		t.Fatalf("clients %+v", c.OAuthClients)
	}
	cl := c.OAuthClients[0]
	if cl.ID != "roundcube" || cl.SecretFile != secret || cl.SecretHash != sha256.Sum256([]byte("Roundcube-secret-0123")) {
		t.Errorf("client %+v", cl)
	}
	if want := []string{"https://a.example/cb", "https://b.example/cb"}; !slices.Equal(cl.RedirectURIs, want) {
		t.Errorf("redirect URIs %q, want %q", cl.RedirectURIs, want)
	}
	if strings.Contains(fmt.Sprintf("%+v", c), "Roundcube-secret") {
		t.Error("the configuration holds the client secret")
	}
}
