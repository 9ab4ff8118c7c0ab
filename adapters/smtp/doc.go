// Package smtp is the mailer of extprod over SMTP: it implements [ports.Mailer] and sends the
// four notifications of docs/use-case.md §6 (approval needed, order approved, order rejected,
// card ordered) through a mail relay.
//
// It lives in its own module so that the core module carries no mail library.
//
// # Why go-mail
//
// The standard library's net/smtp is frozen: it gets no new features and composes no MIME
// messages. This package uses github.com/wneessen/go-mail v0.8.1 (v0.8.2 needs a newer Go): its
// Msg composes the message (RFC 2047 encoded headers, quoted-printable text and HTML parts,
// multipart/alternative), and its smtp package speaks the protocol. The mailer drives that SMTP
// client step by step rather than through go-mail's Client, so that every step has its own
// timeout, the caller's context bounds the whole session (go-mail's Client honours it only
// while dialling), and every failure maps to one typed error.
//
// # Configuration
//
// [New] takes the user store (which may be nil) and a [Config]. Host and From are required;
// every other zero value is a safe default documented on its field: STARTTLS required on port
// 587 (or ImplicitTLS on 465; NoTLS only for a relay on the same machine), TLS 1.2 or newer
// against the system's roots, AUTH PLAIN only when Username is set and only over TLS, 30s per
// step. New checks the configuration and tries every template on sample data, so mistakes show
// at start-up.
//
// # Templates
//
// Each kind K ("approval_needed", "order_approved", "order_rejected", "card_ordered") has three
// templates, embedded as English defaults: "K.subject.txt" and "K.txt" are text/template, "K.html"
// is html/template (which escapes everything it is given). They are executed with a
// [TemplateData]: card id, kind, notification id, the rejection reason, the recipient's display
// name, whether the mail goes to the approvers, the time, and a link when Config.CardURL is set.
// No address and no photo are ever given to a template.
//
// To replace or translate them, copy [DefaultTemplates] and edit the copies, then set
// Config.Templates to an fs.FS that holds them under the same names (for example an embed.FS
// with fs.Sub). A file the host's FS lacks keeps its default, so a host may replace only the
// subjects. One Mailer speaks one language; a host that needs several wraps one Mailer per
// language behind its own ports.Mailer. The rendered subject is cut to one line.
//
// # Recipients
//
// A notification names a user id or the approvers as a group (docs/use-case.md §6). A user id is
// resolved through the user store; when the store does not know the user or has no usable
// address for it (an operator who signs in through OIDC but is not in the directory), through
// Config.Addresses. The approvers' addresses come from Config.Approvers; they get one mail
// together. When no address is found, that one mail is dropped: Send logs it and returns an
// error matching [ErrNoAddress] (and ports.ErrNotFound), so the failure is visible in the outbox
// and a retry is known to be useless; the order is never affected.
//
// Data from users can never add a header or change a recipient: an address from the directory
// is used only if it is exactly one plain address (no display name, no list, no brackets, no
// spaces or line breaks), else it counts as missing; names, the reason and the card id are
// cleaned of control characters, and go-mail encodes header values. The envelope recipients are
// exactly the checked addresses.
//
// # Retries and the Message-ID
//
// The Message-ID is derived from the notification's id (a hash, at Config.MessageIDDomain), and
// the Date is the notification's time, so a retried send is recognisably the same mail. A relay
// that cannot be reached, stalls past the timeout or answers with a temporary 4xx makes Send
// return an [*Error] matching ports.ErrUnavailable: the notification stays pending in the
// outbox and goes out on a later try. [ErrTLS], [ErrAuth] and [ErrRefused] report a relay that
// offers no STARTTLS or fails the handshake, refuses the credentials, or refuses the mail for
// good; nothing was sent in any of these cases.
//
// # What is never logged
//
// Log lines and error messages carry notification ids, card ids, kinds, steps and SMTP reply
// codes. They never carry an address, a name, a reason, the relay's reply text (which may echo
// an address) or the credentials.
package smtp
