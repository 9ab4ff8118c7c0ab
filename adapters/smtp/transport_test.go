package smtp_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"
	"github.com/matryer/is"

	smtp "github.com/cardsaddon/extprod/adapters/smtp"
	"github.com/cardsaddon/extprod/adapters/smtp/smtptest"
	"github.com/cardsaddon/extprod/ports"
)

// send runs Send under the test's own deadline: a Send that does not return in time fails the
// test instead of hanging it.
func send(t *testing.T, m *smtp.Mailer, ctx context.Context, n ports.Notification, within time.Duration) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- m.Send(ctx, n) }()
	select {
	case err := <-done:
		return err
	case <-time.After(within):
		t.Fatalf("Send did not return within %s", within)
		return nil
	}
}

// TestRelayDownThenBack: a relay that is down gives ports.ErrUnavailable, so the notification
// stays pending; once the relay is back, the pending notification is sent.
func TestRelayDownThenBack(t *testing.T) {
	is := is.New(t)
	pki := smtptest.NewPKI(t)
	// Reserve a port, then free it: nothing listens there now.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	is.NoErr(err)
	addr := l.Addr().String()
	port := l.Addr().(*net.TCPAddr).Port
	is.NoErr(l.Close())

	logs := &logBuf{}
	m, err := smtp.New(directory(), smtp.Config{
		Host: "127.0.0.1", Port: port, TLSConfig: &tls.Config{RootCAs: pki.Pool},
		From: "cards@example.org", Timeout: 10 * time.Second, Logger: logs.logger(),
	})
	is.NoErr(err)

	// A relay loop as the outbox runs it: what fails stays pending.
	pending := []ports.Notification{note("n-down", ports.NotifyCardOrdered, ports.Recipient{UserID: ada.ID})}
	relayPass := func() {
		var still []ports.Notification
		for _, n := range pending {
			if err := m.Send(context.Background(), n); err != nil {
				is.True(errors.Is(err, ports.ErrUnavailable)) // retryable
				var e *smtp.Error
				is.True(errors.As(err, &e))
				is.Equal(e.Step, "dial")
				noPersonalData(t, "error", err.Error())
				still = append(still, n)
			}
		}
		pending = still
	}
	relayPass()
	is.Equal(len(pending), 1) // still pending

	r := &smtptest.Relay{}
	r.Start(t, pki, addr) // the relay is back, on the same address
	relayPass()
	is.Equal(len(pending), 0)
	got := r.Next(t)
	is.Equal(got.Rcpts, []string{"ada.lovelace@example.org"})
	noPersonalData(t, "log", logs.String())
}

// TestSTARTTLSRequiredNotOffered: a relay that offers no STARTTLS gets neither credentials nor
// the mail.
func TestSTARTTLSRequiredNotOffered(t *testing.T) {
	is := is.New(t)
	r := &smtptest.Relay{NoTLS: true, Users: map[string]string{"mailer": "s3cret"}}
	s := newSetup(t, r, directory(), func(c *smtp.Config) { c.Username, c.Password = "mailer", "s3cret" })
	err := send(t, s.mailer, context.Background(), note("n-tls", ports.NotifyCardOrdered, ports.Recipient{UserID: ada.ID}), 20*time.Second)
	is.True(errors.Is(err, smtp.ErrTLS))
	is.True(!errors.Is(err, ports.ErrUnavailable))
	mails, auths := r.Counts()
	is.Equal(mails, 0)
	is.Equal(auths, 0)
	s.relay.None(t)
	noPersonalData(t, "error", err.Error())
}

// TestUntrustedCertificate: a certificate the mailer does not trust is a TLS failure.
func TestUntrustedCertificate(t *testing.T) {
	is := is.New(t)
	s := newSetup(t, nil, directory(), func(c *smtp.Config) { c.TLSConfig = &tls.Config{RootCAs: smtptest.NewPKI(t).Pool} })
	err := send(t, s.mailer, context.Background(), note("n-cert", ports.NotifyCardOrdered, ports.Recipient{UserID: ada.ID}), 20*time.Second)
	is.True(errors.Is(err, smtp.ErrTLS))
	mails, _ := s.relay.Counts()
	is.Equal(mails, 0)
}

// TestImplicitTLS: TLS from the first byte.
func TestImplicitTLS(t *testing.T) {
	is := is.New(t)
	s := newSetup(t, &smtptest.Relay{Implicit: true}, directory(), nil)
	is.NoErr(send(t, s.mailer, context.Background(), note("n-smtps", ports.NotifyCardOrdered, ports.Recipient{UserID: ada.ID}), 20*time.Second))
	got := s.relay.Next(t)
	is.True(got.TLS)
	is.Equal(got.Rcpts, []string{"ada.lovelace@example.org"})
}

// TestAuth: AUTH PLAIN over TLS, accepted and refused.
func TestAuth(t *testing.T) {
	tests := []struct {
		name     string
		relay    *smtptest.Relay
		user     string
		password string
		wantErr  error
	}{
		{name: "accepted", relay: &smtptest.Relay{Users: map[string]string{"mailer": "s3cret"}}, user: "mailer", password: "s3cret"},
		{name: "refused", relay: &smtptest.Relay{Users: map[string]string{"mailer": "s3cret"}}, user: "mailer", password: "wrong-s3cret",
			wantErr: smtp.ErrAuth},
		{name: "not offered", relay: &smtptest.Relay{}, user: "mailer", password: "s3cret", wantErr: smtp.ErrAuth},
		{name: "required but not configured", relay: &smtptest.Relay{Users: map[string]string{"mailer": "s3cret"}},
			wantErr: smtp.ErrAuth},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			s := newSetup(t, tc.relay, directory(), func(c *smtp.Config) { c.Username, c.Password = tc.user, tc.password })
			err := send(t, s.mailer, context.Background(), note("n-auth", ports.NotifyCardOrdered, ports.Recipient{UserID: ada.ID}), 20*time.Second)
			if tc.wantErr == nil {
				is.NoErr(err)
				got := s.relay.Next(t)
				is.Equal(got.AuthUser, "mailer")
				is.True(got.TLS)
				return
			}
			is.True(errors.Is(err, tc.wantErr))
			is.True(errors.Is(err, ports.ErrUnauthorized))
			s.relay.None(t)
			noPersonalData(t, "error", err.Error())
			noPersonalData(t, "log", s.logs.String())
		})
	}
}

// TestRelayReplies: a temporary refusal is retryable, a permanent one is not; the relay's reply
// text (which may echo an address) stays out of the error message.
func TestRelayReplies(t *testing.T) {
	tests := []struct {
		name    string
		code    int
		wantErr error
	}{
		{"temporary", 451, ports.ErrUnavailable},
		{"permanent", 550, smtp.ErrRefused},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			r := &smtptest.Relay{RcptErr: func(to string) error {
				return &gosmtp.SMTPError{Code: tc.code, EnhancedCode: gosmtp.EnhancedCode{tc.code / 100, 1, 1}, Message: to + ": mailbox unavailable"}
			}}
			s := newSetup(t, r, directory(), nil)
			err := send(t, s.mailer, context.Background(), note("n-rep", ports.NotifyCardOrdered, ports.Recipient{UserID: ada.ID}), 20*time.Second)
			is.True(errors.Is(err, tc.wantErr))
			var e *smtp.Error
			is.True(errors.As(err, &e))
			is.Equal(e.Code, tc.code)
			is.Equal(e.Step, "rcpt")
			is.True(strings.Contains(err.Error(), "n-rep"))
			noPersonalData(t, "error", err.Error())
			noPersonalData(t, "log", s.logs.String())
			is.True(strings.Contains(s.logs.String(), "step=rcpt"))
			s.relay.None(t)
		})
	}
}

// TestTimeouts: a relay that stalls is given up after Config.Timeout, and the caller's context
// bounds the whole send; each case has its own deadline.
func TestTimeouts(t *testing.T) {
	t.Run("no greeting", func(t *testing.T) {
		is := is.New(t)
		// A listener that accepts and never says a word.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		is.NoErr(err)
		t.Cleanup(func() { _ = l.Close() })
		accepted := make(chan net.Conn, 1)
		go func() {
			c, err := l.Accept()
			if err == nil {
				accepted <- c
			}
		}()
		t.Cleanup(func() {
			select {
			case c := <-accepted:
				_ = c.Close()
			default:
			}
		})
		m, err := smtp.New(nil, smtp.Config{Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port,
			From: "cards@example.org", Timeout: 200 * time.Millisecond, Addresses: map[string]string{operatorID: operatorAddress}})
		is.NoErr(err)
		err = send(t, m, context.Background(), note("n-stall", ports.NotifyOrderApproved, ports.Recipient{UserID: operatorID}), 10*time.Second)
		is.True(errors.Is(err, ports.ErrUnavailable))
		var e *smtp.Error
		is.True(errors.As(err, &e))
		is.Equal(e.Step, "greeting")
		is.True(strings.Contains(err.Error(), "timed out"))
	})
	t.Run("stall after the data", func(t *testing.T) {
		is := is.New(t)
		r := &smtptest.Relay{DataStall: make(chan struct{})}
		s := newSetup(t, r, directory(), func(c *smtp.Config) { c.Timeout = 200 * time.Millisecond })
		err := send(t, s.mailer, context.Background(), note("n-slow", ports.NotifyCardOrdered, ports.Recipient{UserID: ada.ID}), 10*time.Second)
		is.True(errors.Is(err, ports.ErrUnavailable))
		var e *smtp.Error
		is.True(errors.As(err, &e))
		is.Equal(e.Step, "data")
	})
	t.Run("context deadline shorter than the timeout", func(t *testing.T) {
		is := is.New(t)
		r := &smtptest.Relay{DataStall: make(chan struct{})}
		s := newSetup(t, r, directory(), func(c *smtp.Config) { c.Timeout = time.Hour })
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		err := send(t, s.mailer, ctx, note("n-ctx", ports.NotifyCardOrdered, ports.Recipient{UserID: ada.ID}), 10*time.Second)
		is.True(errors.Is(err, ports.ErrUnavailable))
		is.True(errors.Is(err, context.DeadlineExceeded))
	})
	t.Run("context cancelled mid-session", func(t *testing.T) {
		is := is.New(t)
		r := &smtptest.Relay{DataStall: make(chan struct{}), DataSeen: make(chan struct{}, 1)}
		s := newSetup(t, r, directory(), func(c *smtp.Config) { c.Timeout = time.Hour })
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			<-r.DataSeen // the relay holds the mail: cancel now
			cancel()
		}()
		err := send(t, s.mailer, ctx, note("n-cancel", ports.NotifyCardOrdered, ports.Recipient{UserID: ada.ID}), 10*time.Second)
		is.True(errors.Is(err, ports.ErrUnavailable))
		is.True(errors.Is(err, context.Canceled))
	})
}
