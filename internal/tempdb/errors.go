package tempdb

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
)

// dbError is a database error with every secret taken out of its text. It
// unwraps only to a context error (so errors.Is(err, context.Canceled)
// works), never to the driver's error, whose message may echo SQL text.
type dbError struct {
	msg   string
	cause error
}

func (e *dbError) Error() string { return e.msg }
func (e *dbError) Unwrap() error { return e.cause }

// sanitize turns a driver error of operation op on the temporary user name
// into an error that shows the name only as its fingerprint and none of the
// secrets (the password and its hashed forms). Syntax errors, which quote
// the statement text, keep only their code.
func sanitize(op, name string, err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	fp := Fingerprint(name)
	red := func(s string) string {
		for _, sec := range secrets {
			if sec != "" {
				s = strings.ReplaceAll(s, sec, "[redacted]")
			}
		}
		if name != "" {
			s = strings.ReplaceAll(s, name, "user "+fp)
		}
		return s
	}
	var cause error
	switch {
	case errors.Is(err, context.Canceled):
		cause = context.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		cause = context.DeadlineExceeded
	}
	var text string
	var me *mysql.MySQLError
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &me):
		text = fmt.Sprintf("error %d (%s)", me.Number, string(me.SQLState[:]))
		// 1064 ER_PARSE_ERROR and 1149 ER_SYNTAX_ERROR quote the statement.
		if me.Number != 1064 && me.Number != 1149 {
			text += ": " + red(me.Message)
		}
	case errors.As(err, &pe):
		text = "SQLSTATE " + pe.Code
		// 42601 syntax_error quotes the offending token.
		if pe.Code != "42601" {
			text += ": " + red(pe.Message)
			if pe.Detail != "" {
				text += " (" + red(pe.Detail) + ")"
			}
		}
	default:
		text = red(err.Error())
	}
	if name != "" {
		return &dbError{msg: op + " " + fp + ": " + text, cause: cause}
	}
	return &dbError{msg: op + ": " + text, cause: cause}
}

// sqlState returns the SQLSTATE of a PostgreSQL error, or "".
func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// mysqlErrNumber returns the error number of a MySQL error, or 0.
func mysqlErrNumber(err error) uint16 {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}
