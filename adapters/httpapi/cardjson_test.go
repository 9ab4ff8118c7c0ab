package httpapi_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cardsaddon/extprod/adapters/httpapi"
	"github.com/cardsaddon/extprod/ports"
)

// plainCard has Card's fields and tags but not its hand-written encoder.
type plainCard httpapi.Card

// FuzzCardEncoding checks that the card's hand-written encoder produces exactly what
// encoding/json produces from the tags, for any strings and times.
func FuzzCardEncoding(f *testing.F) {
	f.Add("c1", "Ada <Lovelace> & co", "ada@example.com", "\u2028\x00\"\\\b\f\n\r\t\x7f", "op-1", 1, false, int64(0), 0)
	f.Add("", "", "", "\xff\xfe", "", 0, true, int64(1700000000), 123456789)
	f.Add("é", "日本", "a\u2029b", "\x1f", "x", -3, true, int64(-62135596800), 1)
	f.Fuzz(func(t *testing.T, id, name, email, reason, actor string, attempt int, temp bool, sec int64, nsec int) {
		at := time.Unix(sec%253402300799, int64(nsec%1e9)).UTC()
		if at.Year() < 0 || at.Year() > 9999 {
			return
		}
		c := httpapi.Card{
			ID: id, UserID: actor, Temporary: temp, State: ports.CardState(reason), ProductionType: name,
			LayoutID: email, CommonName: name, UPN: email, Email: email, OrderedBy: actor, ApprovedBy: id,
			RejectionReason: reason, FailureReason: reason, ProviderOrderID: id, Attempt: attempt,
			ScriptVersion: id, CardNumber: name, ValidThru: reason, CreatedAt: at, UpdatedAt: at.Add(time.Second),
		}
		if attempt%3 == 0 {
			c.CostCentre, c.HasPhoto = reason, true
			c.DeliveryAddress = &ports.Address{Recipient: name, AddressOne: reason, AddressTwo: id, PostalCode: email, City: name, CountryCode: actor}
		}
		if attempt%5 == 0 {
			c.DeliveryAddress = &ports.Address{}
		}
		if attempt%2 == 0 {
			c.Readouts = []httpapi.Readout{{Type: reason, UID: id}, {Type: "", UID: ""}}
			c.History = []httpapi.History{{State: ports.CardState(name), At: at, Actor: actor}, {State: "", At: time.Time{}}}
			c.CostCentre = reason
			c.DeliveryAddress = &ports.Address{Recipient: name, AddressOne: email, PostalCode: id, City: reason, CountryCode: actor}
		}
		if attempt%3 == 0 {
			c.DeliveryAddress = &ports.Address{AddressOne: name, AddressTwo: reason}
		}
		want, err := json.Marshal(plainCard(c))
		if err != nil {
			t.Skip(err)
		}
		got, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(string(want), string(c.AppendJSON(nil))); diff != "" {
			t.Fatalf("(-encoding/json +AppendJSON):\n%s", diff)
		}
		if string(got) != string(want) {
			t.Fatalf("json.Marshal(Card) = %s, want %s", got, want)
		}
	})
}
