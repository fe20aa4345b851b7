package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/uapid/uapid/internal/store"
	"github.com/uapid/uapid/internal/store/sqlstore"
)

// runBig is the large-store phase: the server is stopped, o.Prefill live
// sessions are bulk-inserted, and the server is started again on that
// store (without the fixture, which the store already holds) to measure
// the start-up, create-1m (closed loop) and create-1m-open (at the open
// rate). Then o.Sweep expired sessions are inserted and the sweep of the
// server (Manager.Sweep in batches of 1000, as the sweep loop of `serve`
// runs it) is triggered while create runs open-loop at the same rate,
// until the sweep ends: that is the sweep scenario. Last, the process's
// resident memory is read.
func (r *runner) runBig(ctx context.Context) error {
	if err := r.u.stop(); err != nil {
		return err
	}
	r.u = nil
	dbPath := filepath.Join(r.dir, "uapid.db")
	r.logf("prefill: inserting %d live sessions", r.o.Prefill)
	db, err := sqlstore.OpenSQLite(ctx, dbPath, sqlstore.Options{})
	if err != nil {
		return err
	}
	d, err := prefill(ctx, db.Sessions(), r.o.Prefill, len(r.cast.accounts), "live", time.Now().Add(24*time.Hour))
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	r.rep.Facts["prefill_live_sessions"] = r.o.Prefill
	r.rep.Facts["prefill_s"] = round(d.Seconds(), 1)
	r.logf("prefill: %d live sessions in %v", r.o.Prefill, d.Round(time.Millisecond))
	if fi, err := os.Stat(dbPath); err == nil {
		r.rep.Facts["store_bytes_after_prefill"] = fi.Size()
	}
	runtime.GC()
	if err := r.runChild(ctx); err != nil {
		return err
	}

	u, err := startUapid(ctx, r.dir, "", r.logw, nil)
	if err != nil {
		return err
	}
	r.u = u
	r.t.cpanel, r.t.webmail = u.cpanel, u.webmail
	r.rep.Facts["startup_ms"] = round(float64(u.startup.Microseconds())/1000, 1)
	r.logf("uapid started on %d sessions in %v", r.o.Prefill, u.startup.Round(time.Microsecond))
	if n, err := u.app.Store.List(ctx, "bench00000"); err == nil {
		r.logf("store check: account bench00000 has %d sessions", len(n))
	}

	if r.has(scBig) {
		res, err := r.measure(ctx, scBig, r.spec(func(w int) (op, error) { return r.t.createOp(w, false, false, nil) }),
			fmt.Sprintf("token auth, %d live sessions in the store", r.o.Prefill))
		if err != nil {
			return err
		}
		// The open-loop rate on this store: the same fraction of its own
		// peak (an absolute --rate stays as given).
		if f, ok := rateFraction(r.o.Rate); ok {
			r.rate = f * res.rps()
		}
	}
	if r.has(scBigOpen) {
		s := r.spec(func(w int) (op, error) { return r.t.createOp(w, false, false, nil) })
		s.rate = r.rate
		if _, err := r.measure(ctx, scBigOpen, s, fmt.Sprintf("open loop, %d live sessions", r.o.Prefill)); err != nil {
			return err
		}
	}
	if r.has(scSweep) && r.o.Sweep > 0 {
		if err := r.runSweep(ctx); err != nil {
			return err
		}
	}
	rss, hwm := procStatus("VmRSS"), procStatus("VmHWM")
	r.rep.Facts["rss_mib"] = round(float64(rss)/1024, 1)
	r.rep.Facts["rss_peak_mib"] = round(float64(hwm)/1024, 1)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	r.rep.Facts["go_heap_inuse_mib"] = round(float64(ms.HeapInuse)/(1<<20), 1)
	r.logf("resident memory of this process (server + load generator): %.1f MiB now, %.1f MiB peak", float64(rss)/1024, float64(hwm)/1024)
	return nil
}

func (r *runner) runSweep(ctx context.Context) error {
	r.logf("sweep: inserting %d expired sessions", r.o.Sweep)
	sessions := r.u.app.Store
	d, err := prefill(ctx, sessions, r.o.Sweep, len(r.cast.accounts), "expired", time.Now().Add(-time.Hour))
	if err != nil {
		return err
	}
	r.logf("sweep: %d expired sessions inserted in %v", r.o.Sweep, d.Round(time.Millisecond))
	r.rep.Facts["sweep_expired_sessions"] = r.o.Sweep
	// The sweep is over when none of the inserted expired sessions is
	// left. The server's sweep itself goes on as long as it finds expired
	// sessions, and sessions created earlier in this run expire meanwhile,
	// so its return is not the signal: the last inserted one (the sweep
	// goes by expiry, and it expires last) is watched instead.
	last := prefillID("expired", r.o.Sweep-1)
	done := make(chan struct{})
	var (
		removed  int
		swErr    error
		took     time.Duration
		complete bool
	)
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	s := r.spec(func(w int) (op, error) { return r.t.createOp(w, false, false, nil) })
	s.rate = r.rate
	s.duration = r.o.SweepMax
	s.until = done
	swept := make(chan struct{})
	s.onMeasure = func() {
		t0 := time.Now()
		go func() {
			defer close(swept)
			removed, swErr = r.u.app.Sessions.Sweep(sctx, 1000)
		}()
		go func() {
			defer close(done)
			tick := time.NewTicker(250 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-sctx.Done():
					return
				case <-tick.C:
				}
				if _, err := sessions.Get(sctx, last); errors.Is(err, store.ErrNotFound) {
					took, complete = time.Since(t0), true
					return
				}
			}
		}()
	}
	if _, err := r.measure(ctx, scSweep, s, fmt.Sprintf("open loop while %d expired sessions are swept", r.o.Sweep)); err != nil {
		stop()
		return err
	}
	stop() // the sweep (still running, or at --sweep-max) ends here
	<-done
	<-swept
	if swErr != nil && !errors.Is(swErr, context.Canceled) {
		return fmt.Errorf("sweep: %w", swErr)
	}
	r.rep.Facts["sweep_complete"] = complete
	r.rep.Facts["sweep_removed_total"] = removed
	if complete {
		r.rep.Facts["sweep_s"] = round(took.Seconds(), 2)
		r.rep.Facts["sweep_rows_per_s"] = round(float64(r.o.Sweep)/took.Seconds(), 0)
		r.logf("sweep: the %d expired sessions removed in %v (%d sessions removed in all)", r.o.Sweep, took.Round(time.Millisecond), removed)
	} else {
		n, err := prefillLeft(ctx, sessions, r.o.Sweep)
		if err != nil {
			return fmt.Errorf("sweep: %w", err)
		}
		r.rep.Facts["sweep_expired_left"] = n
		r.rep.Facts["sweep_rows_per_s"] = round(float64(r.o.Sweep-n)/r.o.SweepMax.Seconds(), 0)
		r.logf("sweep: stopped at --sweep-max with %d of the %d expired sessions left (%d sessions removed in all)", n, r.o.Sweep, removed)
	}
	return nil
}

// runChild measures `uapid serve` as a process of its own on the prefilled
// store, when this program is the uapid binary: the time from exec to the
// listening lines, and its peak resident memory after a short create load
// (the in-process figures include the load generator).
func (r *runner) runChild(ctx context.Context) error {
	exe, err := os.Executable()
	if err != nil || filepath.Base(exe) != "uapid" {
		r.logf("child process: skipped (not running as the uapid binary)")
		return nil
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "UAPID_") {
			env = append(env, kv)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(cctx, exe, "serve", "--data", r.dir, "--hostname", "localhost",
		"--cpanel-addr", "127.0.0.1:0", "--webmail-addr", "127.0.0.1:0", "--whm-addr", "off")
	cmd.Env = env
	cmd.Stderr = r.logw
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	addrs := map[string]string{}
	sc := bufio.NewScanner(out)
	for len(addrs) < 2 && sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 4 && f[0] == "listening" {
			addrs[strings.TrimPrefix(f[1], "service=")] = strings.TrimPrefix(f[3], "addr=")
		}
	}
	startup := time.Since(t0)
	if addrs["cpaneld"] == "" {
		return fmt.Errorf("child uapid serve: no cPanel listener (see %s)", filepath.Join(r.dir, "server.log"))
	}
	go io.Copy(io.Discard, out)
	r.rep.Facts["child_startup_ms"] = round(float64(startup.Microseconds())/1000, 1)
	r.logf("child process: uapid serve listening on %d sessions %v after exec", r.o.Prefill, startup.Round(time.Millisecond))
	ct := *r.t
	ct.cpanel = addrs["cpaneld"]
	spec := runSpec{workers: r.o.Concurrency, warmup: time.Second, duration: min(r.o.Duration, 5*time.Second),
		newOp: func(w int) (op, error) { return ct.createOp(w, false, false, nil) }}
	res, err := drive(ctx, spec)
	if err != nil {
		return err
	}
	if res.errors > 0 {
		return fmt.Errorf("child process: %d errors (%s)", res.errors, res.firstErr)
	}
	hwm := procStatusOf(cmd.Process.Pid, "VmHWM")
	r.rep.Facts["child_create_rps"] = round(res.rps(), 1)
	r.rep.Facts["child_rss_peak_mib"] = round(float64(hwm)/1024, 1)
	r.logf("child process: %.0f creates/s, peak RSS %.1f MiB", res.rps(), float64(hwm)/1024)
	return nil
}

// procStatus reads a "kB" field of /proc/self/status (0 when unknown).
func procStatus(field string) int64 { return procStatusOf(0, field) }

// procStatusOf reads a "kB" field of /proc/PID/status (pid 0: this
// process).
func procStatusOf(pid int, field string) int64 {
	path := "/proc/self/status"
	if pid != 0 {
		path = fmt.Sprintf("/proc/%d/status", pid)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}
