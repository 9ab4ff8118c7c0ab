package smtp_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"

	smtp "github.com/cardsaddon/extprod/adapters/smtp"
	"github.com/cardsaddon/extprod/adapters/smtp/smtptest"
	"github.com/cardsaddon/extprod/ports"
)

// parsed is a delivered message read back with net/mail and mime/multipart.
type parsed struct {
	header  mail.Header
	from    []*mail.Address
	to      []*mail.Address
	subject string
	text    string
	html    string
}

func parse(t *testing.T, data []byte) parsed {
	t.Helper()
	is := is.New(t)
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	is.NoErr(err)
	p := parsed{header: msg.Header}
	p.from, err = msg.Header.AddressList("From")
	is.NoErr(err)
	p.to, err = msg.Header.AddressList("To")
	is.NoErr(err)
	p.subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	is.NoErr(err)
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	is.NoErr(err)
	is.Equal(mt, "multipart/alternative")
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		is.NoErr(err)
		b, err := io.ReadAll(part) // NextPart decodes quoted-printable
		is.NoErr(err)
		ct, _, err := mime.ParseMediaType(part.Header.Get("Content-Type"))
		is.NoErr(err)
		switch ct {
		case "text/plain":
			p.text = strings.ReplaceAll(string(b), "\r\n", "\n")
		case "text/html":
			p.html = strings.ReplaceAll(string(b), "\r\n", "\n")
		default:
			t.Fatalf("unexpected part %s", ct)
		}
	}
	return p
}

// users is a user store in memory; err, when set, is what every lookup returns.
type users struct {
	m   map[string]ports.User
	err error
}

func (u *users) User(_ context.Context, id string) (ports.User, error) {
	if u.err != nil {
		return ports.User{}, u.err
	}
	if v, ok := u.m[id]; ok {
		return v, nil
	}
	return ports.User{}, ports.ErrNotFound
}

// logBuf collects log lines from concurrent writers.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuf) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// The people of the tests. Nothing of theirs may appear in an error or a log line.
var (
	ada = ports.User{ID: "u-ada", State: ports.UserActive, GivenName: "Ada", FamilyName: "Lovelace",
		Email: "ada.lovelace@example.org"}
	grace = ports.User{ID: "u-grace", State: ports.UserActive, GivenName: "Grace", FamilyName: "Hopper",
		Email: "grace.hopper@example.org"}
	// an operator who signs in through OIDC and is not in the directory
	operatorID      = "oidc|op-7"
	operatorAddress = "Otto Operator <otto.operator@example.net>"
	approverOne     = "Approver One <approver.one@example.org>"
	approverTwo     = "approver.two@example.org"
	personal        = []string{"Ada", "Lovelace", "ada.lovelace", "Grace", "Hopper", "grace.hopper",
		"Otto", "otto.operator", "approver.one", "approver.two", "mallory", "Approver One", "s3cret"}
)

// setup is a relay and a mailer pointed at it.
type setup struct {
	relay  *smtptest.Relay
	mailer *smtp.Mailer
	logs   *logBuf
	pki    smtptest.PKI
}

func newSetup(t *testing.T, r *smtptest.Relay, store ports.UserStore, edit func(*smtp.Config)) setup {
	t.Helper()
	pki := smtptest.NewPKI(t)
	if r == nil {
		r = &smtptest.Relay{}
	}
	r.Start(t, pki, "127.0.0.1:0")
	logs := &logBuf{}
	cfg := smtp.Config{
		Host:      "127.0.0.1",
		Port:      r.Port,
		TLSConfig: &tls.Config{RootCAs: pki.Pool},
		From:      "Card service <cards@example.org>",
		Approvers: []string{approverOne, approverTwo},
		Addresses: map[string]string{operatorID: operatorAddress},
		Timeout:   10 * time.Second,
		Logger:    logs.logger(),
		CardURL:   func(id string) string { return "https://cards.example.org/cards/" + id },
	}
	if r.Implicit {
		cfg.TLS = smtp.ImplicitTLS
	}
	if edit != nil {
		edit(&cfg)
	}
	m, err := smtp.New(store, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return setup{relay: r, mailer: m, logs: logs, pki: pki}
}

func directory() *users {
	return &users{m: map[string]ports.User{ada.ID: ada, grace.ID: grace}}
}

var at = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func note(id string, k ports.NotificationKind, to ports.Recipient) ports.Notification {
	return ports.Notification{ID: id, Kind: k, To: to, CardID: "card-" + id, At: at}
}

// noPersonalData fails when s holds anything of the test's people.
func noPersonalData(t *testing.T, what, s string) {
	t.Helper()
	for _, p := range personal {
		if strings.Contains(strings.ToLower(s), strings.ToLower(p)) {
			t.Errorf("%s holds personal data %q: %s", what, p, s)
		}
	}
}
