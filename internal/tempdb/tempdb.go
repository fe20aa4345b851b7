// Package tempdb manages the temporary database users of cPanel sessions
// (SPEC §3.4): a MariaDB/MySQL user and, when configured, a PostgreSQL login
// role that carry exactly the account's database privileges and live only as
// long as their session.
//
// Crash safety rests on a ledger: every temporary user is recorded (without
// its password) before it is created on any database server, and removed
// from the ledger only after every server dropped it. Manager.Sweep drops the
// recorded users whose session no longer exists. Nothing in this package
// ever drops a database user that is not in the ledger, so other
// installations sharing a database server are safe.
//
// Secrets: the password never reaches a log or an error; the name is half of
// the credential too, so logs and errors show it only as Fingerprint(name).
// Errors returned by the database servers are rewritten to drop any echo of
// either (see sanitize).
package tempdb

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"regexp"
	"sync"
	"time"

	"github.com/uapid/uapid/internal/store"
)

// User is one temporary database user.
type User struct {
	Name, Password, Account, SessionID string
}

// Server is one database server kind that holds temporary users.
type Server interface {
	// Kind is "mysql" or "postgresql".
	Kind() string
	// Create creates the user/role with the account's privileges. It is
	// idempotent: a user left by an interrupted attempt is replaced.
	Create(ctx context.Context, u User) error
	// Drop removes the user/role and ends its open connections. It is
	// idempotent (no error if absent).
	Drop(ctx context.Context, name string) error
	// Exists reports whether the user/role exists.
	Exists(ctx context.Context, name string) (bool, error)
	Close() error
}

var (
	// ErrNotConfigured: no database server is configured for temporary
	// users (the UAPI answer is "No database server is configured for
	// temporary users.").
	ErrNotConfigured = errors.New("tempdb: no database server is configured for temporary users")
	// ErrInvalidUser: the name, password, account or session id is not
	// acceptable (the message says which field, never its value).
	ErrInvalidUser = errors.New("tempdb: invalid temporary user")
	// ErrUnsafeAccount: granting the account's privileges would grant more
	// than the account's databases (e.g. the account's PostgreSQL role is a
	// superuser, or its MySQL database pattern matches a system schema).
	ErrUnsafeAccount = errors.New("tempdb: refusing to grant the account's privileges")
	// ErrSessionEnded: the ledger entry vanished while the user was being
	// created (its session ended concurrently); what was created was dropped.
	ErrSessionEnded = errors.New("tempdb: the session ended while its temporary user was being created")
)

var (
	nameRE    = regexp.MustCompile(`^[A-Za-z0-9_]{1,32}$`)
	accountRE = regexp.MustCompile(`^[a-z][a-z0-9]{0,15}$`)
)

// maxPasswordLen bounds the password; session passwords are 32 characters.
const maxPasswordLen = 128

// Fingerprint is how logs and errors refer to a temporary user: the first 12
// hex characters of the SHA-256 of its name.
func Fingerprint(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:6])
}

func validName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("%w: the name must be 1 to 32 characters [A-Za-z0-9_]", ErrInvalidUser)
	}
	return nil
}

// validateUser checks every field of u. Errors name the field, never the
// value.
func validateUser(u User) error {
	if err := validName(u.Name); err != nil {
		return err
	}
	if len(u.Password) == 0 || len(u.Password) > maxPasswordLen {
		return fmt.Errorf("%w: the password must be 1 to %d characters", ErrInvalidUser, maxPasswordLen)
	}
	for i := 0; i < len(u.Password); i++ {
		// Printable ASCII only: no NUL, no control characters, and no
		// SASLprep mapping needed for the PostgreSQL SCRAM verifier.
		if c := u.Password[i]; c < 0x20 || c > 0x7e {
			return fmt.Errorf("%w: the password must be printable ASCII", ErrInvalidUser)
		}
	}
	if u.Account == "root" || !accountRE.MatchString(u.Account) {
		return fmt.Errorf("%w: the account must be a cPanel user name", ErrInvalidUser)
	}
	if u.SessionID == "" || len(u.SessionID) > 8192 {
		return fmt.Errorf("%w: the session id must be 1 to 8192 bytes", ErrInvalidUser)
	}
	for i := 0; i < len(u.SessionID); i++ {
		if u.SessionID[i] == 0 {
			return fmt.Errorf("%w: the session id contains NUL", ErrInvalidUser)
		}
	}
	return nil
}

// Manager creates, drops and sweeps temporary users on every configured
// server, keeping the ledger ahead of the servers. The zero value with the
// exported fields set is ready; a Manager must not be copied after use.
type Manager struct {
	// Ledger records every temporary user before it is created on any
	// server (a store.Ledger shared by every process and node).
	Ledger  store.Ledger
	Servers []Server
	Log     *slog.Logger

	// locks serialise Create and Drop of the same name within this process
	// (striped by a hash of the name).
	locks [64]sync.Mutex
}

// cleanupTimeout bounds rollback work done after the caller's context ended.
const cleanupTimeout = 30 * time.Second

// Configured reports whether a ledger and at least one database server are
// configured (SPEC §9: otherwise create_temp_user answers status 0).
func (m *Manager) Configured() bool {
	return m != nil && m.Ledger != nil && len(m.Servers) > 0
}

func (m *Manager) log() *slog.Logger {
	if m.Log != nil {
		return m.Log
	}
	return slog.New(slog.DiscardHandler)
}

func (m *Manager) lock(name string) func() {
	h := fnv.New32a()
	h.Write([]byte(name))
	mu := &m.locks[h.Sum32()%uint32(len(m.locks))]
	mu.Lock()
	return mu.Unlock
}

// recorded returns the ledger entry of name.
func (m *Manager) recorded(ctx context.Context, name string) (store.TempUser, bool, error) {
	u, err := m.Ledger.GetTempUser(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return store.TempUser{}, false, nil
	}
	return u, err == nil, err
}

// Create records u in the ledger, then creates it on each server in order.
// If a server fails, the user is dropped from every server tried so far and,
// if all those drops succeed, removed from the ledger again; otherwise the
// ledger entry stays so that the drop at session end (or the sweeper) can
// finish the job.
func (m *Manager) Create(ctx context.Context, u User) error {
	if !m.Configured() {
		return ErrNotConfigured
	}
	if err := validateUser(u); err != nil {
		return err
	}
	defer m.lock(u.Name)()
	fp := Fingerprint(u.Name)
	log := m.log().With("account", u.Account, "session", u.SessionID, "user_fp", fp)

	if err := m.Ledger.RecordTempUser(ctx, store.TempUser{Name: u.Name, Account: u.Account, SessionID: u.SessionID}); err != nil {
		log.ErrorContext(ctx, "temporary database user not recorded", "err", err)
		return fmt.Errorf("tempdb: record temporary user %s: %w", fp, err)
	}
	var tried []Server
	var createErr error
	for _, s := range m.Servers {
		tried = append(tried, s)
		if err := s.Create(ctx, u); err != nil {
			createErr = fmt.Errorf("tempdb: create temporary user %s on %s: %w", fp, s.Kind(), err)
			break
		}
	}
	if createErr == nil {
		// A Drop from another process may have removed the entry meanwhile
		// (its session ended): then nothing may stay behind unrecorded.
		_, ok, err := m.recorded(ctx, u.Name)
		switch {
		case err != nil:
			log.WarnContext(ctx, "temporary database user: could not re-check the ledger", "err", err)
		case !ok:
			createErr = ErrSessionEnded
		}
	}
	if createErr == nil {
		log.InfoContext(ctx, "temporary database user created", "servers", kinds(m.Servers))
		return nil
	}

	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	var dropErrs []error
	for _, s := range tried {
		if err := s.Drop(cctx, u.Name); err != nil {
			dropErrs = append(dropErrs, fmt.Errorf("drop on %s: %w", s.Kind(), err))
		}
	}
	if len(dropErrs) == 0 {
		if err := m.Ledger.RemoveTempUser(cctx, u.Name); err != nil {
			dropErrs = append(dropErrs, fmt.Errorf("remove from ledger: %w", err))
		}
	}
	if len(dropErrs) > 0 {
		log.ErrorContext(ctx, "temporary database user creation failed and was not fully undone; the ledger entry is kept",
			"err", createErr, "cleanup_err", errors.Join(dropErrs...))
		return errors.Join(createErr, fmt.Errorf("tempdb: undo temporary user %s: %w", fp, errors.Join(dropErrs...)))
	}
	log.ErrorContext(ctx, "temporary database user creation failed and was undone", "err", createErr)
	return createErr
}

// Drop drops the user name from every server and then forgets it, but only if
// the ledger holds it: a name that was never recorded (its session never
// called create_temp_user, or it belongs to another installation) is left
// alone. The ledger entry is removed only when every server dropped the user.
// An empty name is a no-op, so the session end hook may call Drop for every
// session.
func (m *Manager) Drop(ctx context.Context, name string) error {
	if name == "" || !m.Configured() {
		return nil
	}
	defer m.lock(name)()
	fp := Fingerprint(name)
	entry, ok, err := m.recorded(ctx, name)
	if err != nil {
		return fmt.Errorf("tempdb: look up temporary user %s in the ledger: %w", fp, err)
	}
	if !ok {
		return nil
	}
	log := m.log().With("account", entry.Account, "session", entry.SessionID, "user_fp", fp)
	var errs []error
	for _, s := range m.Servers {
		if err := s.Drop(ctx, name); err != nil {
			errs = append(errs, fmt.Errorf("tempdb: drop temporary user %s on %s: %w", fp, s.Kind(), err))
		}
	}
	if len(errs) > 0 {
		err := errors.Join(errs...)
		log.ErrorContext(ctx, "temporary database user not dropped; the ledger entry is kept for the sweeper", "err", err)
		return err
	}
	if err := m.Ledger.RemoveTempUser(ctx, name); err != nil {
		log.ErrorContext(ctx, "temporary database user dropped but not removed from the ledger", "err", err)
		return fmt.Errorf("tempdb: remove temporary user %s from the ledger: %w", fp, err)
	}
	log.InfoContext(ctx, "temporary database user dropped")
	return nil
}

// Sweep drops every ledger entry whose session is not live (live reports
// whether a session id still exists) and returns how many it dropped. An
// entry whose liveness cannot be determined is kept. Errors of single entries
// do not stop the sweep; they are joined into the returned error.
func (m *Manager) Sweep(ctx context.Context, live func(ctx context.Context, sessionID string) (bool, error)) (int, error) {
	if !m.Configured() {
		return 0, nil
	}
	entries, err := m.Ledger.ListTempUsers(ctx)
	if err != nil {
		return 0, fmt.Errorf("tempdb: sweep: list the ledger: %w", err)
	}
	n := 0
	var errs []error
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		ok, err := live(ctx, e.SessionID)
		if err != nil {
			errs = append(errs, fmt.Errorf("tempdb: sweep: session of temporary user %s: %w", Fingerprint(e.Name), err))
			continue
		}
		if ok {
			continue
		}
		m.log().InfoContext(ctx, "temporary database user's session is gone; dropping it",
			"account", e.Account, "session", e.SessionID, "user_fp", Fingerprint(e.Name))
		if err := m.Drop(ctx, e.Name); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	err = errors.Join(errs...)
	if n > 0 || err != nil {
		m.log().InfoContext(ctx, "temporary database user sweep", "dropped", n, "entries", len(entries), "err", err)
	}
	return n, err
}

func kinds(ss []Server) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.Kind()
	}
	return out
}
