package smtp

import (
	"context"
	"crypto/tls"
	"net"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
	gosmtp "github.com/wneessen/go-mail/smtp"
)

// deliver runs one SMTP session for one message: connect, TLS, authenticate, MAIL, RCPT, DATA.
// Each step has Config.Timeout; the caller's context bounds the whole session (its deadline
// caps every step, and its cancellation closes the connection). Nothing is sent before TLS and
// authentication have succeeded, and the envelope recipients are exactly the checked addresses.
func (m *Mailer) deliver(ctx context.Context, id string, to []string, msg *gomail.Msg) *Error {
	step := "dial"
	fail := func(err error) *Error { return classify(ctx, id, step, err) }
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	addr := net.JoinHostPort(m.cfg.Host, strconv.Itoa(m.cfg.Port))
	dialCtx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	raw, err := m.cfg.Dial(dialCtx, "tcp", addr)
	cancel()
	if err != nil {
		return fail(err)
	}
	defer raw.Close()
	stop := context.AfterFunc(ctx, func() { _ = raw.Close() })
	defer stop()
	deadline := func() {
		d := time.Now().Add(m.cfg.Timeout)
		if cd, ok := ctx.Deadline(); ok && cd.Before(d) {
			d = cd
		}
		_ = raw.SetDeadline(d)
	}

	conn := raw
	if m.cfg.TLS == ImplicitTLS {
		step = "tls"
		deadline()
		tc := tls.Client(raw, m.tlsConfig())
		if err := tc.HandshakeContext(ctx); err != nil {
			return fail(err)
		}
		conn = tc
	}

	step = "greeting"
	deadline()
	c, err := gosmtp.NewClient(conn, m.cfg.Host)
	if err != nil {
		return fail(err)
	}
	defer c.Close()

	step = "hello"
	deadline()
	if err := c.Hello(m.cfg.HELO); err != nil {
		return fail(err)
	}

	if m.cfg.TLS == StartTLS {
		step = "starttls"
		if ok, _ := c.Extension("STARTTLS"); !ok {
			_ = c.Quit()
			return &Error{Kind: ErrTLS, Notification: id, Step: step, detail: "the relay does not offer STARTTLS"}
		}
		deadline()
		if err := c.StartTLS(m.tlsConfig()); err != nil {
			return fail(err)
		}
	}

	if m.cfg.Username != "" {
		step = "auth"
		ok, mechs := c.Extension("AUTH")
		if !ok || !hasWord(mechs, "PLAIN") {
			_ = c.Quit()
			return &Error{Kind: ErrAuth, Notification: id, Step: step, detail: "the relay does not offer AUTH PLAIN"}
		}
		deadline()
		if err := c.Auth(gosmtp.PlainAuth("", m.cfg.Username, m.cfg.Password, m.cfg.Host, false)); err != nil {
			return fail(err)
		}
	}

	step = "mail"
	deadline()
	if err := c.Mail("<" + m.cfg.EnvelopeFrom + ">"); err != nil {
		return fail(err)
	}
	step = "rcpt"
	for _, a := range to {
		deadline()
		if err := c.Rcpt("<" + a + ">"); err != nil {
			return fail(err)
		}
	}
	step = "data"
	deadline()
	w, err := c.Data()
	if err != nil {
		return fail(err)
	}
	if _, err := msg.WriteTo(w); err != nil {
		return fail(err)
	}
	deadline()
	if err := w.Close(); err != nil {
		return fail(err)
	}
	// The relay accepted the mail; a failing QUIT changes nothing about that.
	deadline()
	_ = c.Quit()
	return nil
}

// tlsConfig is a copy of Config.TLSConfig completed with safe defaults.
func (m *Mailer) tlsConfig() *tls.Config {
	var c *tls.Config
	if m.cfg.TLSConfig != nil {
		c = m.cfg.TLSConfig.Clone()
	} else {
		c = &tls.Config{}
	}
	if c.ServerName == "" {
		c.ServerName = m.cfg.Host
	}
	if c.MinVersion == 0 {
		c.MinVersion = tls.VersionTLS12
	}
	return c
}

func hasWord(list, w string) bool {
	for _, f := range strings.Fields(list) {
		if strings.EqualFold(f, w) {
			return true
		}
	}
	return false
}
