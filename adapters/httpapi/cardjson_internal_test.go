package httpapi

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cardsaddon/extprod/ports"
)

// FuzzAppendCardJSON checks that a domain card is encoded straight (appendCardJSON, the answer
// of an order and of the card endpoints) exactly as its converted form is (CardOf, then
// AppendJSON, which FuzzCardEncoding holds to encoding/json).
func FuzzAppendCardJSON(f *testing.F) {
	f.Add("c1", "Ada <Lovelace> & co", "ada@example.com", "\u2028\x00\"\\\b\f\n\r\t\x7f", 1, int64(1700000000))
	f.Add("", "", "", "\xff\xfe", 0, int64(0))
	f.Add("é", "日本", "a\u2029b", "\x1f", 6, int64(-62135596800))
	f.Fuzz(func(t *testing.T, id, name, email, reason string, n int, sec int64) {
		at := time.Unix(sec%253402300799, 0).UTC()
		c := ports.Card{
			ID: id, UserID: name, Temporary: n%2 == 1, State: ports.CardState(reason), ProductionType: name,
			LayoutID: email, CommonName: name, UPN: email, Email: email, CostCentre: reason, OrderedBy: id,
			ApprovedBy: name, RejectionReason: reason, FailureReason: reason, ProviderOrderID: id, Attempt: n,
			ScriptVersion: id, CardNumber: name, ValidThru: reason, CreatedAt: at, UpdatedAt: at.Add(time.Second),
		}
		if n%3 == 0 {
			c.Photo = []byte{0xFF, 0xD8, 0xFF}
			c.DeliveryAddress = &ports.Address{Recipient: name, AddressOne: reason, PostalCode: email, City: name, CountryCode: id}
		}
		if n%2 == 0 {
			c.Readouts = []ports.Readout{{Type: reason, UID: id}, {}}
			c.History = []ports.HistoryEntry{{State: ports.CardState(name), At: at, Actor: id}, {State: "x"}}
		}
		want := string(CardOf(c).AppendJSON(nil))
		if diff := cmp.Diff(want, string(appendCardJSON(nil, &c))); diff != "" {
			t.Fatalf("(-CardOf+AppendJSON +appendCardJSON):\n%s", diff)
		}
	})
}

// FuzzPlainStrings checks decodeBody's fast path: a body it accepts is one decodeBody accepts
// with the same values.
func FuzzPlainStrings(f *testing.F) {
	for _, s := range []string{
		`{"productionType":"standard"}`, ` { "productionType" : "a b" } `, `{}`, `{"productionType":""}`,
		`{"productionType":"x","productionType":"y"}`, `{"ProductionType":"x"}`, `{"productionType":"\u00e9"}`,
		`{"productionType":1}`, `{"productionType":"x"} x`, `{"productionType":"x",}`, `{"reason":"r","productionType":"p"}`,
		"{\"productionType\":\"\x01\"}", `{"productionType":"é"}`, `{"productionType":null}`, `["x"]`, ``, `{`,
	} {
		f.Add([]byte(s))
	}
	fields := []string{"productionType", "reason"}
	f.Fuzz(func(t *testing.T, body []byte) {
		var fast struct{ ProductionType, Reason string }
		if !plainStrings(body, fields, []*string{&fast.ProductionType, &fast.Reason}) {
			return
		}
		var full struct {
			ProductionType string `json:"productionType"`
			Reason         string `json:"reason"`
		}
		if err := decodeBody(body, &full, true, fields...); err != nil {
			t.Fatalf("plainStrings accepted %q, decodeBody refuses it: %v", body, err)
		}
		if fast.ProductionType != full.ProductionType || fast.Reason != full.Reason {
			t.Fatalf("%q: plainStrings got %+v, decodeBody %+v", body, fast, full)
		}
	})
}
