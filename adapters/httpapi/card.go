package httpapi

import (
	"time"

	"github.com/cardsaddon/extprod/ports"
)

// Card is the card as docs/http-api.md "The card" shows it. Fields without a value are omitted; the
// options stored with the card and the dispatch bookkeeping are not exposed.
type Card struct {
	ID             string          `json:"id,omitempty"`
	UserID         string          `json:"userId,omitempty"`
	Temporary      bool            `json:"temporary"`
	State          ports.CardState `json:"state,omitempty"`
	ProductionType string          `json:"productionType,omitempty"`
	LayoutID       string          `json:"layoutId,omitempty"`
	CommonName     string          `json:"commonName,omitempty"`
	UPN            string          `json:"upn,omitempty"`
	Email          string          `json:"email,omitempty"`
	// CostCentre and DeliveryAddress go with the bureau order (docs/use-case.md §3).
	CostCentre      string         `json:"costCentre,omitempty"`
	DeliveryAddress *ports.Address `json:"deliveryAddress,omitempty"`
	// HasPhoto: the cardholder's photo is stored with the card, waiting to be sent to the bureau
	// (in a preview: the order would send one). The photo itself is never shown; it is erased
	// once the bureau has it or the order ends.
	HasPhoto        bool      `json:"hasPhoto,omitempty"`
	OrderedBy       string    `json:"orderedBy,omitempty"`
	ApprovedBy      string    `json:"approvedBy,omitempty"`
	RejectionReason string    `json:"rejectionReason,omitempty"`
	FailureReason   string    `json:"failureReason,omitempty"`
	ProviderOrderID string    `json:"providerOrderId,omitempty"`
	Attempt         int       `json:"attempt,omitempty"`
	ScriptVersion   string    `json:"scriptVersion,omitempty"`
	CardNumber      string    `json:"cardNumber,omitempty"`
	ValidThru       string    `json:"validThru,omitempty"`
	Readouts        []Readout `json:"readouts,omitempty"`
	CreatedAt       time.Time `json:"createdAt,omitzero"`
	UpdatedAt       time.Time `json:"updatedAt,omitzero"`
	History         []History `json:"history,omitempty"`
}

// Readout is a chip read-out of a produced card.
type Readout struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// History is one state a card entered, when and by whom.
type History struct {
	State ports.CardState `json:"state"`
	At    time.Time       `json:"at"`
	Actor string          `json:"actor,omitempty"`
}

// CardOf converts a domain card to its JSON form.
func CardOf(c ports.Card) Card {
	out := cardScalars(&c)
	if c.DeliveryAddress != nil {
		a := *c.DeliveryAddress
		out.DeliveryAddress = &a
	}
	if len(c.Readouts) > 0 {
		out.Readouts = make([]Readout, len(c.Readouts))
		for i, r := range c.Readouts {
			out.Readouts[i] = Readout(r)
		}
	}
	if len(c.History) > 0 {
		out.History = make([]History, len(c.History))
		for i, e := range c.History {
			out.History[i] = History(e)
		}
	}
	return out
}

// cardScalars is CardOf(c) without Readouts and History, sharing c's DeliveryAddress (to be
// read only).
func cardScalars(c *ports.Card) Card {
	return Card{
		ID: c.ID, UserID: c.UserID, Temporary: c.Temporary, State: c.State,
		ProductionType: c.ProductionType, LayoutID: c.LayoutID,
		CommonName: c.CommonName, UPN: c.UPN, Email: c.Email,
		CostCentre: c.CostCentre, HasPhoto: len(c.Photo) > 0,
		OrderedBy: c.OrderedBy, ApprovedBy: c.ApprovedBy,
		RejectionReason: c.RejectionReason, FailureReason: c.FailureReason,
		ProviderOrderID: c.ProviderOrderID, Attempt: c.Attempt, ScriptVersion: c.ScriptVersion,
		CardNumber: c.CardNumber, ValidThru: c.ValidThru,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, DeliveryAddress: c.DeliveryAddress,
	}
}

func cardsOf(cs []ports.Card) []Card {
	out := make([]Card, len(cs))
	for i, c := range cs {
		out[i] = CardOf(c)
	}
	return out
}
