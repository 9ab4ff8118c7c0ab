package smtp_test

import (
	"context"
	"errors"
	"io/fs"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	"github.com/matryer/is"

	smtp "github.com/cardsaddon/extprod/adapters/smtp"
	"github.com/cardsaddon/extprod/ports"
)

// TestDefaultTemplates: every kind has its three templates, and nothing else is embedded.
func TestDefaultTemplates(t *testing.T) {
	var want []string
	for _, k := range smtp.Kinds {
		want = append(want, string(k)+".html", string(k)+".subject.txt", string(k)+".txt")
	}
	var got []string
	err := fs.WalkDir(smtp.DefaultTemplates(), ".", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			got = append(got, path)
		}
		return err
	})
	is.New(t).NoErr(err)
	sort.Strings(want)
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("templates (-want +got):\n%s", d)
	}
}

// TestReplacedTemplates: a host replaces (here: translates) some templates; the others keep
// their defaults. html/template escapes what it is given.
func TestReplacedTemplates(t *testing.T) {
	is := is.New(t)
	german := fstest.MapFS{
		"order_rejected.subject.txt": {Data: []byte("Kartenauftrag {{.CardID}} abgelehnt\n")},
		"order_rejected.txt":         {Data: []byte("Hallo {{.RecipientName}},\n\nGrund: {{.Reason}}\n")},
		"order_rejected.html":        {Data: []byte("<p>Hallo {{.RecipientName}},</p><p>Grund: {{.Reason}}</p>")},
	}
	s := newSetup(t, nil, directory(), func(c *smtp.Config) { c.Templates = german })
	n := note("n-de", ports.NotifyOrderRejected, ports.Recipient{UserID: ada.ID})
	n.Reason = `Foto fehlt <script>alert("x")</script> & "mehr"`
	is.NoErr(s.mailer.Send(context.Background(), n))
	p := parse(t, s.relay.Next(t).Data)
	is.Equal(p.subject, "Kartenauftrag card-n-de abgelehnt")
	is.Equal(p.text, "Hallo Ada Lovelace,\n\nGrund: "+n.Reason+"\n")
	is.Equal(p.html, "<p>Hallo Ada Lovelace,</p><p>Grund: Foto fehlt &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &#34;mehr&#34;</p>")

	// Another kind keeps its default.
	is.NoErr(s.mailer.Send(context.Background(), note("n-en", ports.NotifyCardOrdered, ports.Recipient{UserID: ada.ID})))
	is.Equal(parse(t, s.relay.Next(t).Data).subject, "Your card has been ordered")
}

// TestBrokenTemplates: a template that does not parse or fails on the data fails New, naming
// the file.
func TestBrokenTemplates(t *testing.T) {
	tests := []struct {
		name string
		fs   fstest.MapFS
		file string
	}{
		{"syntax", fstest.MapFS{"card_ordered.txt": {Data: []byte("{{.CardID")}}, "card_ordered.txt"},
		{"unknown field", fstest.MapFS{"approval_needed.html": {Data: []byte("{{.Email}}")}}, "approval_needed.html"},
		{"unknown field in a subject", fstest.MapFS{"order_approved.subject.txt": {Data: []byte("{{.User.Name}}")}}, "order_approved.subject.txt"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			_, err := smtp.New(nil, smtp.Config{Host: "relay.example.org", From: "cards@example.org", Templates: tc.fs})
			is.True(err != nil)
			is.True(strings.Contains(err.Error(), tc.file))
		})
	}
}

// TestConfig: the zero values are the documented defaults, and mistakes fail New without
// echoing an address.
func TestConfig(t *testing.T) {
	is := is.New(t)
	c := smtp.Config{Host: "relay.example.org", From: "Card service <cards@example.org>"}.WithDefaults()
	is.Equal(c.Port, 587)
	is.Equal(c.TLS, smtp.StartTLS)
	is.Equal(c.Timeout, smtp.DefaultTimeout)
	is.Equal(c.HELO, "localhost")
	is.Equal(c.EnvelopeFrom, "cards@example.org")
	is.Equal(c.MessageIDDomain, "example.org")
	is.Equal(smtp.Config{TLS: smtp.ImplicitTLS}.WithDefaults().Port, 465)
	is.Equal(smtp.Config{TLS: smtp.NoTLS}.WithDefaults().Port, 25)

	bad := []struct {
		name string
		cfg  smtp.Config
		says string
	}{
		{"no host", smtp.Config{From: "cards@example.org"}, "Host"},
		{"no from", smtp.Config{Host: "relay.example.org"}, "From"},
		{"from is a list", smtp.Config{Host: "relay.example.org", From: "cards@example.org, mallory@evil.test"}, "From"},
		{"approver with a line break", smtp.Config{Host: "relay.example.org", From: "cards@example.org",
			Approvers: []string{"approver.one@example.org\r\nBcc: mallory@evil.test"}}, "Approvers[0]"},
		{"mapped address is a list", smtp.Config{Host: "relay.example.org", From: "cards@example.org",
			Addresses: map[string]string{"u-1": "otto.operator@example.net, mallory@evil.test"}}, `Addresses["u-1"]`},
		{"port", smtp.Config{Host: "relay.example.org", From: "cards@example.org", Port: 70000}, "Port"},
		{"mode", smtp.Config{Host: "relay.example.org", From: "cards@example.org", TLS: 9}, "TLS"},
		{"helo", smtp.Config{Host: "relay.example.org", From: "cards@example.org", HELO: "a b"}, "HELO"},
		{"message id domain", smtp.Config{Host: "relay.example.org", From: "cards@example.org", MessageIDDomain: "a>b"}, "MessageIDDomain"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			_, err := smtp.New(nil, tc.cfg)
			is.True(err != nil)
			is.True(strings.Contains(err.Error(), tc.says))
			noPersonalData(t, "error", err.Error())
			is.True(!strings.Contains(err.Error(), "cards@"))
		})
	}
}

// TestErrorKinds: the kinds match the ports sentinels a relay loop knows.
func TestErrorKinds(t *testing.T) {
	is := is.New(t)
	is.True(errors.Is(smtp.ErrNoAddress, ports.ErrNotFound))
	is.True(errors.Is(smtp.ErrAuth, ports.ErrUnauthorized))
	is.True(errors.Is(smtp.ErrInvalid, ports.ErrProtocol))
	is.True(!errors.Is(smtp.ErrTLS, ports.ErrUnavailable))
	is.True(!errors.Is(smtp.ErrRefused, ports.ErrUnavailable))
}

// TestConfigLogValue: a host that logs its configuration logs no secret and no address.
func TestConfigLogValue(t *testing.T) {
	is := is.New(t)
	logs := &logBuf{}
	cfg := smtp.Config{Host: "relay.example.org", Username: "mailer", Password: "s3cret",
		From: "Card service <cards@example.org>", Approvers: []string{approverOne},
		Addresses: map[string]string{operatorID: operatorAddress}}
	logs.logger().Info("mailer", "config", cfg)
	noPersonalData(t, "log", logs.String())
	is.True(!strings.Contains(logs.String(), "cards@"))
	is.True(strings.Contains(logs.String(), "config.host=relay.example.org"))
}
