package smtp_test

import (
	"context"
	"errors"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	"github.com/matryer/is"

	smtp "github.com/cardsaddon/extprod/adapters/smtp"
	"github.com/cardsaddon/extprod/ports"
)

func headerKeys(p parsed) []string {
	var keys []string
	for k := range p.header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// TestHeaderInjection: data from users (names, addresses from the directory, the reason, the
// card id) can neither add a header nor change a recipient. Hostile addresses are not used (the
// address map is the fallback, else the mail is dropped); hostile names and texts are
// neutralised.
func TestHeaderInjection(t *testing.T) {
	const victim = "victim@example.org"
	hostile := func(given, family, email string) ports.User {
		return ports.User{ID: "u-eve", State: ports.UserActive, GivenName: given, FamilyName: family, Email: email}
	}
	// Subjects that show the reason and the card id, as a host's template might.
	leaky := fstest.MapFS{
		"order_rejected.subject.txt": {Data: []byte("Rejected {{.CardID}}: {{.Reason}}")},
	}
	tests := []struct {
		name     string
		user     ports.User
		mapped   string // the address map's entry for the user, "" for none
		n        func(ports.Notification) ports.Notification
		want     []string // envelope recipients; nil: dropped
		wantName string
	}{
		{name: "CR LF and a Bcc in the given name",
			user: hostile("Eve\r\nBcc: mallory@evil.test", "Smith", victim), want: []string{victim},
			wantName: "Eve Bcc: mallory@evil.test Smith"},
		{name: "LF and a To in the family name",
			user: hostile("Eve", "Smith\nTo: mallory@evil.test\n", victim), want: []string{victim},
			wantName: "Eve Smith To: mallory@evil.test"},
		{name: "a header and a body in the name",
			user: hostile("Eve\r\n\r\n<html>", "\x00Smith\u2028Cc: mallory@evil.test", victim), want: []string{victim},
			wantName: "Eve <html> Smith Cc: mallory@evil.test"},
		{name: "a list of addresses", user: hostile("Eve", "Smith", victim+", mallory@evil.test")},
		{name: "a list falls back to the map", user: hostile("Eve", "Smith", victim+", mallory@evil.test"),
			mapped: "eve.fallback@example.net", want: []string{"eve.fallback@example.net"}},
		{name: "a display name and brackets", user: hostile("Eve", "Smith", "Victim <mallory@evil.test>")},
		{name: "angle brackets only", user: hostile("Eve", "Smith", "<mallory@evil.test>")},
		{name: "quoted name with brackets", user: hostile("Eve", "Smith", `"`+victim+`" <mallory@evil.test>`)},
		{name: "CR LF and a Bcc in the address", user: hostile("Eve", "Smith", victim+"\r\nBcc: mallory@evil.test")},
		{name: "an SMTP command in the address", user: hostile("Eve", "Smith", victim+">\r\nRCPT TO:<mallory@evil.test")},
		{name: "a semicolon group", user: hostile("Eve", "Smith", "friends: mallory@evil.test;")},
		{name: "a space", user: hostile("Eve", "Smith", "victim @example.org")},
		{name: "CR LF in the reason and the card id, shown in the subject",
			user: hostile("Eve", "Smith", victim), want: []string{victim}, wantName: "Eve Smith",
			n: func(n ports.Notification) ports.Notification {
				n.Kind = ports.NotifyOrderRejected
				n.CardID = "card-1\r\nBcc: mallory@evil.test"
				n.Reason = "no\r\nBcc: mallory@evil.test\r\n\r\nforged body"
				return n
			}},
	}
	// The header fields of a benign mail: a hostile one has no other.
	benign := newSetup(t, nil, &users{m: map[string]ports.User{"u-eve": hostile("Eve", "Smith", victim)}}, nil)
	if err := benign.mailer.Send(context.Background(), note("n-benign", ports.NotifyCardOrdered, ports.Recipient{UserID: "u-eve"})); err != nil {
		t.Fatal(err)
	}
	wantKeys := headerKeys(parse(t, benign.relay.Next(t).Data))

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			s := newSetup(t, nil, &users{m: map[string]ports.User{"u-eve": tc.user}}, func(c *smtp.Config) {
				c.Templates = leaky
				if tc.mapped != "" {
					c.Addresses["u-eve"] = tc.mapped
				}
			})
			n := note("n-inj", ports.NotifyCardOrdered, ports.Recipient{UserID: "u-eve"})
			if tc.n != nil {
				n = tc.n(n)
			}
			err := s.mailer.Send(context.Background(), n)
			if tc.want == nil {
				is.True(errors.Is(err, smtp.ErrNoAddress))
				mails, _ := s.relay.Counts()
				is.Equal(mails, 0)
				noPersonalData(t, "error", err.Error())
				noPersonalData(t, "log", s.logs.String())
				is.True(!strings.Contains(s.logs.String(), "evil"))
				return
			}
			is.NoErr(err)
			got := s.relay.Next(t)
			if d := cmp.Diff(tc.want, got.Rcpts); d != "" {
				t.Fatalf("envelope recipients (-want +got):\n%s", d)
			}
			p := parse(t, got.Data)
			if d := cmp.Diff(wantKeys, headerKeys(p)); d != "" {
				t.Fatalf("header fields (-benign +got):\n%s", d)
			}
			is.Equal(len(p.to), 1)
			is.Equal(p.to[0].Address, tc.want[0])
			if tc.wantName != "" {
				is.Equal(p.to[0].Name, tc.wantName)
			}
			is.True(!strings.ContainsAny(p.subject, "\r\n"))
			if tc.n != nil {
				is.Equal(p.subject, "Rejected card-1 Bcc: mallory@evil.test: no Bcc: mallory@evil.test forged body")
				is.True(strings.Contains(p.text, "no\nBcc: mallory@evil.test\n\nforged body")) // lines kept in the body
				is.True(strings.Contains(p.html, "no\nBcc: mallory@evil.test\n\nforged body</blockquote>"))
			}
		})
	}
}
