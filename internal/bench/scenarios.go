package bench

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/uapid/uapid/internal/session"
	"github.com/uapid/uapid/internal/uapi"
)

const (
	fnCreate = "create_webmail_session_for_mail_user"
	fnCheck  = "create_webmail_session_for_mail_user_check_password"
)

// target is what the scenarios talk to: a uapid's cPanel and Webmail TLS
// listeners and the credentials of the accounts and mailboxes there.
type target struct {
	cpanel, webmail string // host:port
	tls             *tls.Config
	// mailboxes the API callers own: each with the caller's credentials.
	boxes []targetBox
}

type targetBox struct {
	query     string // "login=…&domain=…&remote_address=127.0.0.1"
	tokenAuth string // "cpanel user:TOKEN"
	basicAuth string // "Basic …" of the account ("" when unknown)
	password  string // the mailbox's password ("" when unknown)
}

func newTargetBoxes(c *cast) []targetBox {
	out := make([]targetBox, len(c.mailboxes))
	for i, m := range c.mailboxes {
		a := c.accounts[m.account]
		out[i] = targetBox{
			query:     url.Values{"login": {m.login}, "domain": {m.domain}, "remote_address": {"127.0.0.1"}}.Encode(),
			tokenAuth: "cpanel " + a.user + ":" + a.token,
			basicAuth: "Basic " + base64.StdEncoding.EncodeToString([]byte(a.user+":"+c.passwords[a.pw])),
			password:  c.passwords[m.pw],
		}
	}
	return out
}

// createOp is one create_webmail_session_for_mail_user call (token or
// Basic auth) or its _check_password variant; onOK, if set, gets the
// session and token of each success.
func (t *target) createOp(w int, basic, check bool, onOK func(sess, token string)) (op, error) {
	c := newClient(t.tls)
	rnd := rand.New(rand.NewPCG(uint64(w), 0x5eed))
	return func(ctx context.Context) error {
		req, err := t.createRequest(ctx, t.boxes[rnd.IntN(len(t.boxes))], basic, check)
		if err != nil {
			return err
		}
		resp, body, err := c.do(req)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`"status":1`)) {
			return statusErr(resp, body)
		}
		if onOK != nil {
			sess, token, ok := sessionFromBody(body)
			if !ok {
				return fmt.Errorf("no session in the answer: %s", body)
			}
			onOK(sess, token)
		}
		return nil
	}, nil
}

// createRequest builds one create call for mailbox b.
func (t *target) createRequest(ctx context.Context, b targetBox, basic, check bool) (*http.Request, error) {
	fn := fnCreate
	if check {
		fn = fnCheck
	}
	u := "https://" + t.cpanel + "/execute/Session/" + fn + "?" + b.query
	if check {
		u += "&password=" + url.QueryEscape(b.password)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if basic {
		req.Header.Set("Authorization", b.basicAuth)
	} else {
		req.Header.Set("Authorization", b.tokenAuth)
	}
	return req, nil
}

// sessionFromBody picks "session" and "token" out of a create answer.
func sessionFromBody(body []byte) (sess, token string, ok bool) {
	sess, ok1 := jsonField(body, "session")
	token, ok2 := jsonField(body, "token")
	return sess, token, ok1 && ok2
}

// jsonField returns the string value of "key" (values without escapes
// only, which holds for sessions and tokens).
func jsonField(body []byte, key string) (string, bool) {
	k := []byte(`"` + key + `":"`)
	i := bytes.Index(body, k)
	if i < 0 {
		return "", false
	}
	rest := body[i+len(k):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return "", false
	}
	return string(rest[:j]), true
}

// loginOp redeems one login session on the Webmail port and expects the
// 302 with the session cookie.
func (t *target) loginOp(c *client, sess, token string, ctx context.Context) error {
	form := "session=" + url.QueryEscape(sess)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+t.webmail+token+"/login/", strings.NewReader(form))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, body, err := c.do(req)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Set-Cookie") == "" {
		return statusErr(resp, body)
	}
	return nil
}

// pool is a set of unused login sessions taken once each.
type pool struct {
	items []poolItem
	next  atomic.Int64
}

type poolItem struct{ sess, token string }

func (p *pool) take() (poolItem, bool) {
	i := p.next.Add(1) - 1
	if i >= int64(len(p.items)) {
		return poolItem{}, false
	}
	return p.items[i], true
}

func (t *target) poolLoginOp(p *pool) (op, error) {
	c := newClient(t.tls)
	return func(ctx context.Context) error {
		it, ok := p.take()
		if !ok {
			return errExhausted
		}
		return t.loginOp(c, it.sess, it.token, ctx)
	}, nil
}

// mixedOp alternates: a create, then the login of the session it got.
func (t *target) mixedOp(w int) (op, error) {
	var pending *poolItem
	create, err := t.createOp(w, false, false, func(sess, token string) {
		pending = &poolItem{sess, token}
	})
	if err != nil {
		return nil, err
	}
	wc := newClient(t.tls)
	return func(ctx context.Context) error {
		if pending == nil {
			return create(ctx)
		}
		it := *pending
		pending = nil
		return t.loginOp(wc, it.sess, it.token, ctx)
	}, nil
}

// baselineOp sends the create request's shape to the bare server.
func (t *target) baselineOp(addr string, w int) (op, error) {
	c := newClient(t.tls)
	rnd := rand.New(rand.NewPCG(uint64(w), 0xba5e))
	base := "https://" + addr + "/execute/Session/" + fnCreate + "?"
	return func(ctx context.Context) error {
		b := t.boxes[rnd.IntN(len(t.boxes))]
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+b.query, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", b.tokenAuth)
		resp, body, err := c.do(req)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return statusErr(resp, body)
		}
		return nil
	}, nil
}

// fillPoolDirect creates n login sessions through the session manager of
// an in-process server, as create_webmail_session_for_mail_user would
// (same record, origin 127.0.0.1), in parallel.
func fillPoolDirect(ctx context.Context, m *session.Manager, c *cast, n int) (*pool, error) {
	p := &pool{items: make([]poolItem, n)}
	origin := netip.MustParseAddr("127.0.0.1")
	var next atomic.Int64
	var wg sync.WaitGroup
	// Many writers at once, so that the store commits them in batches.
	const workers = 64
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(n) || ctx.Err() != nil {
					return
				}
				mb := c.mailboxes[int(i)%len(c.mailboxes)]
				a := c.accounts[mb.account]
				rec, secret, err := m.Create(ctx, session.NewSession{
					User: mb.login + "@" + mb.domain, Account: a.user, Service: uapi.ServiceWebmail,
					Tag: session.TagMailUser, Creator: a.user, Method: fnCreate, Origin: origin, Locale: "en",
				})
				if err != nil {
					errs <- err
					return
				}
				p.items[i] = poolItem{secret, rec.Token}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	return p, ctx.Err()
}

// fillPoolHTTP creates n login sessions through the API of a running
// server with workers connections.
func fillPoolHTTP(ctx context.Context, t *target, n, workers int) (*pool, error) {
	p := &pool{}
	var mu sync.Mutex
	var made atomic.Int64
	var wg sync.WaitGroup
	var firstErr error
	var errOnce sync.Once
	for w := range workers {
		o, err := t.createOp(w, false, false, func(sess, token string) {
			mu.Lock()
			p.items = append(p.items, poolItem{sess, token})
			mu.Unlock()
		})
		if err != nil {
			return nil, err
		}
		wg.Go(func() {
			for made.Add(1) <= int64(n) && ctx.Err() == nil {
				if err := o(ctx); err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, fmt.Errorf("pre-creating login sessions: %w", firstErr)
	}
	return p, ctx.Err()
}
