package smtp_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"log/slog"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
	"github.com/matryer/is"

	smtp "github.com/cardsaddon/extprod/adapters/smtp"
	"github.com/cardsaddon/extprod/ports"
)

// received is one mail as the test relay got it.
type received struct {
	from     string
	rcpts    []string
	data     []byte
	authUser string
	tls      bool
}

// relay is a real SMTP server (go-smtp) on a loopback port, with STARTTLS on a certificate made
// in the test.
type relay struct {
	addr   string
	port   int
	server *gosmtp.Server
	got    chan received

	mu       sync.Mutex
	mails    int // MAIL commands seen
	authSeen int // AUTH attempts seen

	// behaviour, set before start
	users     map[string]string            // AUTH PLAIN users; nil: no AUTH offered
	rcptErr   func(to string) error        // refuses a recipient
	dataStall chan struct{}                // when set, DATA blocks until it is closed
	dataSeen  chan struct{}                // when set, signalled when DATA begins
	noTLS     bool                         // offer no STARTTLS
	implicit  bool                         // TLS from the first byte
	listener  func() (net.Listener, error) // overrides the listener
}

// testPKI is a self-signed certificate for 127.0.0.1 and a pool that trusts it.
type testPKI struct {
	cert tls.Certificate
	pool *x509.CertPool
}

func newPKI(t *testing.T) testPKI {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test relay"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return testPKI{cert: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool: pool}
}

// start runs the relay on addr ("127.0.0.1:0" for a fresh port) until the test ends.
func (r *relay) start(t *testing.T, pki testPKI, addr string) {
	t.Helper()
	if r.got == nil {
		r.got = make(chan received, 16)
	}
	s := gosmtp.NewServer(gosmtp.BackendFunc(func(c *gosmtp.Conn) (gosmtp.Session, error) {
		return &session{r: r, conn: c}, nil
	}))
	s.Domain = "relay.test"
	s.ErrorLog = log.New(io.Discard, "", 0)
	tlsConf := &tls.Config{Certificates: []tls.Certificate{pki.cert}, MinVersion: tls.VersionTLS12}
	if !r.noTLS {
		s.TLSConfig = tlsConf
	}
	var l net.Listener
	var err error
	switch {
	case r.listener != nil:
		l, err = r.listener()
	case r.implicit:
		l, err = tls.Listen("tcp", addr, tlsConf)
	default:
		l, err = net.Listen("tcp", addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	r.server = s
	r.addr = l.Addr().String()
	_, port, _ := net.SplitHostPort(r.addr)
	r.port, _ = strconv.Atoi(port)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Serve(l)
	}()
	t.Cleanup(func() {
		if r.dataStall != nil {
			select {
			case <-r.dataStall:
			default:
				close(r.dataStall)
			}
		}
		_ = s.Close()
		_ = l.Close() // Close misses a listener that Serve has not registered yet
		<-done
	})
}

func (r *relay) counts() (mails, auths int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mails, r.authSeen
}

// next returns the next delivered mail, or fails the test after a generous deadline.
func (r *relay) next(t *testing.T) received {
	t.Helper()
	select {
	case m := <-r.got:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no mail arrived")
		return received{}
	}
}

// none checks that nothing was delivered. Send returns after the relay answered the final dot,
// so a delivered mail is in the channel by then.
func (r *relay) none(t *testing.T) {
	t.Helper()
	select {
	case m := <-r.got:
		t.Fatalf("unexpected mail to %v", m.rcpts)
	default:
	}
}

type session struct {
	r     *relay
	conn  *gosmtp.Conn
	user  string
	from  string
	rcpts []string
}

func (s *session) AuthMechanisms() []string {
	if s.r.users == nil {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(string) (sasl.Server, error) {
	s.r.mu.Lock()
	s.r.authSeen++
	s.r.mu.Unlock()
	return sasl.NewPlainServer(func(_, username, password string) error {
		if want, ok := s.r.users[username]; ok && want == password {
			s.user = username
			return nil
		}
		return &gosmtp.SMTPError{Code: 535, EnhancedCode: gosmtp.EnhancedCode{5, 7, 8}, Message: "bad credentials"}
	}), nil
}

func (s *session) Mail(from string, _ *gosmtp.MailOptions) error {
	s.r.mu.Lock()
	s.r.mails++
	s.r.mu.Unlock()
	if s.r.users != nil && s.user == "" {
		return &gosmtp.SMTPError{Code: 530, EnhancedCode: gosmtp.EnhancedCode{5, 7, 0}, Message: "authentication required"}
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	if s.r.rcptErr != nil {
		if err := s.r.rcptErr(to); err != nil {
			return err
		}
	}
	s.rcpts = append(s.rcpts, to)
	return nil
}

func (s *session) Data(rd io.Reader) error {
	if s.r.dataSeen != nil {
		select {
		case s.r.dataSeen <- struct{}{}:
		default:
		}
	}
	if s.r.dataStall != nil {
		<-s.r.dataStall
		_, _ = io.Copy(io.Discard, rd)
		return &gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 0, 0}, Message: "gave up"}
	}
	b, err := io.ReadAll(rd)
	if err != nil {
		return err
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.r.got <- received{from: s.from, rcpts: append([]string(nil), s.rcpts...), data: b, authUser: s.user, tls: isTLS}
	return nil
}

func (s *session) Reset()        { s.from, s.rcpts = "", nil }
func (s *session) Logout() error { return nil }

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
	relay  *relay
	mailer *smtp.Mailer
	logs   *logBuf
	pki    testPKI
}

func newSetup(t *testing.T, r *relay, store ports.UserStore, edit func(*smtp.Config)) setup {
	t.Helper()
	pki := newPKI(t)
	if r == nil {
		r = &relay{}
	}
	r.start(t, pki, "127.0.0.1:0")
	logs := &logBuf{}
	cfg := smtp.Config{
		Host:      "127.0.0.1",
		Port:      r.port,
		TLSConfig: &tls.Config{RootCAs: pki.pool},
		From:      "Card service <cards@example.org>",
		Approvers: []string{approverOne, approverTwo},
		Addresses: map[string]string{operatorID: operatorAddress},
		Timeout:   10 * time.Second,
		Logger:    logs.logger(),
		CardURL:   func(id string) string { return "https://cards.example.org/cards/" + id },
	}
	if r.implicit {
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
