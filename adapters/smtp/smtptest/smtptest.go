// Package smtptest runs a real SMTP relay for tests: emersion/go-smtp's server on a loopback
// port, with STARTTLS (or TLS from the first byte) on a certificate made in the test, AUTH PLAIN
// when asked for, and relays that refuse recipients or stall in DATA on purpose.
//
// It is for tests only, the smtp adapter's and a host's end-to-end tests: nothing in it is fit
// for production, and no production code should import it.
package smtptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"math/big"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
)

// Mail is one mail as the relay got it.
type Mail struct {
	// From is the envelope sender (MAIL FROM).
	From string
	// Rcpts are the envelope recipients (RCPT TO), in the order given.
	Rcpts []string
	// Data is the message as sent after DATA.
	Data []byte
	// AuthUser is the user the session authenticated as; "" without AUTH.
	AuthUser string
	// TLS tells whether the mail came over TLS.
	TLS bool
}

// Relay is a real SMTP server. Its zero value accepts every mail, offers STARTTLS and no AUTH;
// the fields before Addr change that and must be set before [Relay.Start].
type Relay struct {
	// Users are the AUTH PLAIN users and their passwords; nil offers no AUTH. With users, MAIL
	// is refused until the session has authenticated.
	Users map[string]string
	// RcptErr, when set, refuses a recipient with the error it returns.
	RcptErr func(to string) error
	// DataStall, when set, has DATA block until it is closed (or the test ends), then refuse the
	// mail with a temporary error.
	DataStall chan struct{}
	// DataSeen, when set, is signalled (without blocking) when DATA begins.
	DataSeen chan struct{}
	// NoTLS offers no STARTTLS.
	NoTLS bool
	// Implicit speaks TLS from the first byte.
	Implicit bool
	// Got receives every delivered mail before the relay answers the final dot, so a mail the
	// client saw accepted is in it; Start makes it with room for 16 mails if it is nil. A relay
	// whose Got is full holds the next mail until the test takes one.
	Got chan Mail

	// Addr is the relay's address, host:port, once started.
	Addr string
	// Port is the port of Addr.
	Port int

	mu       sync.Mutex
	mails    int // MAIL commands seen
	authSeen int // AUTH attempts seen
}

// PKI is a self-signed certificate for 127.0.0.1 and localhost, and a pool that trusts it.
type PKI struct {
	// Cert is the relay's certificate, with its key.
	Cert tls.Certificate
	// Pool trusts Cert: a client's RootCAs.
	Pool *x509.CertPool
}

// NewPKI makes a PKI valid from an hour ago to an hour from now.
func NewPKI(t testing.TB) PKI {
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
	return PKI{Cert: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, Pool: pool}
}

// Start runs the relay on addr ("127.0.0.1:0" for a fresh port) with pki's certificate until
// the test ends. A relay with NoTLS and without Implicit needs no certificate: the zero PKI does.
func (r *Relay) Start(t testing.TB, pki PKI, addr string) {
	t.Helper()
	if r.Got == nil {
		r.Got = make(chan Mail, 16)
	}
	s := gosmtp.NewServer(gosmtp.BackendFunc(func(c *gosmtp.Conn) (gosmtp.Session, error) {
		return &session{r: r, conn: c}, nil
	}))
	s.Domain = "relay.test"
	s.ErrorLog = log.New(io.Discard, "", 0)
	tlsConf := &tls.Config{Certificates: []tls.Certificate{pki.Cert}, MinVersion: tls.VersionTLS12}
	if !r.NoTLS {
		s.TLSConfig = tlsConf
	}
	var l net.Listener
	var err error
	if r.Implicit {
		l, err = tls.Listen("tcp", addr, tlsConf)
	} else {
		l, err = net.Listen("tcp", addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	r.Addr = l.Addr().String()
	_, port, _ := net.SplitHostPort(r.Addr)
	r.Port, _ = strconv.Atoi(port)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Serve(l)
	}()
	t.Cleanup(func() {
		if r.DataStall != nil {
			select {
			case <-r.DataStall:
			default:
				close(r.DataStall)
			}
		}
		_ = s.Close()
		_ = l.Close() // Close misses a listener that Serve has not registered yet
		<-done
	})
}

// Counts returns how many MAIL commands and AUTH attempts the relay has seen.
func (r *Relay) Counts() (mails, auths int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mails, r.authSeen
}

// Next returns the next delivered mail, or fails the test after a generous deadline.
func (r *Relay) Next(t testing.TB) Mail {
	t.Helper()
	select {
	case m := <-r.Got:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no mail arrived")
		return Mail{}
	}
}

// None checks that nothing was delivered. A client's send returns after the relay answered the
// final dot, so a delivered mail is in Got by then.
func (r *Relay) None(t testing.TB) {
	t.Helper()
	select {
	case m := <-r.Got:
		t.Fatalf("unexpected mail to %v", m.Rcpts)
	default:
	}
}

// Delivered takes the mails in Got without waiting for more.
func (r *Relay) Delivered() []Mail {
	var out []Mail
	for {
		select {
		case m := <-r.Got:
			out = append(out, m)
		default:
			return out
		}
	}
}

type session struct {
	r     *Relay
	conn  *gosmtp.Conn
	user  string
	from  string
	rcpts []string
}

func (s *session) AuthMechanisms() []string {
	if s.r.Users == nil {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(string) (sasl.Server, error) {
	s.r.mu.Lock()
	s.r.authSeen++
	s.r.mu.Unlock()
	return sasl.NewPlainServer(func(_, username, password string) error {
		if want, ok := s.r.Users[username]; ok && want == password {
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
	if s.r.Users != nil && s.user == "" {
		return &gosmtp.SMTPError{Code: 530, EnhancedCode: gosmtp.EnhancedCode{5, 7, 0}, Message: "authentication required"}
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	if s.r.RcptErr != nil {
		if err := s.r.RcptErr(to); err != nil {
			return err
		}
	}
	s.rcpts = append(s.rcpts, to)
	return nil
}

func (s *session) Data(rd io.Reader) error {
	if s.r.DataSeen != nil {
		select {
		case s.r.DataSeen <- struct{}{}:
		default:
		}
	}
	if s.r.DataStall != nil {
		<-s.r.DataStall
		_, _ = io.Copy(io.Discard, rd)
		return &gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 0, 0}, Message: "gave up"}
	}
	b, err := io.ReadAll(rd)
	if err != nil {
		return err
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.r.Got <- Mail{From: s.from, Rcpts: append([]string(nil), s.rcpts...), Data: b, AuthUser: s.user, TLS: isTLS}
	return nil
}

func (s *session) Reset()        { s.from, s.rcpts = "", nil }
func (s *session) Logout() error { return nil }
