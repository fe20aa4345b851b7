// Package cli implements uapid's commands: `uapid` (serve, import,
// import-cpanel, the admin commands, version), `uapi` and `whmapi1`. Each
// entry point takes its arguments and streams and returns an exit code, so
// tests run them in-process.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"

	"github.com/uapid/uapid/internal/app"
	"github.com/uapid/uapid/internal/bench"
	"github.com/uapid/uapid/internal/config"
)

// Env is what a command runs with.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// Ready, if set, is closed by `serve` once it listens (tests use it).
	Ready chan<- struct{}
	// Stop, if set, ends `serve` when closed (tests use it instead of a
	// signal).
	Stop <-chan struct{}
}

// OSEnv is the process's real environment.
func OSEnv() *Env {
	return &Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
}

// errUsage marks an error whose message is a usage problem (exit 2).
type errUsage struct{ msg string }

func (e errUsage) Error() string { return e.msg }

func usageErr(format string, a ...any) error { return errUsage{fmt.Sprintf(format, a...)} }

const uapidUsage = `usage: uapid <command> [options]

commands:
  serve                 run the server (see "uapid serve --help")
  import FILE           load a fixture file into the store (idempotent)
  import-cpanel PATH... bring accounts, mailboxes and API tokens over from cPanel
                        (a server's root or pkgacct archives; --dry-run, --json FILE)
  account add|list|suspend|unsuspend|remove|passwd
  mailbox add|list|suspend|unsuspend|remove|passwd
  token create|list|revoke
  session list [--user U] | revoke --user U | --id ID
  webmail config|demo   Dovecot and Roundcube with uapid as their authority (docs/webmail.md)
  bench                 load-test an in-process uapid (see "uapid bench --help")
  version               print the version

Every command takes --config FILE, --data DIR and --store URL (or UAPID_CONFIG,
UAPID_DATA, UAPID_STORE) to find the store.
`

// Main runs the uapid command and returns its exit code.
func Main(args []string, env *Env) int {
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, uapidUsage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = serve(args[1:], env)
	case "import":
		err = importCmd(args[1:], env)
	case "import-cpanel":
		err = importCPanelCmd(args[1:], env)
	case "account":
		err = accountCmd(args[1:], env)
	case "mailbox":
		err = mailboxCmd(args[1:], env)
	case "token":
		err = tokenCmd(args[1:], env)
	case "session":
		err = sessionCmd(args[1:], env)
	case "webmail":
		err = webmailCmd(args[1:], env)
	case "bench":
		err = bench.Main(args[1:], env.Stdout, env.Stderr)
	case "version", "--version":
		fmt.Fprintln(env.Stdout, "uapid", Version())
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(env.Stdout, uapidUsage)
		return 0
	default:
		fmt.Fprintf(env.Stderr, "uapid: unknown command %q\n\n%s", args[0], uapidUsage)
		return 2
	}
	return exitCode("uapid", err, env)
}

func exitCode(prog string, err error, env *Env) int {
	var u errUsage
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &u):
		fmt.Fprintf(env.Stderr, "%s: %s\n", prog, u.msg)
		return 2
	default:
		fmt.Fprintf(env.Stderr, "%s: %s\n", prog, err)
		return 1
	}
}

// Version is the module version from the build information.
func Version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// parseArgs parses flags and positional arguments in any order (Go's flag
// package stops at the first positional argument). "--" ends the options.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		f := fs.Lookup(name)
		if f == nil {
			continue // reported by Parse
		}
		if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
			continue
		}
		if i+1 < len(args) {
			flags = append(flags, args[i+1])
			i++
		}
	}
	// The flag package would print the error and the whole usage text;
	// a bad flag is reported as one line instead (exitCode), and the usage
	// is printed only when asked for with -h or --help.
	out := fs.Output()
	fs.SetOutput(io.Discard)
	err := fs.Parse(flags)
	fs.SetOutput(out)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.Usage()
			return nil, err
		}
		return nil, usageErr("%v", err)
	}
	return pos, nil
}

// openApp loads the configuration from the given values and opens the
// stores (no listeners).
func openApp(ctx context.Context, vals *config.Values, env *Env, logLevel slog.Level) (*app.App, error) {
	cfg, err := loadCommandConfig(vals, env)
	if err != nil {
		return nil, err
	}
	return openConfig(ctx, cfg, env, logLevel)
}

// loadCommandConfig loads the configuration of a command other than
// serve: flags, environment and config file as serve reads them, without
// the fixture. (Only `serve` (at start) and `import` load fixtures. A
// fixture named in a shared config file must not be re-applied by every
// admin or API command: it would undo what the previous command changed,
// such as a suspension or a password.)
func loadCommandConfig(vals *config.Values, env *Env) (*config.Config, error) {
	cfg, err := config.Load(vals, env.Getenv)
	if err != nil {
		return nil, err
	}
	cfg.Fixture = ""
	return cfg, nil
}

// openConfig opens the stores of cfg (no listeners), logging to standard
// error at logLevel.
func openConfig(ctx context.Context, cfg *config.Config, env *Env, logLevel slog.Level) (*app.App, error) {
	log := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: logLevel}))
	return app.Open(ctx, cfg, log)
}
