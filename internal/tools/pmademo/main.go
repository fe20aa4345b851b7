// Command pmademo starts uapid and Debian's phpMyAdmin wired together by
// uapid's sign-on, on free loopback ports, for a local demo
// (docs/phpmyadmin.md):
//
//	go run ./internal/tools/pmademo
//
// It runs `uapid serve --dev` (its demo data and ready-to-paste commands
// are printed as usual) with --mysql-dsn, the resource server phpmyadmin
// and --phpmyadmin-url; phpMyAdmin with PHP's built-in server in a
// directory of its own (nothing under /etc changes); and makes the demo
// account's database demo_wp in MariaDB, with a table, unless it exists
// (then it is left as it is). Log in to cPanel as demo and follow the
// phpMyAdmin link. Ctrl-C stops both, ends the demo's sessions with their
// temporary database users, and drops demo_wp if the demo made it.
//
// Options:
//
//	--mysql-dsn DSN   administrative MariaDB connection
//	                  (default root@unix(/run/mysqld/mysqld.sock)/)
//	--socket PATH     MariaDB's socket, for phpMyAdmin
//	                  (default /run/mysqld/mysqld.sock)
//	--dir DIR         where uapid's data, phpMyAdmin's files and the logs
//	                  go (default: a temporary directory, removed at the end)
//
// It needs php (php8.2-cli) and Debian's phpmyadmin package, installed as
// docs/phpmyadmin.md says, and a MariaDB whose administrative user may
// create users and databases.
package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"github.com/uapid/uapid/internal/cli"
	"github.com/uapid/uapid/internal/pmaserver"
	"github.com/uapid/uapid/internal/store"
	"github.com/uapid/uapid/internal/store/sqlstore"
	"github.com/uapid/uapid/internal/tempdb"
	"github.com/uapid/uapid/internal/tlsutil"
)

// demoDB is the database of the --dev account demo.
const demoDB = "demo_wp"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, nil); err != nil {
		fmt.Fprintln(os.Stderr, "pmademo:", err)
		os.Exit(1)
	}
}

// Demo is what run started, for its caller (the test).
type Demo struct {
	CPanel     string // https://127.0.0.1:<port>
	PhpMyAdmin string // http://127.0.0.1:<port>/
	Dir        string
}

var listenRE = regexp.MustCompile(`(?m)^listening service=cpaneld tls=true addr=(\S+)$`)

// run starts the demo, calls ready (if set) once both serve, and stops
// both when ctx ends.
func run(ctx context.Context, args []string, stdout io.Writer, ready func(Demo)) (err error) {
	fs := flag.NewFlagSet("pmademo", flag.ContinueOnError)
	fs.SetOutput(stdout)
	dsn := fs.String("mysql-dsn", "root@unix(/run/mysqld/mysqld.sock)/", "administrative MariaDB connection")
	socket := fs.String("socket", "/run/mysqld/mysqld.sock", "MariaDB's socket, for phpMyAdmin")
	dirFlag := fs.String("dir", "", "where uapid's data, phpMyAdmin's files and the logs go (default: a temporary directory)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if !pmaserver.Installed() {
		return pmaserver.ErrNotInstalled
	}
	dir, keep := *dirFlag, " (removed at the end; --dir DIR keeps them)"
	if dir == "" {
		if dir, err = os.MkdirTemp("", "uapid-pmademo-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	} else {
		keep = ""
	}

	admin, err := sql.Open("mysql", *dsn)
	if err == nil {
		err = admin.PingContext(ctx)
	}
	if err != nil {
		return fmt.Errorf("MariaDB (--mysql-dsn %s) cannot be reached: %w", *dsn, err)
	}
	defer admin.Close()
	made, err := makeDatabase(ctx, admin)
	if err != nil {
		return err
	}
	if made {
		defer func() {
			if _, derr := admin.Exec("DROP DATABASE IF EXISTS `" + demoDB + "`"); derr != nil {
				err = errors.Join(err, fmt.Errorf("drop %s: %w", demoDB, derr))
			}
		}()
	}

	secretFile := filepath.Join(dir, "phpmyadmin.secret")
	if err := os.WriteFile(secretFile, []byte(rand.Text()+"\n"), 0o600); err != nil {
		return err
	}
	phpLog, err := os.Create(filepath.Join(dir, "php.log"))
	if err != nil {
		return err
	}
	defer phpLog.Close()
	pma, err := pmaserver.Start(pmaserver.Options{Dir: filepath.Join(dir, "phpmyadmin"), Socket: *socket, Log: phpLog})
	if err != nil {
		return err
	}
	defer pma.Stop()

	uapidLog, err := os.Create(filepath.Join(dir, "uapid.log"))
	if err != nil {
		return err
	}
	defer uapidLog.Close()
	data := filepath.Join(dir, "uapid-data")
	out := &syncBuffer{w: stdout}
	started, stopUapid, done := make(chan struct{}), make(chan struct{}), make(chan int, 1)
	go func() {
		done <- cli.Main([]string{"serve", "--dev", "--data", data,
			"--cpanel-addr", "127.0.0.1:0", "--webmail-addr", "127.0.0.1:0", "--whm-addr", "127.0.0.1:0",
			"--mysql-dsn", *dsn, "--resource-servers", "phpmyadmin:" + secretFile,
			"--phpmyadmin-url", pma.URL + "index.php"},
			&cli.Env{Stdin: strings.NewReader(""), Stdout: out, Stderr: uapidLog,
				Getenv: func(string) string { return "" }, Ready: started, Stop: stopUapid})
	}()
	select {
	case <-started:
	case code := <-done:
		return fmt.Errorf("uapid serve exited with %d; see %s", code, uapidLog.Name())
	case <-ctx.Done():
		close(stopUapid)
		<-done
		return nil
	}
	defer func() {
		close(stopUapid)
		if code := <-done; code != 0 {
			err = errors.Join(err, fmt.Errorf("uapid serve exited with %d; see %s", code, uapidLog.Name()))
		}
		// The demo's sessions end with it, and so do their temporary
		// users (a session outlives a restart of uapid, but not the demo).
		if eerr := endSessions(data, *dsn); eerr != nil {
			err = errors.Join(err, eerr)
		}
	}()
	m := listenRE.FindStringSubmatch(out.String())
	if m == nil {
		return errors.New("uapid did not say where cPanel listens")
	}
	cpanel := "https://" + m[1]
	if err := pma.SetSettings(pmaserver.Settings{
		UapidURL:   cpanel,
		SecretFile: secretFile,
		CAFile:     filepath.Join(data, tlsutil.CertFile),
		CPanelURL:  cpanel + "/login/",
	}); err != nil {
		return err
	}
	fmt.Fprintf(out, `phpMyAdmin behind uapid's sign-on (Ctrl-C stops uapid and phpMyAdmin):

  cPanel        %s/login/
                log in as demo (DEMO_PASS above; the certificate is self-signed),
                then follow "phpMyAdmin" on the landing page
  phpMyAdmin    %s
                signs on only from a cPanel session, as its temporary database user
  database      %s%s
  logs          %s, %s%s

`, cpanel, pma.URL, demoDB, map[bool]string{true: " (made for the demo, dropped at the end)", false: " (it existed; left as it is)"}[made],
		uapidLog.Name(), phpLog.Name(), keep)
	if ready != nil {
		ready(Demo{CPanel: cpanel, PhpMyAdmin: pma.URL, Dir: dir})
	}
	select {
	case <-ctx.Done():
	case code := <-done:
		done <- code
		return fmt.Errorf("uapid serve stopped (%d); see %s", code, uapidLog.Name())
	}
	return nil
}

// endSessions ends every session of the demo's store in data, with the
// temporary database users it recorded (uapid has stopped).
func endSessions(data, dsn string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := sqlstore.OpenSQLite(ctx, filepath.Join(data, "uapid.db"), sqlstore.Options{})
	if err != nil {
		return fmt.Errorf("end the demo's sessions: %w", err)
	}
	defer db.Close()
	my, err := tempdb.NewMySQL(dsn)
	if err != nil {
		return fmt.Errorf("end the demo's sessions: %w", err)
	}
	defer my.Close()
	sessions := db.Sessions()
	rs, err := sessions.List(ctx, "")
	if err != nil {
		return fmt.Errorf("end the demo's sessions: %w", err)
	}
	for _, r := range rs {
		if _, err := sessions.Delete(ctx, r.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("end the demo's sessions: %w", err)
		}
	}
	// Every recorded user's session is gone now: the sweep drops them all.
	tm := &tempdb.Manager{Ledger: db.Ledger(), Servers: []tempdb.Server{my}}
	if _, err := tm.Sweep(ctx, func(context.Context, string) (bool, error) { return false, nil }); err != nil {
		return fmt.Errorf("drop the demo's temporary database users: %w", err)
	}
	return nil
}

// makeDatabase makes demo_wp with a table unless it exists, and reports
// whether it made it.
func makeDatabase(ctx context.Context, admin *sql.DB) (bool, error) {
	var n int
	if err := admin.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?`, demoDB).Scan(&n); err != nil {
		return false, err
	}
	if n > 0 {
		return false, nil
	}
	for _, q := range []string{
		"CREATE DATABASE `" + demoDB + "`",
		"CREATE TABLE `" + demoDB + "`.`wp_posts` (id INT PRIMARY KEY, title VARCHAR(80), posted DATETIME)",
		"INSERT INTO `" + demoDB + "`.`wp_posts` VALUES (1, 'Hello from the uapid demo', '" + time.Now().UTC().Format(time.DateTime) + "')",
	} {
		if _, err := admin.ExecContext(ctx, q); err != nil {
			return false, fmt.Errorf("MariaDB: %s: %w", q, err)
		}
	}
	return true, nil
}

// syncBuffer passes writes on to w and keeps a copy.
type syncBuffer struct {
	mu sync.Mutex
	w  io.Writer
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Write(p)
	return s.w.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
