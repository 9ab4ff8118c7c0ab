package smtp

import (
	"context"
	"errors"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/cardsaddon/extprod/ports"
)

// recipient is one resolved, checked address with the display name templates greet.
type recipient struct {
	addr mail.Address
}

// Limits on what user data may put into a mail.
const (
	maxNameRunes   = 128
	maxReasonRunes = 4000
	maxSubject     = 250
)

// resolve finds the addresses of a notification's recipient (docs/use-case.md §6): the
// approvers from the configuration; a user through the user store, else through
// Config.Addresses. An address from the store that is not one plain address (a list, a
// display name, brackets, line breaks) is not used: it counts as no address.
func (m *Mailer) resolve(ctx context.Context, n ports.Notification) ([]recipient, *Error) {
	fail := func(kind error, cause error) *Error {
		return &Error{Kind: kind, Notification: n.ID, Step: "resolve", cause: cause}
	}
	if n.To.Approvers {
		if len(m.approvers) == 0 {
			return nil, fail(ErrNoAddress, nil)
		}
		return m.approvers, nil
	}
	if n.To.UserID == "" {
		return nil, fail(ErrInvalid, errors.New("no recipient"))
	}
	if m.users != nil {
		u, err := m.users.User(ctx, n.To.UserID)
		switch {
		case err == nil:
			if safeAddress(u.Email) {
				name := cleanName(strings.TrimSpace(u.GivenName + " " + u.FamilyName))
				return []recipient{{mail.Address{Name: name, Address: u.Email}}}, nil
			}
			if u.Email != "" {
				m.log.WarnContext(ctx, "the user store gave an address that is not one plain address; it is not used",
					"notification", n.ID, "kind", n.Kind, "card", n.CardID)
			}
		case errors.Is(err, ports.ErrNotFound):
		default:
			// The directory could not answer: try again later rather than guess.
			e := fail(ports.ErrUnavailable, err)
			e.detail = "user store failed"
			return nil, e
		}
	}
	if a, ok := m.addresses[n.To.UserID]; ok {
		return []recipient{{a}}, nil
	}
	return nil, fail(ErrNoAddress, nil)
}

// safeAddress accepts exactly one plain address (local@domain), as mail.ParseAddress reads it,
// with no display name, no brackets, no list separators, no spaces and no control characters:
// an address that can go into RCPT TO and a To header without changing either.
func safeAddress(s string) bool {
	if s == "" || len(s) > 254 || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || unicode.IsSpace(r) || unicode.IsControl(r) || !unicode.IsGraphic(r) {
			return false
		}
	}
	if strings.ContainsAny(s, "<>,;:\"()[]\\") || strings.Count(s, "@") != 1 {
		return false
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	return at > 0 && at < len(s)-1
}

// cleanName makes user data fit for a display name: control characters (line breaks
// included) become spaces, runs of spaces one, and it is cut to maxNameRunes.
func cleanName(s string) string { return cleanLine(s, maxNameRunes) }

// cleanLine makes text fit for a one-line header (the subject): like cleanName.
func cleanLine(s string, max int) string {
	return truncate(strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || !unicode.IsPrint(r)
	}), " "), max)
}

// cleanText makes multi-line user data (a rejection reason) fit for a body: line breaks become
// "\n", other control characters spaces, and it is cut to max runes.
func cleanText(s string, max int) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\n':
			return r
		case r == '\r' || r == '\u2028' || r == '\u2029' || r == '\u0085':
			return '\n'
		case unicode.IsControl(r) || r == utf8.RuneError:
			return ' '
		}
		return r
	}, s)
	return truncate(strings.TrimSpace(s), max)
}

func truncate(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return string(r[:max]) + "…"
}
