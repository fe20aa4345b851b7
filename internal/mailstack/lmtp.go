package mailstack

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/textproto"
	"strings"
	"time"
)

// Deliver hands one message to the LMTP server at addr (RFC 2033) for
// the recipient to, as a mail server's MTA would: the message ends up in
// the mailbox through Dovecot, which asks uapid whether the user exists.
// msg is the message with CRLF or LF line ends; lines starting with "."
// are escaped here.
func Deliver(ctx context.Context, addr, from, to string, msg []byte) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("lmtp: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	} else {
		conn.SetDeadline(time.Now().Add(30 * time.Second))
	}
	tp := textproto.NewConn(conn)
	if _, _, err := tp.ReadResponse(220); err != nil {
		return fmt.Errorf("lmtp greeting: %w", err)
	}
	steps := []struct {
		cmd  string
		code int
	}{
		{"LHLO uapid.invalid", 250},
		{"MAIL FROM:<" + from + ">", 250},
		{"RCPT TO:<" + to + ">", 250},
		{"DATA", 354},
	}
	for _, s := range steps {
		if err := tp.PrintfLine("%s", s.cmd); err != nil {
			return fmt.Errorf("lmtp %s: %w", s.cmd, err)
		}
		if _, msg, err := tp.ReadResponse(s.code); err != nil {
			return fmt.Errorf("lmtp %s: %w (%s)", strings.Fields(s.cmd)[0], err, msg)
		}
	}
	w := tp.DotWriter()
	sc := bufio.NewScanner(strings.NewReader(string(msg)))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if _, err := fmt.Fprintf(w, "%s\n", strings.TrimRight(sc.Text(), "\r")); err != nil {
			return err
		}
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("lmtp data: %w", err)
	}
	// One reply per recipient.
	if _, msg, err := tp.ReadResponse(250); err != nil {
		return fmt.Errorf("lmtp delivery to %s: %w (%s)", to, err, msg)
	}
	tp.PrintfLine("QUIT")
	return nil
}
