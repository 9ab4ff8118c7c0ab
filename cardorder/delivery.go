package cardorder

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/cardsaddon/extprod/ports"
)

// Limits of the bureau order's delivery address and cost centre (docs/use-case.md §3), in
// characters. A bureau may have tighter ones; it then refuses the order at dispatch.
const (
	MaxCostCentre     = 64
	MaxAddressLine    = 100 // recipient, addressOne, addressTwo
	MaxPostalCode     = 16
	MaxCity           = 64
	countryCodeLength = 2
)

// mapDelivery sets the card's cost centre and delivery address: the user's, replaced by the
// script's overrides (docs/use-case.md §3), then checked. An address without a recipient is
// addressed to the card's common name. bad collects the offending fields.
func mapDelivery(c *ports.Card, u ports.User, ov *ports.CardOverrides, bad *fieldProblems) {
	c.CostCentre = u.CostCentre
	addr := u.DeliveryAddress
	if ov != nil {
		setIf(&c.CostCentre, ov.CostCentre)
		if ov.DeliveryAddress != nil {
			addr = ov.DeliveryAddress
		}
	}
	if addr != nil && *addr != (ports.Address{}) {
		a := *addr
		if a.Recipient == "" {
			a.Recipient = c.CommonName
		}
		c.DeliveryAddress = &a
	}
	if n := utf8.RuneCountInString(c.CostCentre); n > MaxCostCentre {
		bad.add("costCentre", "longer than "+strconv.Itoa(MaxCostCentre))
	}
	if c.DeliveryAddress != nil {
		checkAddress(*c.DeliveryAddress, bad)
	}
}

// checkAddress checks a delivery address: addressOne, postalCode and city are required, the
// country code is an upper-case ISO 3166-1 alpha-2 code, and every part is within its limit.
func checkAddress(a ports.Address, bad *fieldProblems) {
	for _, f := range [...]struct {
		name     string
		v        string
		required bool
		max      int
	}{
		{"recipient", a.Recipient, true, MaxAddressLine},
		{"addressOne", a.AddressOne, true, MaxAddressLine},
		{"addressTwo", a.AddressTwo, false, MaxAddressLine},
		{"postalCode", a.PostalCode, true, MaxPostalCode},
		{"city", a.City, true, MaxCity},
	} {
		switch {
		case f.required && f.v == "":
			bad.add("deliveryAddress."+f.name, "required")
		case utf8.RuneCountInString(f.v) > f.max:
			bad.add("deliveryAddress."+f.name, "longer than "+strconv.Itoa(f.max))
		}
	}
	if !validCountryCode(a.CountryCode) {
		bad.add("deliveryAddress.countryCode", "not an ISO 3166-1 alpha-2 country code")
	}
}

// validCountryCode reports whether s has the shape of an ISO 3166-1 alpha-2 code: two upper-case
// ASCII letters.
func validCountryCode(s string) bool {
	if len(s) != countryCodeLength {
		return false
	}
	for i := range len(s) {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

// maxFailureReason bounds a failure reason built from the bureau's words, in bytes.
const maxFailureReason = 1000

// rejectionReason is the failure reason of a card the bureau refused: its reason, then its
// per-field reasons in name order ("invalid card data; costCentre: too long"), so an operator
// sees which of the card's data to fix before a repeat. It is cut at maxFailureReason bytes.
func rejectionReason(r *ports.RejectedError) string {
	var b strings.Builder
	b.WriteString(r.Reason)
	for _, k := range slices.Sorted(maps.Keys(r.Fields)) {
		b.WriteString("; ")
		b.WriteString(k)
		b.WriteString(": ")
		b.WriteString(r.Fields[k])
	}
	out := b.String()
	if len(out) > maxFailureReason {
		out = strings.ToValidUTF8(out[:maxFailureReason], "")
	}
	return out
}
