package smtp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/mail"
	"strings"
	"time"

	"github.com/cardsaddon/extprod/ports"
)

// TLSMode says how the connection to the relay is protected.
type TLSMode int

const (
	// StartTLS (the zero value) connects in plain text and requires STARTTLS before anything
	// else is said: a relay that does not offer it gets no credentials and no mail (ErrTLS).
	// Default port 587.
	StartTLS TLSMode = iota
	// ImplicitTLS speaks TLS from the first byte ("SMTPS"). Default port 465.
	ImplicitTLS
	// NoTLS sends in plain text. Only for a relay on the same machine; credentials are then
	// refused unless the relay is localhost. Default port 25.
	NoTLS
)

func (m TLSMode) String() string {
	switch m {
	case StartTLS:
		return "starttls"
	case ImplicitTLS:
		return "implicit-tls"
	case NoTLS:
		return "none"
	}
	return fmt.Sprintf("TLSMode(%d)", int(m))
}

// Default values that Config.WithDefaults fills in.
const (
	DefaultTimeout = 30 * time.Second
	DefaultHELO    = "localhost"
)

// Config configures a [Mailer]. Host and From are required; every other zero value is a safe
// default, documented on the field.
type Config struct {
	// Host is the relay's host name (or IP address). Required. It is also the name the relay's
	// certificate must carry, unless TLSConfig.ServerName says otherwise.
	Host string
	// Port of the relay. Zero: 587 with StartTLS, 465 with ImplicitTLS, 25 with NoTLS.
	Port int
	// TLS is the protection of the connection. Zero: StartTLS, required.
	TLS TLSMode
	// TLSConfig is cloned for every connection. Nil: the system's roots, TLS 1.2 at least,
	// ServerName = Host.
	TLSConfig *tls.Config
	// Username and Password authenticate with AUTH PLAIN, only over TLS (or to localhost).
	// Empty Username: no authentication.
	Username string
	Password string
	// HELO is the name the mailer introduces itself with. Empty: "localhost".
	HELO string
	// Timeout bounds each step of a session: the connection, the TLS handshake, every command
	// and the message data. Zero: 30s. The caller's context bounds the whole send.
	Timeout time.Duration
	// Dial opens the TCP connection. Nil: a net.Dialer.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)

	// From is the sender, "noreply@example.org" or "Card service <noreply@example.org>".
	// Required.
	From string
	// EnvelopeFrom is the SMTP envelope sender (where bounces go). Empty: From's address.
	EnvelopeFrom string
	// MessageIDDomain is the right-hand side of Message-IDs. Empty: the domain of From.
	MessageIDDomain string

	// Approvers are the addresses that receive "approval needed", one mail to all of them.
	// Each may carry a display name ("Card approvers <approvers@example.org>").
	Approvers []string
	// Addresses maps a user id to an address, for users the user store does not know or
	// knows without an address (an operator who signs in through OIDC but is not in the
	// directory). The user store wins when it has a usable address. Values may carry a display
	// name.
	Addresses map[string]string

	// Templates replaces the embedded templates: a file here with the name of a default
	// template replaces it; the others keep the default. See the package documentation for
	// the names and the data. Nil: the defaults (English).
	Templates fs.FS
	// CardURL, when set, gives the link to a card that templates show as .CardURL.
	CardURL func(cardID string) string

	// Logger receives the mailer's log lines, which carry ids and never names or addresses.
	// Nil: discard.
	Logger *slog.Logger
	// Clock dates a mail whose notification has no time. Nil: the system clock.
	Clock ports.Clock
}

// LogValue lets a host log its configuration: the relay and the modes, never the password,
// the sender or any recipient's address.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("host", c.Host), slog.Int("port", c.Port), slog.String("tls", c.TLS.String()),
		slog.Bool("auth", c.Username != ""), slog.Duration("timeout", c.Timeout),
		slog.Int("approvers", len(c.Approvers)), slog.Int("addresses", len(c.Addresses)),
		slog.Bool("templates", c.Templates != nil),
	)
}

// WithDefaults returns a copy of c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.Port == 0 {
		switch c.TLS {
		case ImplicitTLS:
			c.Port = 465
		case NoTLS:
			c.Port = 25
		default:
			c.Port = 587
		}
	}
	if c.HELO == "" {
		c.HELO = DefaultHELO
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Dial == nil {
		d := &net.Dialer{}
		c.Dial = d.DialContext
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Clock == nil {
		c.Clock = ports.SystemClock
	}
	if from, err := mail.ParseAddress(c.From); err == nil {
		if c.EnvelopeFrom == "" {
			c.EnvelopeFrom = from.Address
		}
		if c.MessageIDDomain == "" {
			c.MessageIDDomain = from.Address[strings.LastIndexByte(from.Address, '@')+1:]
		}
	}
	return c
}

// validate checks a configuration that WithDefaults completed. Its errors name fields and user
// ids, never an address.
func (c Config) validate() error {
	var errs []error
	if c.Host == "" || strings.ContainsAny(c.Host, "\r\n\t /") {
		errs = append(errs, errors.New("Host is required and must be a host name"))
	}
	if c.Port < 1 || c.Port > 65535 {
		errs = append(errs, errors.New("Port is out of range"))
	}
	if c.TLS < StartTLS || c.TLS > NoTLS {
		errs = append(errs, errors.New("TLS is not a known mode"))
	}
	if c.Timeout < 0 {
		errs = append(errs, errors.New("Timeout is negative"))
	}
	if strings.ContainsAny(c.HELO, "\r\n\t ") {
		errs = append(errs, errors.New("HELO must be one word"))
	}
	if _, err := configAddress(c.From); err != nil {
		errs = append(errs, fmt.Errorf("From: %w", err))
	}
	if !safeAddress(c.EnvelopeFrom) {
		errs = append(errs, errors.New("EnvelopeFrom is not a single plain address"))
	}
	if !validDomain(c.MessageIDDomain) {
		errs = append(errs, errors.New("MessageIDDomain is not a domain name"))
	}
	for i, a := range c.Approvers {
		if _, err := configAddress(a); err != nil {
			errs = append(errs, fmt.Errorf("Approvers[%d]: %w", i, err))
		}
	}
	for id, a := range c.Addresses {
		if _, err := configAddress(a); err != nil {
			errs = append(errs, fmt.Errorf("Addresses[%q]: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

// validDomain accepts a DNS name of letters, digits, hyphens and dots.
func validDomain(d string) bool {
	if d == "" || len(d) > 253 {
		return false
	}
	for _, r := range d {
		ok := r == '.' || r == '-' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
		if !ok {
			return false
		}
	}
	return true
}

// configAddress parses an address the host configured: one address, optionally with a display
// name.
func configAddress(s string) (*mail.Address, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, errors.New("contains a line break")
	}
	list, err := mail.ParseAddressList(s)
	if err != nil || len(list) != 1 {
		return nil, errors.New("is not a single address")
	}
	a := list[0]
	if !safeAddress(a.Address) {
		return nil, errors.New("is not a plain address")
	}
	a.Name = cleanName(a.Name)
	return a, nil
}
