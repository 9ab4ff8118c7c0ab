package smtp

import (
	"bytes"
	"context"
	"errors"
	"net/mail"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cardsaddon/extprod/ports"
)

type oneUser ports.User

func (u oneUser) User(_ context.Context, id string) (ports.User, error) {
	if id != u.ID {
		return ports.User{}, ports.ErrNotFound
	}
	return ports.User(u), nil
}

// FuzzMessage: whatever the directory and the approver write (names, address, reason) and
// whatever the card id is, the message has the same header fields, at most the one checked
// recipient, and a one-line subject.
func FuzzMessage(f *testing.F) {
	seeds := [][4]string{
		{"Ada", "Lovelace", "ada@example.org", "no photo"},
		{"Eve\r\nBcc: m@evil.test", "Smith", "victim@example.org", "x\r\nBcc: m@evil.test\r\n\r\nbody"},
		{"Eve", "Smith\n", "victim@example.org, m@evil.test", ""},
		{"Eve", "Smith", "Victim <m@evil.test>", ""},
		{"Eve", "Smith", "victim@example.org\r\nBcc: m@evil.test", ""},
		{"=?utf-8?q?=0D=0ABcc:_m@evil.test?=", "", "victim@example.org", "=?utf-8?q?x?="},
		{"Zoë", "Ünal", "zoë@exämple.org", "Grüße\u2028Bcc: x"},
		{"\x00\x1b[31m", "\u202e", "a@b", "\x00"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1], s[2], s[3])
	}
	f.Fuzz(func(t *testing.T, given, family, email, reason string) {
		m, err := New(oneUser{ID: "u-1", GivenName: given, FamilyName: family, Email: email}, Config{
			Host: "relay.example.org", From: "cards@example.org",
		})
		if err != nil {
			t.Fatal(err)
		}
		n := ports.Notification{ID: "n-1", Kind: ports.NotifyOrderRejected, To: ports.Recipient{UserID: "u-1"},
			CardID: reason, Reason: reason, At: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
		rcpts, rerr := m.resolve(context.Background(), n)
		if rerr != nil {
			if !errors.Is(rerr, ErrNoAddress) || safeAddress(email) {
				t.Fatalf("resolve: %v", rerr)
			}
			return
		}
		if len(rcpts) != 1 || rcpts[0].addr.Address != email {
			t.Fatalf("recipients %v", rcpts)
		}
		msg, rerr := m.compose(n, m.templates[n.Kind], rcpts)
		if rerr != nil {
			t.Fatal(rerr)
		}
		var b bytes.Buffer
		if _, err := msg.WriteTo(&b); err != nil {
			t.Fatal(err)
		}
		parsed, err := mail.ReadMessage(&b)
		if err != nil {
			t.Fatalf("unreadable message: %v", err)
		}
		var keys []string
		for k := range parsed.Header {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		want := "Auto-Submitted Content-Type Date From Message-Id Mime-Version Subject To"
		if got := strings.Join(keys, " "); got != want {
			t.Fatalf("header fields %q, want %q", got, want)
		}
		to, err := parsed.Header.AddressList("To")
		if err != nil || len(to) != 1 || to[0].Address != email {
			t.Fatalf("To = %v (%v)", to, err)
		}
		if strings.ContainsAny(parsed.Header.Get("Subject"), "\r\n") {
			t.Fatal("subject spans lines")
		}
	})
}
