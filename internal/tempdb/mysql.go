package tempdb

import (
	"context"
	"crypto/sha1"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// MySQL holds temporary users on a MariaDB (or MySQL) server, reached through
// an administrative connection that may create users and grant privileges.
//
// A temporary user is 'name'@'localhost' with ALL PRIVILEGES on the
// databases matching `<account>\_%` and nothing global. On MariaDB its
// password is sent only as the mysql_native_password hash, so the plain
// password does not appear in the server's statement logs.
type MySQL struct {
	db   *sql.DB
	addr string
}

var _ Server = (*MySQL)(nil)

// tempHost is the only host temporary users may connect from.
const tempHost = "localhost"

// mysqlSystemSchemas are schemas an account pattern must never match.
var mysqlSystemSchemas = []string{"information_schema", "performance_schema", "mysql", "sys"}

// NewMySQL connects to the administrative DSN (go-sql-driver syntax, e.g.
// "root@tcp(127.0.0.1:3306)/" or "root@unix(/run/mysqld/mysqld.sock)/") and
// pings the server.
func NewMySQL(dsn string) (*MySQL, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("tempdb: mysql: invalid DSN: %w", err)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	// Statements are built with our own quoting and sent as they are;
	// queries with placeholders use server-side prepared statements.
	cfg.InterpolateParams = false
	cfg.MultiStatements = false
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("tempdb: mysql: invalid DSN: %w", err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(2)
	db.SetConnMaxIdleTime(time.Minute)
	db.SetConnMaxLifetime(10 * time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("tempdb: mysql: cannot reach the administrative server at %s %s: %w", cfg.Net, cfg.Addr, err)
	}
	return &MySQL{db: db, addr: cfg.Net + " " + cfg.Addr}, nil
}

// Kind returns "mysql".
func (s *MySQL) Kind() string { return "mysql" }

// Close closes the administrative connections.
func (s *MySQL) Close() error { return s.db.Close() }

// mysqlSession is one administrative connection and what it needs for
// quoting.
type mysqlSession struct {
	conn    *sql.Conn
	noBSEsc bool // sql_mode has NO_BACKSLASH_ESCAPES
	mariadb bool
}

func (s *MySQL) session(ctx context.Context) (*mysqlSession, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	var mode, version string
	if err := conn.QueryRowContext(ctx, `SELECT @@SESSION.sql_mode, VERSION()`).Scan(&mode, &version); err != nil {
		conn.Close()
		return nil, err
	}
	return &mysqlSession{
		conn:    conn,
		noBSEsc: strings.Contains(strings.ToUpper(mode), "NO_BACKSLASH_ESCAPES"),
		mariadb: strings.Contains(strings.ToLower(version), "mariadb"),
	}, nil
}

// account returns the quoted 'name'@'localhost'.
func (ms *mysqlSession) account(name string) (string, error) {
	u, err := mysqlQuoteString(name, ms.noBSEsc)
	if err != nil {
		return "", err
	}
	h, err := mysqlQuoteString(tempHost, ms.noBSEsc)
	if err != nil {
		return "", err
	}
	return u + "@" + h, nil
}

// mysqlNativeHash is the mysql_native_password hash of password:
// "*" + upper-case hex of SHA1(SHA1(password)).
func mysqlNativeHash(password string) string {
	h1 := sha1.Sum([]byte(password))
	h2 := sha1.Sum(h1[:])
	return "*" + strings.ToUpper(hex.EncodeToString(h2[:]))
}

// checkMySQLAccount refuses accounts whose database pattern would match a
// system schema (e.g. "performance" would match performance_schema).
func checkMySQLAccount(account string) error {
	for _, schema := range mysqlSystemSchemas {
		if strings.HasPrefix(schema, account+"_") {
			return fmt.Errorf("%w: the account's database pattern matches the system schema %s", ErrUnsafeAccount, schema)
		}
	}
	return nil
}

// Create (re)creates u as 'name'@'localhost':
//
//	DROP USER IF EXISTS 'name'@'localhost'
//	CREATE USER 'name'@'localhost' IDENTIFIED BY PASSWORD '*<native hash>'   (MariaDB)
//	CREATE USER 'name'@'localhost' IDENTIFIED BY '<password>'                (MySQL)
//	GRANT ALL PRIVILEGES ON `<account>\_%`.* TO 'name'@'localhost'
//
// If a step fails, what was created is dropped again (best effort).
func (s *MySQL) Create(ctx context.Context, u User) error {
	if err := validateUser(u); err != nil {
		return err
	}
	if err := checkMySQLAccount(u.Account); err != nil {
		return err
	}
	hash := mysqlNativeHash(u.Password)
	fail := func(op string, err error) error {
		return sanitize("mysql: "+op, u.Name, err, u.Password, hash)
	}
	ms, err := s.session(ctx)
	if err != nil {
		return fail("connect", err)
	}
	defer ms.conn.Close()

	acct, err := ms.account(u.Name)
	if err != nil {
		return fail("quote", err)
	}
	var ident string
	if ms.mariadb {
		q, err := mysqlQuoteString(hash, ms.noBSEsc)
		if err != nil {
			return fail("quote", err)
		}
		ident = "IDENTIFIED BY PASSWORD " + q
	} else {
		q, err := mysqlQuoteString(u.Password, ms.noBSEsc)
		if err != nil {
			return fail("quote", err)
		}
		ident = "IDENTIFIED BY " + q
	}
	db, err := mysqlQuoteIdent(mysqlAccountPattern(u.Account))
	if err != nil {
		return fail("quote", err)
	}

	if _, err := ms.conn.ExecContext(ctx, "DROP USER IF EXISTS "+acct); err != nil {
		return fail("drop previous user", err)
	}
	if _, err := ms.conn.ExecContext(ctx, "CREATE USER "+acct+" "+ident); err != nil {
		return fail("create user", err)
	}
	if _, err := ms.conn.ExecContext(ctx, "GRANT ALL PRIVILEGES ON "+db+".* TO "+acct); err != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		ms.conn.ExecContext(cctx, "DROP USER IF EXISTS "+acct) //nolint:errcheck // best effort; the Manager drops again
		return fail("grant", err)
	}
	return nil
}

// Drop removes 'name'@'localhost' and then ends its open connections:
//
//	DROP USER IF EXISTS 'name'@'localhost'
//	SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ? AND (HOST = 'localhost' OR HOST LIKE 'localhost:%')
//	KILL CONNECTION <id>
func (s *MySQL) Drop(ctx context.Context, name string) error {
	if err := validName(name); err != nil {
		return err
	}
	fail := func(op string, err error) error { return sanitize("mysql: "+op, name, err) }
	ms, err := s.session(ctx)
	if err != nil {
		return fail("connect", err)
	}
	defer ms.conn.Close()
	acct, err := ms.account(name)
	if err != nil {
		return fail("quote", err)
	}
	if _, err := ms.conn.ExecContext(ctx, "DROP USER IF EXISTS "+acct); err != nil {
		return fail("drop user", err)
	}
	rows, err := ms.conn.QueryContext(ctx,
		`SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ? AND (HOST = ? OR HOST LIKE ?)`,
		name, tempHost, tempHost+":%")
	if err != nil {
		return fail("list connections", err)
	}
	var ids []uint64
	for rows.Next() {
		var id uint64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return fail("list connections", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return fail("list connections", err)
	}
	rows.Close()
	for _, id := range ids {
		// 1094 ER_NO_SUCH_THREAD: it ended by itself meanwhile.
		if _, err := ms.conn.ExecContext(ctx, fmt.Sprintf("KILL CONNECTION %d", id)); err != nil && mysqlErrNumber(err) != 1094 {
			return fail("end connection", err)
		}
	}
	return nil
}

// Exists reports whether 'name'@'localhost' exists.
func (s *MySQL) Exists(ctx context.Context, name string) (bool, error) {
	if err := validName(name); err != nil {
		return false, err
	}
	var n int
	if err := s.db.QueryRowContext(ctx,
		`SELECT COUNT(*) FROM mysql.user WHERE User = ? AND Host = ?`, name, tempHost).Scan(&n); err != nil {
		return false, sanitize("mysql: look up user", name, err)
	}
	return n > 0, nil
}
