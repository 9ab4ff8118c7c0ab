package smtp_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/matryer/is"

	smtp "github.com/cardsaddon/extprod/adapters/smtp"
	"github.com/cardsaddon/extprod/adapters/smtp/smtptest"
	"github.com/cardsaddon/extprod/ports"
)

// TestSendDelivers: each of the four notifications arrives over STARTTLS with the right
// envelope and header recipients, subject, text and HTML parts.
func TestSendDelivers(t *testing.T) {
	s := newSetup(t, nil, directory(), nil)
	rejected := note("n-rej", ports.NotifyOrderRejected, ports.Recipient{UserID: operatorID})
	rejected.Reason = "Photo missing.\nPlease upload one first."
	tests := []struct {
		name     string
		n        ports.Notification
		rcpts    []string
		to       []string // header addresses
		toName   string   // display name of the only To, when one
		subject  string
		contains []string // in both parts
	}{
		{
			name:    "approval needed goes to the approvers",
			n:       note("n-appr", ports.NotifyApprovalNeeded, ports.Recipient{Approvers: true}),
			rcpts:   []string{"approver.one@example.org", "approver.two@example.org"},
			to:      []string{"approver.one@example.org", "approver.two@example.org"},
			subject: "Card order card-n-appr needs your approval",
			contains: []string{"card-n-appr", "https://cards.example.org/cards/card-n-appr",
				"waiting for an approver"},
		},
		{
			name:     "approved goes to the requester from the address map",
			n:        note("n-ok", ports.NotifyOrderApproved, ports.Recipient{UserID: operatorID}),
			rcpts:    []string{"otto.operator@example.net"},
			to:       []string{"otto.operator@example.net"},
			toName:   "Otto Operator",
			subject:  "Card order card-n-ok approved",
			contains: []string{"Hello Otto Operator,", "card-n-ok", "was approved"},
		},
		{
			name:     "rejected carries the reason",
			n:        rejected,
			rcpts:    []string{"otto.operator@example.net"},
			to:       []string{"otto.operator@example.net"},
			toName:   "Otto Operator",
			subject:  "Card order card-n-rej rejected",
			contains: []string{"was rejected", "Photo missing.", "Please upload one first."},
		},
		{
			name:     "card ordered goes to the cardholder from the directory",
			n:        note("n-ord", ports.NotifyCardOrdered, ports.Recipient{UserID: ada.ID}),
			rcpts:    []string{"ada.lovelace@example.org"},
			to:       []string{"ada.lovelace@example.org"},
			toName:   "Ada Lovelace",
			subject:  "Your card has been ordered",
			contains: []string{"Hello Ada Lovelace,", "card-n-ord", "has been ordered"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			is.NoErr(s.mailer.Send(context.Background(), tc.n))
			got := s.relay.Next(t)
			is.True(got.TLS) // STARTTLS happened before the mail
			is.Equal(got.From, "cards@example.org")
			if d := cmp.Diff(tc.rcpts, got.Rcpts); d != "" {
				t.Fatalf("envelope recipients (-want +got):\n%s", d)
			}
			p := parse(t, got.Data)
			var to []string
			for _, a := range p.to {
				to = append(to, a.Address)
			}
			if d := cmp.Diff(tc.to, to); d != "" {
				t.Fatalf("To (-want +got):\n%s", d)
			}
			if tc.toName != "" {
				is.Equal(p.to[0].Name, tc.toName)
			}
			is.Equal(len(p.from), 1)
			is.Equal(p.from[0].Address, "cards@example.org")
			is.Equal(p.from[0].Name, "Card service")
			is.Equal(p.subject, tc.subject)
			is.Equal(p.header.Get("Auto-Submitted"), "auto-generated")
			date, err := p.header.Date()
			is.NoErr(err)
			is.True(date.Equal(at)) // the notification's time
			for _, c := range tc.contains {
				is.True(strings.Contains(p.text, c))
				is.True(strings.Contains(p.html, strings.ReplaceAll(c, "\n", "")))
			}
			is.True(strings.HasPrefix(p.html, "<!DOCTYPE html>"))
		})
	}
	noPersonalData(t, "log", s.logs.String())
}

// TestMessageIDStableAcrossRetry: sending a notification again sends the same mail, Message-ID
// included; another notification gets another Message-ID.
func TestMessageIDStableAcrossRetry(t *testing.T) {
	is := is.New(t)
	s := newSetup(t, nil, directory(), nil)
	n := note("n-1", ports.NotifyCardOrdered, ports.Recipient{UserID: ada.ID})
	is.NoErr(s.mailer.Send(context.Background(), n))
	first := s.relay.Next(t)
	is.NoErr(s.mailer.Send(context.Background(), n)) // the relay retries: same notification
	second := s.relay.Next(t)
	is.NoErr(s.mailer.Send(context.Background(), note("n-2", ports.NotifyCardOrdered, ports.Recipient{UserID: ada.ID})))
	other := s.relay.Next(t)

	id1 := parse(t, first.Data).header.Get("Message-Id")
	is.True(strings.HasPrefix(id1, "<") && strings.HasSuffix(id1, "@example.org>"))
	is.True(!strings.Contains(id1, "n-1")) // derived, not copied
	is.Equal(parse(t, second.Data).header.Get("Message-Id"), id1)
	is.True(parse(t, other.Data).header.Get("Message-Id") != id1)
	if d := cmp.Diff(string(first.Data), string(second.Data)); d != "" {
		t.Fatalf("a retry is not the same mail (-first +second):\n%s", d)
	}
}

// TestRecipientResolution: a user id through the user store, else the address map; the
// approvers from the configuration; no address drops that one mail with a log line.
func TestRecipientResolution(t *testing.T) {
	noEmail := ports.User{ID: operatorID, State: ports.UserActive, GivenName: "Otto"}
	tests := []struct {
		name    string
		store   ports.UserStore
		edit    func(*smtp.Config)
		to      ports.Recipient
		want    []string // envelope recipients; nil: not sent
		wantErr error
		logged  string
	}{
		{name: "directory", store: directory(), to: ports.Recipient{UserID: grace.ID},
			want: []string{"grace.hopper@example.org"}},
		{name: "not in the directory: address map", store: directory(), to: ports.Recipient{UserID: operatorID},
			want: []string{"otto.operator@example.net"}},
		{name: "in the directory without an address: address map",
			store: &users{m: map[string]ports.User{operatorID: noEmail}}, to: ports.Recipient{UserID: operatorID},
			want: []string{"otto.operator@example.net"}},
		{name: "no user store: address map", to: ports.Recipient{UserID: operatorID},
			want: []string{"otto.operator@example.net"}},
		{name: "the directory wins over the map", store: directory(), to: ports.Recipient{UserID: ada.ID},
			edit: func(c *smtp.Config) { c.Addresses[ada.ID] = "other@example.net" },
			want: []string{"ada.lovelace@example.org"}},
		{name: "nowhere: dropped", store: directory(), to: ports.Recipient{UserID: "u-unknown"},
			wantErr: smtp.ErrNoAddress, logged: "notification dropped"},
		{name: "no approvers configured: dropped", store: directory(), to: ports.Recipient{Approvers: true},
			edit: func(c *smtp.Config) { c.Approvers = nil }, wantErr: smtp.ErrNoAddress, logged: "notification dropped"},
		{name: "directory down: retry later", store: &users{err: errors.New("ldap down for ada.lovelace@example.org")},
			to: ports.Recipient{UserID: ada.ID}, wantErr: ports.ErrUnavailable},
		{name: "no recipient", store: directory(), to: ports.Recipient{}, wantErr: smtp.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			s := newSetup(t, nil, tc.store, tc.edit)
			err := s.mailer.Send(context.Background(), note("n-r", ports.NotifyOrderApproved, tc.to))
			if tc.wantErr != nil {
				is.True(errors.Is(err, tc.wantErr))
				var e *smtp.Error
				is.True(errors.As(err, &e))
				is.Equal(e.Notification, "n-r")
				noPersonalData(t, "error", err.Error())
				if tc.wantErr == smtp.ErrNoAddress {
					is.True(errors.Is(err, ports.ErrNotFound))
					is.True(!errors.Is(err, ports.ErrUnavailable))
				}
				mails, _ := s.relay.Counts()
				is.Equal(mails, 0)
			} else {
				is.NoErr(err)
				if d := cmp.Diff(tc.want, s.relay.Next(t).Rcpts); d != "" {
					t.Fatalf("recipients (-want +got):\n%s", d)
				}
			}
			if tc.logged != "" {
				is.True(strings.Contains(s.logs.String(), tc.logged))
				is.True(strings.Contains(s.logs.String(), "notification=n-r"))
			}
			noPersonalData(t, "log", s.logs.String())
		})
	}
}

// TestUnknownKind: a kind without templates is refused, nothing is sent.
func TestUnknownKind(t *testing.T) {
	is := is.New(t)
	s := newSetup(t, nil, directory(), nil)
	err := s.mailer.Send(context.Background(), note("n-x", "card_exploded", ports.Recipient{UserID: ada.ID}))
	is.True(errors.Is(err, smtp.ErrInvalid))
	is.True(errors.Is(err, ports.ErrProtocol))
	s.relay.None(t)
}

// TestConcurrentSends: the mailer is safe for concurrent use.
func TestConcurrentSends(t *testing.T) {
	is := is.New(t)
	s := newSetup(t, &smtptest.Relay{Got: make(chan smtptest.Mail, 32)}, directory(), nil)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			errs <- s.mailer.Send(context.Background(),
				note("n-c"+string(rune('a'+i)), ports.NotifyCardOrdered, ports.Recipient{UserID: ada.ID}))
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		is.NoErr(err)
	}
	ids := map[string]bool{}
	for range 8 {
		ids[parse(t, s.relay.Next(t).Data).header.Get("Message-Id")] = true
	}
	is.Equal(len(ids), 8)
}
