package redisstore_test

import (
	"strings"
	"testing"
	"time"

	"github.com/uapid/uapid/internal/store/redisstore"
)

func TestParseURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url      string
		sentinel bool
		addr     string
		prefix   string
		grace    time.Duration
		tls      bool
	}{
		{"redis://127.0.0.1:6379/0", false, "127.0.0.1:6379", "", 0, false},
		{"redis://:pw@h:1/2?prefix=app1:&expiry_grace=30m&dial_timeout=3s", false, "h:1", "app1:", 30 * time.Minute, false},
		{"rediss://u:pw@cache.example:6380/0", false, "cache.example:6380", "", 0, true},
		{"unix:///run/redis.sock?db=1", false, "/run/redis.sock", "", 0, false},
		{"redis+sentinel://s1:26379/0?master_name=mymaster&addr=s2:26379&password=pw&prefix=x:", true, "s1:26379,s2:26379", "x:", 0, false},
		{"rediss+sentinel://su:spw@s1:26379?master_name=m", true, "s1:26379", "", 0, true},
	} {
		c, err := redisstore.ParseURL(tc.url)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", tc.url, err)
			continue
		}
		var addr string
		var tls bool
		if tc.sentinel {
			if c.Failover == nil || c.Single != nil {
				t.Errorf("%q: not a Sentinel configuration", tc.url)
				continue
			}
			addr, tls = strings.Join(c.Failover.SentinelAddrs, ","), c.Failover.TLSConfig != nil
		} else {
			if c.Single == nil {
				t.Errorf("%q: not a single-server configuration", tc.url)
				continue
			}
			addr, tls = c.Single.Addr, c.Single.TLSConfig != nil
		}
		if addr != tc.addr || c.Prefix != tc.prefix || c.Grace != tc.grace || tls != tc.tls {
			t.Errorf("%q: addr %s prefix %q grace %v tls %v", tc.url, addr, c.Prefix, c.Grace, tls)
		}
	}
	if c, _ := redisstore.ParseURL("redis+sentinel://s1:26379?master_name=m&password=pw"); c.Failover == nil || c.Failover.Password != "pw" {
		t.Errorf("Sentinel: the password parameter is the servers' password")
	}
	for _, bad := range []string{
		"http://h:1",
		"redis+sentinel://s1:26379/0",               // no master_name
		"redis://:s3cr3tpw@h:1/0?prefix=",           // empty prefix
		"redis://:s3cr3tpw@h:1/0?expiry_grace=soon", // bad duration
		"redis://:s3cr3tpw@h:1/0?expiry_grace=10ms", // too short
		"redis://:s3cr3tpw@h:1/0?bogus=1",           // unknown go-redis option
		"redis://:s3cr3tpw@h:1/notanumber",          // bad db
		"redis+sentinel://h:1/0?master_name=m&password=s3cr3tpw&bogus=1",
		"redis://:s3cr3tpw@[::1",
	} {
		_, err := redisstore.ParseURL(bad)
		if err == nil {
			t.Errorf("ParseURL(%q) succeeded", bad)
			continue
		}
		if strings.Contains(err.Error(), "s3cr3tpw") {
			t.Errorf("ParseURL(%q) error shows the password: %v", bad, err)
		}
	}
}

// TestParseURLTimeouts: the client defaults that keep a request from
// hanging on a Redis that does not answer, unless the URL sets them.
func TestParseURLTimeouts(t *testing.T) {
	t.Parallel()
	c, err := redisstore.ParseURL("redis://h:1/0")
	if err != nil {
		t.Fatal(err)
	}
	o := c.Single
	if o.DialTimeout != redisstore.DefaultDialTimeout || o.ReadTimeout != redisstore.DefaultIOTimeout ||
		o.WriteTimeout != redisstore.DefaultIOTimeout || o.PoolTimeout != redisstore.DefaultPoolTimeout ||
		o.MaxRetries != -1 || o.DialerRetries != 1 || !o.ContextTimeoutEnabled {
		t.Errorf("defaults: dial %v read %v write %v pool %v retries %d dial attempts %d context %v",
			o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout, o.MaxRetries, o.DialerRetries, o.ContextTimeoutEnabled)
	}
	c, err = redisstore.ParseURL("redis://h:1/0?dial_timeout=7s&read_timeout=8s&write_timeout=9s&pool_timeout=10s&max_retries=2")
	if err != nil {
		t.Fatal(err)
	}
	o = c.Single
	if o.DialTimeout != 7*time.Second || o.ReadTimeout != 8*time.Second || o.WriteTimeout != 9*time.Second ||
		o.PoolTimeout != 10*time.Second || o.MaxRetries != 2 {
		t.Errorf("URL settings not kept: dial %v read %v write %v pool %v retries %d",
			o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout, o.MaxRetries)
	}
	c, err = redisstore.ParseURL("redis+sentinel://s1:26379?master_name=m")
	if err != nil {
		t.Fatal(err)
	}
	f := c.Failover
	if f.DialTimeout != redisstore.DefaultDialTimeout || f.ReadTimeout != redisstore.DefaultIOTimeout ||
		f.PoolTimeout != redisstore.DefaultPoolTimeout || f.MaxRetries != -1 || f.DialerRetries != 1 || !f.ContextTimeoutEnabled {
		t.Errorf("Sentinel defaults: dial %v read %v pool %v retries %d dial attempts %d context %v",
			f.DialTimeout, f.ReadTimeout, f.PoolTimeout, f.MaxRetries, f.DialerRetries, f.ContextTimeoutEnabled)
	}
}
