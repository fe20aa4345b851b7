package mailstack

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The programs and files of the Debian 12 packages the stack runs.
const (
	DovecotBin    = "/usr/sbin/dovecot"
	RoundcubeRoot = "/usr/share/roundcube"
	// roundcubePublic is Debian's public_html entry point, which sets
	// Roundcube's INSTALL_PATH to the directory above it.
	roundcubePublic = "/var/lib/roundcube/public_html/index.php"
)

// Packages is the apt-get line that installs what the stack runs.
const Packages = "dovecot-imapd dovecot-lmtpd dovecot-auth-lua roundcube-core roundcube-sqlite3 roundcube-plugins php8.2-cli php8.2-sqlite3"

// Missing returns what the stack needs that this machine lacks (empty when
// nothing): Dovecot with its IMAP, LMTP and Lua modules, Roundcube, and
// the PHP command line with SQLite.
func Missing() []string {
	var out []string
	for _, f := range []struct{ path, what string }{
		{DovecotBin, "dovecot-core"},
		{"/usr/lib/dovecot/imap", "dovecot-imapd"},
		{"/usr/lib/dovecot/lmtp", "dovecot-lmtpd"},
		{"/usr/lib/dovecot/modules/auth/libauthdb_lua.so", "dovecot-auth-lua"},
		{RoundcubeRoot + "/index.php", "roundcube-core"},
		{RoundcubeRoot + "/SQL/sqlite.initial.sql", "roundcube-core"},
		{roundcubePublic, "roundcube-core"},
	} {
		if _, err := os.Stat(f.path); err != nil {
			out = append(out, f.what+" ("+f.path+")")
		}
	}
	if _, err := exec.LookPath("php"); err != nil {
		out = append(out, "php8.2-cli (php)")
	} else if b, err := exec.Command("php", "-r", "echo extension_loaded('pdo_sqlite') ? 'yes' : 'no';").Output(); err != nil || string(b) != "yes" {
		out = append(out, "php8.2-sqlite3 (PHP's pdo_sqlite)")
	}
	return out
}

// FreePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Process is a program the stack started; Stop ends it by its PID.
type Process struct {
	Name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	once sync.Once
}

// PID is the process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

func start(name string, cmd *exec.Cmd) (*Process, error) {
	// Its own process group, so that an interrupt of the terminal reaches
	// uapid (which stops it) and not the child first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{Name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Exited reports whether the process has ended, with its error.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Stop sends SIGTERM to the process (by PID) and waits for it to end,
// sending SIGKILL after 10 s.
func (p *Process) Stop() {
	p.once.Do(func() {
		select {
		case <-p.done:
			return
		default:
		}
		_ = syscall.Kill(p.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	})
}

// waitPort waits until addr accepts connections, the process ends, or
// ctx is done.
func waitPort(ctx context.Context, p *Process, addr string, logFile string) error {
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if ended, perr := p.Exited(); ended {
			return fmt.Errorf("%s exited (%v) before listening on %s:\n%s", p.Name, perr, addr, tail(logFile, 30))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not listen on %s: %w\n%s", p.Name, addr, ctx.Err(), tail(logFile, 30))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// tail returns the last n lines of a log file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// writeFiles writes files into dir, secrets readable by their owner and
// group only.
func writeFiles(dir string, files map[string]File, group int) error {
	for name, f := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if f.Secret {
			mode = 0o640
		}
		if err := os.WriteFile(p, []byte(f.Text), mode); err != nil {
			return err
		}
		if err := os.Chmod(p, mode); err != nil {
			return err
		}
		if f.Secret && group >= 0 {
			if err := os.Chown(p, -1, group); err != nil {
				return err
			}
		}
	}
	return nil
}

// Dovecot is a private Dovecot: IMAP and LMTP on loopback, mail in
// Maildirs below MailRoot, every login and user decided by uapid.
type Dovecot struct {
	*Process
	// IMAPAddr and LMTPAddr are "127.0.0.1:port".
	IMAPAddr, LMTPAddr string
	// Dir holds its configuration, runtime files and log (dovecot.log);
	// MailRoot the mail.
	Dir, MailRoot string
}

// DovecotOptions configure StartDovecot.
type DovecotOptions struct {
	// Dir is created if needed; it must be reachable by Dovecot's
	// unprivileged users (StartDovecot opens it and its parents for
	// traversal).
	Dir string
	// IMAPPort and LMTPPort: 0 picks free ones.
	IMAPPort, LMTPPort int
	// FailureDelay is Dovecot's auth_failure_delay ("0" in tests; "" is
	// its default, 2 secs).
	FailureDelay string
}

// StartDovecot starts dovecot -F with w's wiring and waits until it
// listens. As root, mail belongs to nobody:nogroup and Dovecot's own
// users are Debian's; as another user, everything runs as that user.
func StartDovecot(ctx context.Context, w Wiring, o DovecotOptions) (*Dovecot, error) {
	if o.Dir == "" {
		return nil, errors.New("dovecot: no directory")
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, err
	}
	d := &Dovecot{Dir: dir, MailRoot: filepath.Join(dir, "mail")}
	for _, p := range []*int{&o.IMAPPort, &o.LMTPPort} {
		if *p == 0 {
			if *p, err = FreePort(); err != nil {
				return nil, err
			}
		}
	}
	d.IMAPAddr, d.LMTPAddr = "127.0.0.1:"+strconv.Itoa(o.IMAPPort), "127.0.0.1:"+strconv.Itoa(o.LMTPPort)
	mailUser, mailGroup, unprivileged := "nobody", "nogroup", os.Geteuid() != 0
	uid, gid := -1, -1
	if unprivileged {
		u, err := user.Current()
		if err != nil {
			return nil, err
		}
		g, err := user.LookupGroupId(u.Gid)
		if err != nil {
			return nil, err
		}
		mailUser, mailGroup = u.Username, g.Name
	} else {
		if uid, gid, err = ids("nobody", "nogroup"); err != nil {
			return nil, err
		}
	}
	dovecotGID := -1
	if !unprivileged {
		if _, dovecotGID, err = ids("dovecot", "dovecot"); err != nil {
			return nil, fmt.Errorf("dovecot: Debian's dovecot user is missing: %w", err)
		}
	}
	for _, sub := range []string{"conf", "run", "state"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(d.MailRoot, 0o700); err != nil {
		return nil, err
	}
	if !unprivileged {
		if err := os.Chown(d.MailRoot, uid, gid); err != nil {
			return nil, err
		}
		// Dovecot's unprivileged processes read the configuration and the
		// mail processes reach the Maildirs: open the path for traversal.
		if err := openPath(dir); err != nil {
			return nil, err
		}
	}
	conf := filepath.Join(dir, "conf")
	if w.CAFile != "" {
		// Dovecot's auth process (user dovecot) must read the CA file:
		// a copy next to its configuration.
		b, err := os.ReadFile(w.CAFile)
		if err != nil {
			return nil, fmt.Errorf("dovecot: CA file: %w", err)
		}
		w.CAFile = filepath.Join(conf, "uapid-ca.pem")
		if err := os.WriteFile(w.CAFile, b, 0o644); err != nil {
			return nil, err
		}
	}
	files, err := DovecotFiles(w, conf)
	if err != nil {
		return nil, err
	}
	delay := o.FailureDelay
	if delay == "" {
		delay = "2 secs"
	}
	main, err := render("dovecot/dovecot.conf.tmpl", map[string]any{
		"BaseDir": filepath.Join(dir, "run"), "StateDir": filepath.Join(dir, "state"),
		"InstanceName": "uapid-" + strconv.Itoa(o.IMAPPort), "LogPath": filepath.Join(dir, "dovecot.log"),
		"FailureDelay": delay, "Unprivileged": unprivileged, "MailUser": mailUser, "MailGroup": mailGroup,
		"MailRoot": d.MailRoot, "ConfDir": conf, "IMAPPort": o.IMAPPort, "LMTPPort": o.LMTPPort,
	})
	if err != nil {
		return nil, err
	}
	files["dovecot.conf"] = File{Text: main}
	if err := writeFiles(conf, files, dovecotGID); err != nil {
		return nil, err
	}
	logFile := filepath.Join(dir, "dovecot.log")
	out, err := os.OpenFile(filepath.Join(dir, "dovecot.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer out.Close()
	cmd := exec.Command(DovecotBin, "-F", "-c", filepath.Join(conf, "dovecot.conf"))
	cmd.Stdout, cmd.Stderr = out, out
	if d.Process, err = start("dovecot", cmd); err != nil {
		return nil, err
	}
	for _, a := range []string{d.IMAPAddr, d.LMTPAddr} {
		if err := waitPort(ctx, d.Process, a, logFile); err != nil {
			d.Stop()
			return nil, fmt.Errorf("%w\n%s", err, tail(filepath.Join(dir, "dovecot.out"), 10))
		}
	}
	return d, nil
}

// Log returns the end of Dovecot's log.
func (d *Dovecot) Log(lines int) string { return tail(filepath.Join(d.Dir, "dovecot.log"), lines) }

// ids looks up a user's uid and a group's gid.
func ids(userName, groupName string) (int, int, error) {
	u, err := user.Lookup(userName)
	if err != nil {
		return 0, 0, err
	}
	g, err := user.LookupGroup(groupName)
	if err != nil {
		return 0, 0, err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(g.Gid)
	return uid, gid, nil
}

// openPath gives every directory from dir up to the root the execute
// (traverse) permission for all, as Dovecot's unprivileged processes and
// the mail user need to reach files below dir. Directories made by a
// test's TempDir are 0700.
func openPath(dir string) error {
	for p := dir; ; p = filepath.Dir(p) {
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		if st.Mode().Perm()&0o011 != 0o011 {
			if err := os.Chmod(p, st.Mode().Perm()|0o011); err != nil {
				return err
			}
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

// Roundcube is a private Roundcube served by php -S: its own tree (the
// Debian package's code, its own configuration, plugins and SQLite
// database) below Dir.
type Roundcube struct {
	*Process
	// URL is "http://127.0.0.1:port/"; RedirectURI the OAuth redirect URI
	// it uses.
	URL, RedirectURI string
	Dir              string
}

// RoundcubeOptions configure StartRoundcube.
type RoundcubeOptions struct {
	Dir string
	// Port: 0 picks a free one. Known in advance, it lets uapid be
	// configured with the redirect URI before Roundcube starts.
	Port int
	// IMAPAddr is Dovecot's ("127.0.0.1:port").
	IMAPAddr string
	// TokenURL overrides uapid's token endpoint (RoundcubeSettings).
	TokenURL string
}

// RedirectURI is the OAuth redirect URI of a private Roundcube on port.
func RedirectURI(port int) string {
	return "http://127.0.0.1:" + strconv.Itoa(port) + "/index.php/login/oauth"
}

// StartRoundcube lays out a Roundcube tree in o.Dir, creates its database
// and serves it with php -S, configured with w.
func StartRoundcube(ctx context.Context, w Wiring, o RoundcubeOptions) (*Roundcube, error) {
	if o.Dir == "" {
		return nil, errors.New("roundcube: no directory")
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, err
	}
	if o.Port == 0 {
		if o.Port, err = FreePort(); err != nil {
			return nil, err
		}
	}
	rc := &Roundcube{Dir: dir, URL: "http://127.0.0.1:" + strconv.Itoa(o.Port) + "/", RedirectURI: RedirectURI(o.Port)}
	if err := layOut(dir); err != nil {
		return nil, err
	}
	plugin, err := PluginFiles()
	if err != nil {
		return nil, err
	}
	if err := writeFiles(filepath.Join(dir, "plugins", "uapid"), plugin, -1); err != nil {
		return nil, err
	}
	db := filepath.Join(dir, "db", "roundcube.db")
	cfg, err := RoundcubeConfig(w, RoundcubeSettings{IMAPHost: o.IMAPAddr, DESKey: randomKey(),
		DBPath: db, LogDir: filepath.Join(dir, "logs"), TempDir: filepath.Join(dir, "temp"), TokenURL: o.TokenURL})
	if err != nil {
		return nil, err
	}
	if err := writeFiles(filepath.Join(dir, "config"), map[string]File{"config.inc.php": cfg}, -1); err != nil {
		return nil, err
	}
	// The database, from Roundcube's own schema.
	init := exec.CommandContext(ctx, "php", "-r", `$db = new PDO('sqlite:' . $argv[1]); $db->setAttribute(PDO::ATTR_ERRMODE, PDO::ERRMODE_EXCEPTION); $db->exec(file_get_contents($argv[2]));`,
		db, filepath.Join(RoundcubeRoot, "SQL", "sqlite.initial.sql"))
	if b, err := init.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("roundcube: create the database: %v: %s", err, b)
	}
	logFile := filepath.Join(dir, "php.log")
	out, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer out.Close()
	cmd := exec.Command("php", "-d", "display_errors=stderr", "-d", "log_errors=0", "-d", "expose_php=0",
		"-S", "127.0.0.1:"+strconv.Itoa(o.Port), "-t", filepath.Join(dir, "public_html"))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "ROUNDCUBE_CONFIG_DIR="+filepath.Join(dir, "config"))
	cmd.Stdout, cmd.Stderr = out, out
	if rc.Process, err = start("roundcube (php -S)", cmd); err != nil {
		return nil, err
	}
	if err := waitPort(ctx, rc.Process, "127.0.0.1:"+strconv.Itoa(o.Port), logFile); err != nil {
		rc.Stop()
		return nil, err
	}
	return rc, nil
}

// Log returns the end of Roundcube's error log and of php's output.
func (rc *Roundcube) Log(lines int) string {
	return "errors:\n" + tail(filepath.Join(rc.Dir, "logs", "errors.log"), lines) +
		"\nuserlogins:\n" + tail(filepath.Join(rc.Dir, "logs", "userlogins.log"), lines) +
		"\nphp:\n" + tail(filepath.Join(rc.Dir, "php.log"), lines)
}

// layOut makes the Roundcube tree: Debian's code and skins by symbolic
// links, its own configuration, plugins (Debian's and uapid's), database,
// logs and temporary files.
func layOut(dir string) error {
	for _, sub := range []string{"public_html/program", "config", "plugins", "skins", "db", "logs", "temp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return err
		}
	}
	b, err := os.ReadFile(roundcubePublic)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "public_html", "index.php"), b, 0o644); err != nil {
		return err
	}
	links := map[string]string{
		"index.php":                     RoundcubeRoot + "/index.php",
		"program":                       RoundcubeRoot + "/program",
		"SQL":                           RoundcubeRoot + "/SQL",
		"skins/elastic":                 RoundcubeRoot + "/skins/elastic",
		"public_html/plugins":           "../plugins",
		"public_html/skins":             "../skins",
		"public_html/program/js":        "../../program/js",
		"public_html/program/resources": "../../program/resources",
		"config/defaults.inc.php":       "/etc/roundcube/defaults.inc.php",
		"config/mimetypes.php":          "/etc/roundcube/mimetypes.php",
	}
	plugins, err := os.ReadDir(RoundcubeRoot + "/plugins")
	if err != nil {
		return err
	}
	for _, p := range plugins {
		links["plugins/"+p.Name()] = filepath.Join(RoundcubeRoot, "plugins", p.Name())
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
	}
	return nil
}

// randomKey returns 24 random characters for Roundcube's des_key.
func randomKey() string {
	const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 24)
	for i := range b {
		var c [1]byte
		for {
			if _, err := rand.Read(c[:]); err != nil {
				panic("mailstack: crypto/rand failed: " + err.Error())
			}
			if int(c[0]) < 256-256%len(chars) {
				break
			}
		}
		b[i] = chars[int(c[0])%len(chars)]
	}
	return string(b)
}
