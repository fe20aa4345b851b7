package server

import (
	"net"
	"net/netip"
	"sync"
)

// limitListener caps the connections one client address may hold open at
// once, so that a slow client (slow-loris) cannot take more than its share
// of the server. A connection over the cap is closed at once.
type limitListener struct {
	net.Listener
	max int

	mu  sync.Mutex
	per map[netip.Addr]int
}

func newLimitListener(l net.Listener, max int) net.Listener {
	if max <= 0 {
		return l
	}
	return &limitListener{Listener: l, max: max, per: map[netip.Addr]int{}}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ap, err := netip.ParseAddrPort(c.RemoteAddr().String())
		if err != nil {
			return c, nil
		}
		ip := ap.Addr().Unmap()
		l.mu.Lock()
		if l.per[ip] >= l.max {
			l.mu.Unlock()
			c.Close()
			continue
		}
		l.per[ip]++
		l.mu.Unlock()
		return &limitConn{Conn: c, release: func() { l.release(ip) }}, nil
	}
}

func (l *limitListener) release(ip netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.per[ip]--; l.per[ip] <= 0 {
		delete(l.per, ip)
	}
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
