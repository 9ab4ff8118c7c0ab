package httpapi

import (
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/cardsaddon/extprod/ports"
)

// The card is the hottest answer of the API; it is encoded by hand, producing exactly what
// encoding/json produces for the tagged struct (TestCardEncodingMatchesEncodingJSON checks it),
// at a fraction of the cost.

// MarshalJSON implements [json.Marshaler].
func (c Card) MarshalJSON() ([]byte, error) {
	return c.AppendJSON(nil), nil
}

// AppendJSON appends the card's JSON to b.
func (c Card) AppendJSON(b []byte) []byte {
	return appendCard(b, &c, c.Readouts, c.History)
}

// appendCardJSON appends the JSON of domain card c: CardOf(c).AppendJSON(b), without copying
// the card or its lists first.
func appendCardJSON(b []byte, c *ports.Card) []byte {
	v := cardScalars(c)
	return appendCard(b, &v, c.Readouts, c.History)
}

// appendCard appends c's JSON with rs and hs as its read-outs and history (c's own lists are
// not read), so that a domain card's lists are encoded without converting them.
func appendCard[R Readout | ports.Readout, H History | ports.HistoryEntry](b []byte, c *Card, rs []R, hs []H) []byte {
	b = append(b, '{')
	first := true
	str := func(name, v string) {
		if v == "" {
			return
		}
		b = appendName(b, name, &first)
		b = appendString(b, v)
	}
	str("id", c.ID)
	str("userId", c.UserID)
	b = appendName(b, "temporary", &first)
	b = strconv.AppendBool(b, c.Temporary)
	str("state", string(c.State))
	str("productionType", c.ProductionType)
	str("layoutId", c.LayoutID)
	str("commonName", c.CommonName)
	str("upn", c.UPN)
	str("email", c.Email)
	str("costCentre", c.CostCentre)
	if a := c.DeliveryAddress; a != nil {
		b = appendName(b, "deliveryAddress", &first)
		b = appendAddress(b, *a)
	}
	if c.HasPhoto {
		b = appendName(b, "hasPhoto", &first)
		b = append(b, "true"...)
	}
	str("orderedBy", c.OrderedBy)
	str("approvedBy", c.ApprovedBy)
	str("rejectionReason", c.RejectionReason)
	str("failureReason", c.FailureReason)
	str("providerOrderId", c.ProviderOrderID)
	if c.Attempt != 0 {
		b = appendName(b, "attempt", &first)
		b = strconv.AppendInt(b, int64(c.Attempt), 10)
	}
	str("scriptVersion", c.ScriptVersion)
	str("cardNumber", c.CardNumber)
	str("validThru", c.ValidThru)
	if len(rs) > 0 {
		b = appendName(b, "readouts", &first)
		b = append(b, '[')
		for i, r0 := range rs {
			r := Readout(r0)
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"type":`...)
			b = appendString(b, r.Type)
			b = append(b, `,"uid":`...)
			b = appendString(b, r.UID)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if !c.CreatedAt.IsZero() {
		b = appendName(b, "createdAt", &first)
		b = appendTime(b, c.CreatedAt)
	}
	if !c.UpdatedAt.IsZero() {
		b = appendName(b, "updatedAt", &first)
		b = appendTime(b, c.UpdatedAt)
	}
	if len(hs) > 0 {
		b = appendName(b, "history", &first)
		b = append(b, '[')
		for i, h0 := range hs {
			h := History(h0)
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"state":`...)
			b = appendString(b, string(h.State))
			b = append(b, `,"at":`...)
			b = appendTime(b, h.At)
			if h.Actor != "" {
				b = append(b, `,"actor":`...)
				b = appendString(b, h.Actor)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// appendAddress appends a as encoding/json does from [ports.Address]'s tags.
func appendAddress(b []byte, a ports.Address) []byte {
	b = append(b, '{')
	if a.Recipient != "" {
		b = append(b, `"recipient":`...)
		b = appendString(b, a.Recipient)
		b = append(b, ',')
	}
	b = append(b, `"addressOne":`...)
	b = appendString(b, a.AddressOne)
	if a.AddressTwo != "" {
		b = append(b, `,"addressTwo":`...)
		b = appendString(b, a.AddressTwo)
	}
	b = append(b, `,"postalCode":`...)
	b = appendString(b, a.PostalCode)
	b = append(b, `,"city":`...)
	b = appendString(b, a.City)
	b = append(b, `,"countryCode":`...)
	b = appendString(b, a.CountryCode)
	return append(b, '}')
}

func appendName(b []byte, name string, first *bool) []byte {
	if !*first {
		b = append(b, ',')
	}
	*first = false
	b = append(b, '"')
	b = append(b, name...)
	return append(b, '"', ':')
}

// appendTime appends t as encoding/json does (RFC 3339 with nanoseconds). Years outside
// 0..9999, which encoding/json refuses, do not come from a clock.
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string with encoding/json's escaping: quotes, backslashes
// and control characters, the HTML-sensitive <, > and &, U+2028 and U+2029, and invalid UTF-8
// replaced by U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// bufPool holds encoding buffers of answers that are written and then forgotten.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// putBuf returns a buffer to the pool unless it grew large.
func putBuf(bp *[]byte) {
	if cap(*bp) <= 64<<10 {
		*bp = (*bp)[:0]
		bufPool.Put(bp)
	}
}
