package bench

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// op sends one request and checks its answer. errExhausted ends the run
// (a pool of pre-created sessions is used up).
type op func(ctx context.Context) error

var errExhausted = errors.New("pool exhausted")

// runSpec describes one measured run.
type runSpec struct {
	workers          int
	warmup, duration time.Duration
	// rate > 0 runs open-loop: request k of the run is due at start +
	// k/rate (worker w takes every w-th slot) and its latency counts from
	// when it was due, so a stalled server is not hidden by clients that
	// wait (no coordinated omission). rate == 0 runs closed-loop: each
	// worker sends its next request as soon as the previous one answered.
	rate float64
	// newOp makes worker w's op (each worker has its own connection).
	newOp func(w int) (op, error)
	// until, if set, ends the measurement early when it is closed.
	until <-chan struct{}
	// onMeasure, if set, is called when the warm-up ends.
	onMeasure func()
}

// result is what a run measured.
type result struct {
	requests, errors int64
	elapsed          time.Duration
	lat              []time.Duration // sorted
	firstErr         string
	exhausted        bool
	// cpu is the CPU time (user + system) this process used during the
	// measurement: server and load generator together.
	cpu time.Duration
}

// cpuTime is the CPU time this process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (r *result) rps() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.requests) / r.elapsed.Seconds()
}

// quantile returns the q-quantile latency (nearest rank).
func (r *result) quantile(q float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	i := int(float64(len(r.lat))*q+0.999999) - 1
	return r.lat[min(max(i, 0), len(r.lat)-1)]
}

// drive runs spec and returns what it measured.
func drive(ctx context.Context, spec runSpec) (*result, error) {
	ops := make([]op, spec.workers)
	for w := range ops {
		o, err := spec.newOp(w)
		if err != nil {
			return nil, err
		}
		ops[w] = o
	}
	start := time.Now()
	from := start.Add(spec.warmup)
	deadline := from.Add(spec.duration)

	var (
		stopOnce sync.Once
		stopped  = make(chan struct{})
		stopAt   atomic.Int64 // unix nanos of an early end
		exhaust  atomic.Bool
	)
	stop := func() {
		stopOnce.Do(func() {
			stopAt.Store(time.Now().UnixNano())
			close(stopped)
		})
	}
	if spec.until != nil {
		go func() {
			select {
			case <-spec.until:
				stop()
			case <-stopped:
			}
		}()
	}
	timer := time.AfterFunc(time.Until(deadline), func() {
		stopOnce.Do(func() { close(stopped) })
	})
	defer timer.Stop()
	var cpuFrom atomic.Int64
	cpuFrom.Store(-1)
	tm := time.AfterFunc(time.Until(from), func() {
		cpuFrom.Store(int64(cpuTime()))
		if spec.onMeasure != nil {
			spec.onMeasure()
		}
	})
	defer tm.Stop()

	type sample struct {
		end time.Time
		lat time.Duration
		err bool
	}
	type wres struct {
		samples  []sample
		firstErr string
	}
	res := make([]wres, spec.workers)
	var wg sync.WaitGroup
	for w := range spec.workers {
		wg.Go(func() {
			r := &res[w]
			r.samples = make([]sample, 0, 4096)
			for k := 0; ; k++ {
				var due time.Time
				if spec.rate > 0 {
					due = start.Add(time.Duration(float64(k*spec.workers+w) / spec.rate * float64(time.Second)))
					if d := time.Until(due); d > 0 {
						t := time.NewTimer(d)
						select {
						case <-t.C:
						case <-stopped:
							t.Stop()
							return
						}
					}
				} else {
					due = time.Now()
				}
				select {
				case <-stopped:
					return
				default:
				}
				if ctx.Err() != nil {
					return
				}
				err := ops[w](ctx)
				if errors.Is(err, errExhausted) {
					exhaust.Store(true)
					stop()
					return
				}
				if due.Before(from) {
					continue // warm-up
				}
				r.samples = append(r.samples, sample{end: time.Now(), lat: time.Since(due), err: err != nil})
				if err != nil && r.firstErr == "" {
					r.firstErr = err.Error()
				}
			}
		})
	}
	wg.Wait()
	cpuEnd := cpuTime()
	end := deadline
	if n := stopAt.Load(); n != 0 && time.Unix(0, n).Before(deadline) {
		end = time.Unix(0, n)
	}
	out := &result{elapsed: end.Sub(from), exhausted: exhaust.Load()}
	if c := cpuFrom.Load(); c >= 0 {
		out.cpu = cpuEnd - time.Duration(c)
	}
	if out.elapsed < 0 {
		out.elapsed = 0
	}
	for _, r := range res {
		for _, s := range r.samples {
			if s.end.After(end) {
				continue // answered after the window closed
			}
			out.lat = append(out.lat, s.lat)
			if s.err {
				out.errors++
			}
		}
		if out.firstErr == "" {
			out.firstErr = r.firstErr
		}
	}
	out.requests = int64(len(out.lat))
	slices.Sort(out.lat)
	if ctx.Err() != nil {
		return out, ctx.Err()
	}
	return out, nil
}

// client is one keep-alive HTTPS connection (HTTP/1.1, as most cPanel
// API clients use).
type client struct {
	hc  *http.Client
	buf bytes.Buffer
}

func newClient(tc *tls.Config) *client {
	tr := &http.Transport{
		TLSClientConfig:     tc,
		MaxIdleConnsPerHost: 1,
		MaxConnsPerHost:     1,
		DisableCompression:  true,
		IdleConnTimeout:     5 * time.Minute,
	}
	return &client{hc: &http.Client{
		Transport:     tr,
		Timeout:       60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// do sends req and reads the whole answer; body is valid until the next do.
func (c *client) do(req *http.Request) (*http.Response, []byte, error) {
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	c.buf.Reset()
	_, err = c.buf.ReadFrom(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, nil, err
	}
	return resp, c.buf.Bytes(), nil
}

func (c *client) close() { c.hc.CloseIdleConnections() }

// statusErr describes an unexpected answer briefly.
func statusErr(resp *http.Response, body []byte) error {
	if len(body) > 200 {
		body = body[:200]
	}
	return fmt.Errorf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(body))
}
