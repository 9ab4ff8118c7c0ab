package smtp_test

import (
	"fmt"
	"testing/fstest"

	smtp "github.com/cardsaddon/extprod/adapters/smtp"
)

// A mailer that submits through the organisation's relay with STARTTLS and a login, sends
// "approval needed" to two approvers, knows one operator who is not in the directory, and
// speaks German in the rejection mail (the other templates keep their English defaults).
func ExampleNew() {
	german := fstest.MapFS{ // in a host: an embed.FS with fs.Sub
		"order_rejected.subject.txt": {Data: []byte("Kartenauftrag {{.CardID}} abgelehnt")},
		"order_rejected.txt":         {Data: []byte("Hallo {{.RecipientName}},\n\nGrund: {{.Reason}}\n")},
		"order_rejected.html":        {Data: []byte("<p>Hallo {{.RecipientName}},</p><p>Grund: {{.Reason}}</p>")},
	}
	m, err := smtp.New(nil /* the host's ports.UserStore */, smtp.Config{
		Host:      "relay.example.org", // port 587, STARTTLS required
		Username:  "card-service",
		Password:  "from the host's secret store",
		From:      "Card service <cards@example.org>",
		Approvers: []string{"Card approvers <card-approvers@example.org>", "security@example.org"},
		Addresses: map[string]string{"oidc|op-7": "operator.seven@example.org"},
		Templates: german,
		CardURL:   func(id string) string { return "https://idm.example.org/cards/" + id },
	})
	fmt.Println(m != nil, err)
	// Output: true <nil>
}
