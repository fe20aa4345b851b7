// Package pmaserver runs Debian's phpMyAdmin behind uapid's sign-on in a
// directory of its own, with PHP's built-in web server on a free loopback
// port: for the tests and the local demo (internal/tools/pmademo), never
// for production (docs/phpmyadmin.md describes that).
//
// It changes nothing outside its directory. phpMyAdmin reads its
// configuration from a path fixed in Debian's package
// (/etc/phpmyadmin/config.inc.php), so the directory holds a root of its
// own: links to the files of /usr/share/phpmyadmin, except the two entry
// scripts (which define phpMyAdmin's ROOT_PATH as this root before they
// run Debian's) and libraries/vendor_config.php (which names this
// directory's configuration, temporary and cache directories). The
// configuration includes packaging/phpmyadmin/uapid.inc.php as it ships,
// with only its paths replaced, and the sign-on script is the one that
// ships (PHP's built-in server runs it as its router, as the demo in
// docs/phpmyadmin.md does).
package pmaserver

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/uapid/uapid/packaging/phpmyadmin"
)

// DebianRoot is where Debian's phpmyadmin package installs phpMyAdmin.
const DebianRoot = "/usr/share/phpmyadmin"

// ErrNotInstalled: Debian's phpMyAdmin is not installed.
var ErrNotInstalled = errors.New("phpMyAdmin is not installed in " + DebianRoot + " (Debian: apt-get install phpmyadmin php8.2-cli, see docs/phpmyadmin.md)")

// Installed reports whether Debian's phpMyAdmin is installed.
func Installed() bool {
	_, err := os.Stat(filepath.Join(DebianRoot, "index.php"))
	return err == nil
}

// Settings are the sign-on script's settings (the keys of
// packaging/phpmyadmin/phpmyadmin-signon.sample.php).
type Settings struct {
	UapidURL    string // uapid's cPanel port, e.g. https://127.0.0.1:2083
	SecretFile  string // the resource server's secret
	Name        string // the resource server's name ("" = phpmyadmin)
	CAFile      string // uapid's certificate
	TLSPeerName string
	CPanelURL   string
}

// Options configure Start.
type Options struct {
	// Dir is the directory that holds everything (created if missing;
	// the caller removes it).
	Dir string
	// Socket is MariaDB's socket, which phpMyAdmin connects through
	// (uapid's temporary users may connect from localhost only).
	Socket string
	// PHP is the php binary ("" = php from PATH).
	PHP string
	// Log receives PHP's output: its request log and the sign-on
	// script's error_log lines (nil discards it).
	Log io.Writer
}

// Server is a running phpMyAdmin.
type Server struct {
	// URL is phpMyAdmin's address, "http://127.0.0.1:<port>/", and
	// SignOnPage the sign-on page's.
	URL, SignOnPage string
	// Dir is the directory of Options.Dir.
	Dir string

	cmd      *exec.Cmd
	done     chan struct{}
	stopOnce sync.Once
	stopErr  error
}

// Start builds the private root in o.Dir and starts PHP's built-in server
// on a free loopback port. The sign-on script reads its settings from
// SettingsFile, which SetSettings writes (it may be written after Start,
// once uapid's address is known: the script reads it on every request).
func Start(o Options) (*Server, error) {
	if !Installed() {
		return nil, ErrNotInstalled
	}
	php := o.PHP
	if php == "" {
		var err error
		if php, err = exec.LookPath("php"); err != nil {
			return nil, fmt.Errorf("PHP's command-line interpreter is not installed (Debian: apt-get install php8.2-cli): %w", err)
		}
	}
	if o.Socket == "" {
		o.Socket = "/run/mysqld/mysqld.sock"
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, err
	}
	if err := build(dir, o.Socket); err != nil {
		return nil, fmt.Errorf("set up phpMyAdmin in %s: %w", dir, err)
	}
	log := o.Log
	if log == nil {
		log = io.Discard
	}
	var last error
	for range 5 {
		s, err := serve(php, dir, log)
		if err == nil {
			return s, nil
		}
		last = err
	}
	return nil, last
}

// SettingsFile is where the sign-on script of a server in dir reads its
// settings.
func SettingsFile(dir string) string { return filepath.Join(dir, "signon-settings.php") }

// SetSettings writes the sign-on script's settings (atomically: a request
// reads the old or the new file, never half of one).
func (s *Server) SetSettings(st Settings) error {
	if st.Name == "" {
		st.Name = "phpmyadmin"
	}
	var b strings.Builder
	b.WriteString("<?php\nreturn [\n")
	for _, kv := range [][2]string{{"uapid_url", st.UapidURL}, {"secret_file", st.SecretFile}, {"name", st.Name},
		{"ca_file", st.CAFile}, {"tls_peer_name", st.TLSPeerName}, {"cpanel_url", st.CPanelURL}} {
		fmt.Fprintf(&b, "    %s => %s,\n", phpString(kv[0]), phpString(kv[1]))
	}
	b.WriteString("];\n")
	return writeAtomic(SettingsFile(s.Dir), b.String(), 0o600)
}

// Stop ends PHP's server: SIGTERM to its process, SIGKILL if it has not
// ended 5 s later. It is safe to call more than once.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			s.stopErr = err
		}
		select {
		case <-s.done:
		case <-time.After(5 * time.Second):
			s.cmd.Process.Kill()
			<-s.done
		}
	})
	return s.stopErr
}

// PID is the process id of PHP's server.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// serve starts php -S on a port that was free a moment ago and waits
// until it accepts connections; an error when the port was taken
// meanwhile (the caller tries another).
func serve(php, dir string, log io.Writer) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	root := filepath.Join(dir, "root")
	// The sign-on script is also the server's router: it serves the
	// sign-on page and leaves every other request to the server.
	cmd := exec.Command(php, "-S", addr, "-t", root,
		"-d", "display_errors=0", "-d", "log_errors=1", "-d", "error_log=", "-d", "expose_php=0",
		signOnScript(dir))
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "UAPID_SIGNON_CONFIG=" + SettingsFile(dir)}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", php, err)
	}
	s := &Server{URL: "http://" + addr + "/", SignOnPage: "http://" + addr + "/uapid-signon.php", Dir: dir, cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(s.done) }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return s, nil
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("PHP's server did not start on %s: %v", addr, cmd.ProcessState)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("PHP's server did not listen on %s within 15s", addr)
		}
	}
}

// entryScripts are Debian's scripts a browser requests directly; the root
// gets small ones of its own that define ROOT_PATH first.
var entryScripts = []string{"index.php", "url.php"}

// build makes the private root and configuration in dir.
func build(dir, socket string) error {
	root := filepath.Join(dir, "root")
	for _, d := range []string{dir, root, filepath.Join(root, "libraries"), filepath.Join(dir, "tmp"),
		filepath.Join(dir, "sessions"), filepath.Join(dir, "cache")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	if err := linkAll(DebianRoot, root, append([]string{"libraries", "config.sample.inc.php", "show_config_errors.php"}, entryScripts...)); err != nil {
		return err
	}
	if err := linkAll(filepath.Join(DebianRoot, "libraries"), filepath.Join(root, "libraries"), []string{"vendor_config.php", "cache"}); err != nil {
		return err
	}
	for _, name := range entryScripts {
		script := "<?php\n// Run Debian's phpMyAdmin with this directory as its root.\ndefine('ROOT_PATH', __DIR__ . DIRECTORY_SEPARATOR);\nrequire " +
			phpString(filepath.Join(DebianRoot, name)) + ";\n"
		if err := writeAtomic(filepath.Join(root, name), script, 0o644); err != nil {
			return err
		}
	}
	vendor := fmt.Sprintf(`<?php
// Where this phpMyAdmin finds its configuration and keeps its files.
declare(strict_types=1);

if (! defined('PHPMYADMIN')) {
    exit;
}

return [
    'autoloadFile' => ROOT_PATH . 'autoload.php',
    'tempDir' => %s,
    'changeLogFile' => '/usr/share/doc/phpmyadmin/changelog.gz',
    'licenseFile' => '/usr/share/doc/phpmyadmin/copyright',
    'sqlDir' => ROOT_PATH . 'sql' . DIRECTORY_SEPARATOR,
    'configFile' => %s,
    'customHeaderFile' => ROOT_PATH . 'config.header.inc.php',
    'customFooterFile' => ROOT_PATH . 'config.footer.inc.php',
    'versionCheckDefault' => false,
    'localePath' => ROOT_PATH . 'locale' . DIRECTORY_SEPARATOR,
    'cacheDir' => %s,
    'versionSuffix' => '',
];
`, phpString(filepath.Join(dir, "tmp")+"/"), phpString(filepath.Join(dir, "config.inc.php")), phpString(filepath.Join(dir, "cache")+"/"))
	if err := writeAtomic(filepath.Join(root, "libraries", "vendor_config.php"), vendor, 0o644); err != nil {
		return err
	}
	script := signOnScript(dir)
	if err := writeAtomic(script, string(phpmyadmin.SignOnScript), 0o644); err != nil {
		return err
	}
	shipped := filepath.Join(dir, "uapid.inc.php")
	if err := writeAtomic(shipped, string(phpmyadmin.Config), 0o644); err != nil {
		return err
	}
	var key [32]byte
	rand.Read(key[:])
	config := fmt.Sprintf(`<?php
// phpMyAdmin's configuration: the sign-on's as it ships, with this
// directory's paths.
$i = 1;
include %s;
$cfg['Servers'][$i]['socket'] = %s;
$cfg['Servers'][$i]['SignonScript'] = %s;
$cfg['blowfish_secret'] = sodium_hex2bin(%s);
$cfg['TempDir'] = %s;
$cfg['SessionSavePath'] = %s;
$cfg['VersionCheck'] = false;
$cfg['SendErrorReports'] = 'never';
$cfg['UploadDir'] = '';
$cfg['SaveDir'] = '';
`, phpString(shipped), phpString(socket), phpString(script), phpString(hex.EncodeToString(key[:])),
		phpString(filepath.Join(dir, "tmp")), phpString(filepath.Join(dir, "sessions")))
	return writeAtomic(filepath.Join(dir, "config.inc.php"), config, 0o600)
}

// signOnScript is where the sign-on script of a server in dir is.
func signOnScript(dir string) string { return filepath.Join(dir, "uapid-signon.php") }

// linkAll links every entry of from into to, except those named in skip.
func linkAll(from, to string, skip []string) error {
	entries, err := os.ReadDir(from)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if slices.Contains(skip, e.Name()) {
			continue
		}
		dst := filepath.Join(to, e.Name())
		if _, err := os.Lstat(dst); err == nil {
			continue
		}
		if err := os.Symlink(filepath.Join(from, e.Name()), dst); err != nil {
			return err
		}
	}
	return nil
}

// phpString quotes s as a PHP single-quoted string.
func phpString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// writeAtomic writes data to path through a temporary file and a rename.
func writeAtomic(path, data string, mode os.FileMode) error {
	tmp := path + ".tmp" + strconv.Itoa(os.Getpid())
	if err := os.WriteFile(tmp, []byte(data), mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
