package smtp

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/mail"

	gomail "github.com/wneessen/go-mail"

	"github.com/cardsaddon/extprod/ports"
)

// Mailer sends the notifications of docs/use-case.md §6 through an SMTP relay. It is safe for
// concurrent use: every Send opens its own session.
type Mailer struct {
	cfg       Config
	users     ports.UserStore
	log       *slog.Logger
	from      mail.Address
	approvers []recipient
	addresses map[string]mail.Address
	templates map[ports.NotificationKind]kindTemplates
}

var _ ports.Mailer = (*Mailer)(nil)

// New returns a Mailer. users resolves user ids to addresses; it may be nil, then only
// Config.Addresses does. The configuration is checked here (and the templates tried on sample
// data), so a mistake shows at start-up, not at the first mail.
func New(users ports.UserStore, cfg Config) (*Mailer, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("smtp: invalid config: %w", err)
	}
	tpl, err := loadTemplates(cfg.Templates)
	if err != nil {
		return nil, fmt.Errorf("smtp: templates: %w", err)
	}
	m := &Mailer{cfg: cfg, users: users, log: cfg.Logger, templates: tpl, addresses: map[string]mail.Address{}}
	from, _ := configAddress(cfg.From) // validated
	m.from = *from
	for _, s := range cfg.Approvers {
		a, _ := configAddress(s)
		m.approvers = append(m.approvers, recipient{*a})
	}
	for id, s := range cfg.Addresses {
		a, _ := configAddress(s)
		m.addresses[id] = *a
	}
	return m, nil
}

// Send renders and sends one notification. Sending the same notification again sends the same
// mail again (same Message-ID, same Date, same content): a reader's client, or a relay that
// deduplicates, recognises the repeat.
//
// A notification whose recipient has no usable address is dropped: Send logs it and returns an
// error matching ErrNoAddress (and ports.ErrNotFound), which a retry will not cure. A relay that
// cannot be reached, times out or answers 4xx gives ports.ErrUnavailable: the notification stays
// pending and a later Send delivers it. Every error is an [*Error] without personal data.
func (m *Mailer) Send(ctx context.Context, n ports.Notification) error {
	err := m.send(ctx, n)
	if err == nil {
		m.log.DebugContext(ctx, "notification sent", "notification", n.ID, "kind", n.Kind, "card", n.CardID)
		return nil
	}
	if err.Kind == ErrNoAddress {
		m.log.WarnContext(ctx, "notification dropped: no usable address for its recipient",
			"notification", n.ID, "kind", n.Kind, "card", n.CardID, "approvers", n.To.Approvers)
		return err
	}
	// The caller decides how loud a failure is; this line says where it happened.
	m.log.DebugContext(ctx, "notification not sent", "notification", n.ID, "kind", n.Kind, "card", n.CardID,
		"step", err.Step, "reply", err.Code, "err", err.Kind.Error())
	return err
}

func (m *Mailer) send(ctx context.Context, n ports.Notification) *Error {
	kt, ok := m.templates[n.Kind]
	if !ok {
		return &Error{Kind: ErrInvalid, Notification: n.ID, Step: "render", detail: "unknown kind"}
	}
	rcpts, rerr := m.resolve(ctx, n)
	if rerr != nil {
		return rerr
	}
	msg, rerr := m.compose(n, kt, rcpts)
	if rerr != nil {
		return rerr
	}
	to := make([]string, len(rcpts))
	for i, r := range rcpts {
		to[i] = r.addr.Address
	}
	return m.deliver(ctx, n.ID, to, msg)
}

// compose builds the message. Everything that comes from people has been cleaned by then, and
// go-mail encodes header values (RFC 2047), so no value can end a header line.
func (m *Mailer) compose(n ports.Notification, kt kindTemplates, rcpts []recipient) (*gomail.Msg, *Error) {
	data := TemplateData{
		Kind:           n.Kind,
		NotificationID: n.ID,
		CardID:         cleanLine(n.CardID, maxNameRunes),
		Reason:         cleanText(n.Reason, maxReasonRunes),
		ToApprovers:    n.To.Approvers,
		At:             n.At,
	}
	if data.At.IsZero() {
		data.At = m.cfg.Clock.Now()
	}
	if !n.To.Approvers && len(rcpts) == 1 {
		data.RecipientName = rcpts[0].addr.Name
	}
	if m.cfg.CardURL != nil && n.CardID != "" {
		data.CardURL = m.cfg.CardURL(data.CardID)
	}
	subject, text, html, err := kt.render(data)
	if err != nil {
		return nil, &Error{Kind: ErrInvalid, Notification: n.ID, Step: "render", cause: err, detail: "template failed"}
	}

	sum := sha256.Sum256([]byte("extprod notification\x00" + n.ID))
	id := hex.EncodeToString(sum[:16])
	msg := gomail.NewMsg(gomail.WithBoundary("extprod-"+id), gomail.WithNoDefaultUserAgent())
	from := m.from
	msg.FromMailAddress(&from)
	to := make([]*mail.Address, len(rcpts))
	for i := range rcpts {
		a := rcpts[i].addr
		to[i] = &a
	}
	msg.ToMailAddress(to...)
	msg.Subject(subject)
	msg.SetMessageIDWithValue(id + "@" + m.cfg.MessageIDDomain)
	msg.SetDateWithValue(data.At)
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetBodyString(gomail.TypeTextPlain, text)
	msg.AddAlternativeString(gomail.TypeTextHTML, html)
	return msg, nil
}
