package config_test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/uapid/uapid/internal/config"
)

func loadWith(t *testing.T, env map[string]string, args ...string) (*config.Config, error) {
	t.Helper()
	fs, vals := config.FlagSet("test", io.Discard)
	if err := fs.Parse(append([]string{"--data", t.TempDir()}, args...)); err != nil {
		t.Fatal(err)
	}
	return config.Load(vals, func(k string) string { return env[k] })
}

func TestSecretKeyOptions(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "secret.key")
	os.WriteFile(keyFile, []byte("x\n"), 0o600)
	missing := filepath.Join(dir, "missing.key")

	c, err := loadWith(t, map[string]string{"UAPID_SECRET_KEY": "k1", "UAPID_SECRET_KEY_OLD": "k0"})
	if err != nil || c.SecretKey != "k1" || c.SecretKeyOld != "k0" {
		t.Fatalf("keys from the environment: %v", err)
	}
	if s := fmt.Sprintf("%v %+v %#v", c, c, c); strings.Contains(s, "k1") || strings.Contains(s, "k0") {
		t.Errorf("a printed Config shows the keys: %s", s)
	}
	c, err = loadWith(t, nil, "--secret-key-file", keyFile, "--secret-key-old-file", keyFile)
	if err != nil || c.SecretKeyFile != keyFile || c.SecretKeyOldFile != keyFile {
		t.Fatalf("key files: %+v, %v", c, err)
	}
	c, err = loadWith(t, map[string]string{"UAPID_SECRET_KEY_FILE": keyFile})
	if err != nil || c.SecretKeyFile != keyFile {
		t.Fatalf("key file from UAPID_SECRET_KEY_FILE: %v", err)
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want []string
	}{
		{"key twice", map[string]string{"UAPID_SECRET_KEY": "k1"}, []string{"--secret-key-file", keyFile}, []string{"UAPID_SECRET_KEY", "flag --secret-key-file"}},
		{"old key twice", map[string]string{"UAPID_SECRET_KEY": "k1", "UAPID_SECRET_KEY_OLD": "k0"}, []string{"--secret-key-old-file", keyFile}, []string{"UAPID_SECRET_KEY_OLD", "flag --secret-key-old-file"}},
		{"old key alone", map[string]string{"UAPID_SECRET_KEY_OLD": "k0"}, nil, []string{"old key", "needs the current key"}},
		{"old key file alone", nil, []string{"--secret-key-old-file", keyFile}, []string{"old key", "needs the current key"}},
		{"missing key file", nil, []string{"--secret-key-file", missing}, []string{"flag --secret-key-file", "missing.key"}},
	} {
		_, err := loadWith(t, tc.env, tc.args...)
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not mention %q", tc.name, err, w)
			}
		}
		if strings.Contains(err.Error(), "k1") || strings.Contains(err.Error(), "k0") {
			t.Errorf("%s: %q shows a key", tc.name, err)
		}
	}
}

func TestSessionStoreKinds(t *testing.T) {
	for url, want := range map[string]string{
		"redis://127.0.0.1:6379/0":                          config.KindRedis,
		"rediss://cache.example:6380/0":                     config.KindRedis,
		"redis+sentinel://s1:26379/0?master_name=m":         config.KindRedis,
		"rediss+sentinel://s1:26379/0?master_name=m":        config.KindRedis,
		"postgres://uapid@db.example/uapid?sslmode=require": config.KindPostgres,
	} {
		c, err := loadWith(t, nil, "--session-store", url)
		if err != nil {
			t.Errorf("%s: %v", url, err)
			continue
		}
		if k, err := c.SessionStoreKind(); k != want || err != nil {
			t.Errorf("%s: kind %q, %v; want %q", url, k, err, want)
		}
	}
	c, _ := loadWith(t, nil)
	if k, err := c.SessionStoreKind(); k != "" || err != nil {
		t.Errorf("no session store: %q, %v", k, err)
	}
}
