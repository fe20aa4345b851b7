package tempdb

import (
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// SQL text is built only from these functions; values we control (the
// user's name, password, account) also pass validateUser first, so the
// quoting is a second line of defence. All of them assume a UTF-8 client
// encoding (the drivers' default: utf8mb4 for MySQL, UTF8 for pgx): in
// UTF-8 no byte of a multi-byte character is a quote or a backslash.

var (
	errQuoteNUL   = errors.New("tempdb: SQL text must not contain NUL")
	errQuoteUTF8  = errors.New("tempdb: SQL text must be valid UTF-8")
	errQuoteEmpty = errors.New("tempdb: SQL identifier must not be empty")
	errQuoteLong  = errors.New("tempdb: PostgreSQL identifier longer than 63 bytes")
)

func checkText(s string) error {
	if strings.IndexByte(s, 0) >= 0 {
		return errQuoteNUL
	}
	if !utf8.ValidString(s) {
		return errQuoteUTF8
	}
	return nil
}

// mysqlQuoteIdent quotes a MySQL/MariaDB identifier: in backticks, a backtick
// doubled. Backslashes have no special meaning inside backticks.
func mysqlQuoteIdent(s string) (string, error) {
	if s == "" {
		return "", errQuoteEmpty
	}
	if err := checkText(s); err != nil {
		return "", err
	}
	return "`" + strings.ReplaceAll(s, "`", "``") + "`", nil
}

// mysqlQuoteString quotes a MySQL/MariaDB string literal for a session whose
// sql_mode does (noBackslashEscapes false) or does not (true) treat backslash
// as an escape character. A single quote is doubled, which is valid in both
// modes; a backslash is doubled only when it is an escape character.
func mysqlQuoteString(s string, noBackslashEscapes bool) (string, error) {
	if err := checkText(s); err != nil {
		return "", err
	}
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\'':
			b.WriteString("''")
		case c == '\\' && !noBackslashEscapes:
			b.WriteString(`\\`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String(), nil
}

// mysqlLikeEscape escapes the wildcard characters of a database-name pattern
// in GRANT … ON `pattern`.* (where _ and % are wildcards and \ escapes them),
// so that s matches only itself.
func mysqlLikeEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `_`, `\_`, `%`, `\%`)
	return r.Replace(s)
}

// mysqlAccountPattern is the database pattern of an account's databases:
// "<account>_" followed by anything, with the underscore escaped so that
// "alice\_%" matches alice_wp but not aliceX.
func mysqlAccountPattern(account string) string {
	return mysqlLikeEscape(account) + `\_%`
}

// pgQuoteIdent quotes a PostgreSQL identifier with pgx.Identifier.Sanitize
// (double quotes, a double quote doubled). Sanitize silently strips NUL and
// the server silently truncates names past 63 bytes; both are refused here
// instead, so the quoted name is exactly the name.
func pgQuoteIdent(s string) (string, error) {
	if s == "" {
		return "", errQuoteEmpty
	}
	if err := checkText(s); err != nil {
		return "", err
	}
	if len(s) > 63 {
		return "", errQuoteLong
	}
	return pgx.Identifier{s}.Sanitize(), nil
}

// pgQuoteLiteral quotes a PostgreSQL string literal. Without a backslash it
// is '…' with a single quote doubled; with one it is the escape-string form
// E'…' with backslashes doubled too. Both read the same whether
// standard_conforming_strings is on or off.
func pgQuoteLiteral(s string) (string, error) {
	if err := checkText(s); err != nil {
		return "", err
	}
	q := strings.ReplaceAll(s, "'", "''")
	if strings.Contains(s, `\`) {
		return "E'" + strings.ReplaceAll(q, `\`, `\\`) + "'", nil
	}
	return "'" + q + "'", nil
}
