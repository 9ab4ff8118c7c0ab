package gocards

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/cardsaddon/extprod/ports"
)

// The wire types of docs/gocards-wire.md. Decoding policy (see the package documentation): unknown
// object members are ignored, because a bureau may add fields without breaking its clients; a
// member of the wrong JSON type, truncated JSON, trailing data after the value, a missing
// required member and an unknown status are errors wrapping [ports.ErrProtocol]. Members the
// client does not use (created, productionDate) are type-checked but not parsed further, so a
// cosmetic change of their format cannot stop ordering.

type tokenBody struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
}

type orderRequest struct {
	ExternalReference string            `json:"externalReference"`
	LayoutID          string            `json:"layoutId"`
	CardHolderEmail   string            `json:"cardHolderEmail,omitempty"`
	CardElements      map[string]string `json:"cardElements"`
	Photo             []byte            `json:"photo,omitempty"` // standard base64 with padding
	DeliveryAddress   *addressBody      `json:"deliveryAddress,omitempty"`
	CostCentre        string            `json:"costCentre,omitempty"`
}

type addressBody struct {
	Recipient   string `json:"recipient,omitempty"`
	AddressOne  string `json:"addressOne"`
	AddressTwo  string `json:"addressTwo,omitempty"`
	PostalCode  string `json:"postalCode"`
	City        string `json:"city"`
	CountryCode string `json:"countryCode"`
}

type receiptBody struct {
	OrderID string `json:"orderId"`
	Status  string `json:"status"`
	Created string `json:"created"`
}

type errorBody struct {
	Error  string            `json:"error"`
	Fields map[string]string `json:"fields"`
}

type readoutBody struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type statusBody struct {
	OrderID           string        `json:"orderId"`
	ExternalReference string        `json:"externalReference"`
	Status            string        `json:"status"`
	CardNumber        string        `json:"cardNumber"`
	ProductionDate    string        `json:"productionDate"`
	ValidThru         string        `json:"validThru"`
	Readouts          []readoutBody `json:"readouts"`
	Error             string        `json:"error"`
}

type layoutsBody struct {
	Layouts []layoutBody `json:"layouts"`
}

type layoutBody struct {
	LayoutID    string      `json:"layoutId"`
	Name        string      `json:"name"`
	InputFields []fieldBody `json:"inputFields"`
}

type fieldBody struct {
	Name      string `json:"name"`
	Required  bool   `json:"required"`
	MaxLength int    `json:"maxLength"`
}

type eventBody struct {
	EventID string          `json:"eventId"`
	Created string          `json:"created"`
	Topic   string          `json:"topic"`
	Data    json.RawMessage `json:"data"`
}

// topicOrderStatusChanged is the only event topic of docs/gocards-wire.md.
const topicOrderStatusChanged = "ORDER_STATUS_CHANGED"

// protocolErr returns an error wrapping ports.ErrProtocol.
func protocolErr(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ports.ErrProtocol)
}

// decodeJSON decodes one JSON value into v. json.Unmarshal rejects truncated input, wrong types
// and trailing non-space data; a top-level null leaves v zero, which the callers' checks of
// required members catch.
func decodeJSON(what string, b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return protocolErr("decode %s: %v", what, err)
	}
	return nil
}

// mapStatus maps a bureau status to a card state (the table of docs/gocards-wire.md).
func mapStatus(s string) (ports.CardState, bool) {
	switch s {
	case "ORDERED":
		return ports.StateOrdered, true
	case "IN_PRODUCTION":
		return ports.StateInProduction, true
	case "PRODUCED", "SHIPPED":
		return ports.StateProduced, true
	case "FAILED", "CANCELLED":
		return ports.StateFailed, true
	}
	return "", false
}

// decodeToken decodes the token endpoint's 200 body.
func decodeToken(b []byte) (tokenBody, error) {
	var t tokenBody
	if err := decodeJSON("token", b, &t); err != nil {
		return tokenBody{}, err
	}
	if t.AccessToken == "" {
		return tokenBody{}, protocolErr("token: no access_token")
	}
	if !strings.EqualFold(t.TokenType, "Bearer") {
		return tokenBody{}, protocolErr("token: token_type %q is not Bearer", t.TokenType)
	}
	if t.ExpiresIn <= 0 {
		return tokenBody{}, protocolErr("token: expires_in %d is not positive", t.ExpiresIn)
	}
	return t, nil
}

// decodeReceipt decodes the 200/201 body of POST /api/orders.
func decodeReceipt(b []byte) (ports.ProviderReceipt, error) {
	var r receiptBody
	if err := decodeJSON("order receipt", b, &r); err != nil {
		return ports.ProviderReceipt{}, err
	}
	if r.OrderID == "" {
		return ports.ProviderReceipt{}, protocolErr("order receipt: no orderId")
	}
	st, ok := mapStatus(r.Status)
	if !ok {
		return ports.ProviderReceipt{}, protocolErr("order receipt: unknown status %q", r.Status)
	}
	return ports.ProviderReceipt{OrderID: r.OrderID, State: st}, nil
}

// decodeOrderStatus decodes an order status body, from GET /api/orders/{id} or the data of a
// status event, and maps it to a card state.
func decodeOrderStatus(b []byte) (ports.OrderStatus, error) {
	var s statusBody
	if err := decodeJSON("order status", b, &s); err != nil {
		return ports.OrderStatus{}, err
	}
	if s.OrderID == "" {
		return ports.OrderStatus{}, protocolErr("order status: no orderId")
	}
	st, ok := mapStatus(s.Status)
	if !ok {
		return ports.OrderStatus{}, protocolErr("order status: unknown status %q", s.Status)
	}
	out := ports.OrderStatus{
		OrderID:           s.OrderID,
		ExternalReference: s.ExternalReference,
		State:             st,
		CardNumber:        s.CardNumber,
		ValidThru:         s.ValidThru,
	}
	if len(s.Readouts) > 0 {
		out.Readouts = make([]ports.Readout, 0, len(s.Readouts))
		for i, r := range s.Readouts {
			if r.Type == "" {
				return ports.OrderStatus{}, protocolErr("order status: readout %d has no type", i)
			}
			out.Readouts = append(out.Readouts, ports.Readout{Type: r.Type, UID: r.UID})
		}
	}
	if st == ports.StateFailed {
		out.Reason = s.Error
		if out.Reason == "" {
			out.Reason = "bureau status " + s.Status
		}
	}
	return out, nil
}

// decodeLayouts decodes the body of GET /api/layouts into layouts by id.
func decodeLayouts(b []byte) (map[string]ports.Layout, error) {
	var body layoutsBody
	if err := decodeJSON("layouts", b, &body); err != nil {
		return nil, err
	}
	if body.Layouts == nil {
		return nil, protocolErr("layouts: no layouts member")
	}
	out := make(map[string]ports.Layout, len(body.Layouts))
	for i, l := range body.Layouts {
		if l.LayoutID == "" {
			return nil, protocolErr("layouts: layout %d has no layoutId", i)
		}
		if _, dup := out[l.LayoutID]; dup {
			return nil, protocolErr("layouts: layout %q listed twice", l.LayoutID)
		}
		lay := ports.Layout{ID: l.LayoutID, Name: l.Name, Fields: make([]ports.LayoutField, 0, len(l.InputFields))}
		for j, f := range l.InputFields {
			if f.Name == "" {
				return nil, protocolErr("layouts: layout %q field %d has no name", l.LayoutID, j)
			}
			if f.MaxLength < 0 {
				return nil, protocolErr("layouts: layout %q field %q has a negative maxLength", l.LayoutID, f.Name)
			}
			lay.Fields = append(lay.Fields, ports.LayoutField{Name: f.Name, Required: f.Required, MaxLength: f.MaxLength})
		}
		out[l.LayoutID] = lay
	}
	return out, nil
}

// decodeRejection builds the typed refusal of a 400/409/422 answer. A body that is not the
// documented error object still refuses the order (the status says so); the reason then names
// the status.
func decodeRejection(status int, b []byte) *ports.RejectedError {
	var e errorBody
	if err := decodeJSON("error", b, &e); err != nil {
		e = errorBody{}
	}
	if e.Error == "" {
		e.Error = fmt.Sprintf("HTTP %d", status)
		if status == 409 {
			e.Error = "HTTP 409: idempotency key already used with a different order body"
		}
	}
	if len(e.Fields) == 0 {
		e.Fields = nil
	}
	return &ports.RejectedError{Status: status, Reason: e.Error, Fields: e.Fields}
}
