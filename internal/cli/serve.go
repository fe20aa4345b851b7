package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/uapid/uapid/internal/app"
	"github.com/uapid/uapid/internal/config"
	"github.com/uapid/uapid/internal/reqctx"
	"github.com/uapid/uapid/internal/server"
)

func serve(args []string, env *Env) error {
	fs, vals := config.FlagSet("uapid serve", env.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: uapid serve [options]\n\noptions (flag, environment variable, default):\n")
		config.Usage(fs.Output())
	}
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr("serve takes no arguments (got %q)", pos[0])
	}
	cfg, err := config.Load(vals, env.Getenv)
	if err != nil {
		return err
	}
	return runServer(cfg, env, nil)
}

// runServer runs the server of cfg until SIGTERM, SIGINT or env.Stop.
// started, if set, runs once the listeners are bound (and --dev's data is
// in), before env.Ready is closed; the function it returns runs after the
// server stopped (`uapid webmail demo` starts and stops Dovecot and
// Roundcube this way).
func runServer(cfg *config.Config, env *Env, started func(context.Context, *app.App, *server.Server) (func(), error)) error {
	log := newLogger(cfg, env)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if env.Stop != nil {
		go func() {
			select {
			case <-env.Stop:
				stop()
			case <-ctx.Done():
			}
		}()
	}
	// The data directory holds the generated certificate and the runtime
	// file the command-line tools read, whatever the store.
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("cannot create data directory: %v", err)
	}
	a, err := app.Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	srv, err := server.New(a)
	if err != nil {
		return err
	}
	if err := srv.Listen(env.Stdout); err != nil {
		return err
	}
	if cfg.Dev {
		if err := devSetup(ctx, a, srv, env); err != nil {
			return err
		}
	}
	if started != nil {
		cleanup, err := started(ctx, a, srv)
		if err != nil {
			return err
		}
		defer cleanup()
	}
	if env.Ready != nil {
		close(env.Ready)
	}
	go sweepLoop(ctx, a, log)
	log.Info("uapid started", "version", Version(), "data", cfg.DataDir, "pid", os.Getpid())
	if err := srv.Serve(ctx, 30*time.Second); err != nil {
		return err
	}
	log.Info("uapid stopped")
	return nil
}

// sweepLoop removes expired sessions (dropping their temporary database
// users) and then orphaned temporary users, at start and every
// --sweep-interval.
func sweepLoop(ctx context.Context, a *app.App, log *slog.Logger) {
	t := time.NewTicker(a.Config.SweepInterval)
	defer t.Stop()
	for {
		n, err := a.Sessions.Sweep(ctx, 1000)
		if err != nil && ctx.Err() == nil {
			log.Error("session sweep failed", "error", err.Error())
		} else if n > 0 {
			log.Info("expired sessions removed", "count", n)
		}
		n, err = a.OAuth.Sweep(ctx)
		if err != nil && ctx.Err() == nil {
			log.Error("OAuth code and token sweep failed", "error", err.Error())
		} else if n > 0 {
			log.Debug("expired OAuth codes and tokens removed", "count", n)
		}
		n, err = a.SweepTempUsers(ctx)
		if err != nil && ctx.Err() == nil {
			log.Error("temporary user sweep failed", "error", err.Error())
		} else if n > 0 {
			log.Info("orphaned temporary database users dropped", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func newLogger(cfg *config.Config, env *Env) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.LogFormat == "json" {
		return slog.New(reqctx.Handler{Handler: slog.NewJSONHandler(env.Stderr, opts)})
	}
	return slog.New(reqctx.Handler{Handler: slog.NewTextHandler(env.Stderr, opts)})
}
