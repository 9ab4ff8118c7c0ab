package ports

import (
	"strconv"
	"time"
)

// UserState is the lifecycle state of a user in the host's directory. Only [UserActive] users
// may get a card.
type UserState string

// The user states the library distinguishes; a host may use others, which count as not active.
const (
	UserActive   UserState = "active"
	UserInactive UserState = "inactive"
)

// User is a cardholder as the host's directory knows it. It is a read-only copy: the library
// never writes users.
type User struct {
	ID             string    `json:"id"`
	State          UserState `json:"state"`
	GivenName      string    `json:"givenName"`
	FamilyName     string    `json:"familyName"`
	Email          string    `json:"email"`
	UPN            string    `json:"upn"`
	Organisation   string    `json:"organisation"`
	Department     string    `json:"department"`
	EmployeeNumber string    `json:"employeeNumber"`
	// CostCentre is charged for the card, when the directory has one.
	CostCentre string `json:"costCentre,omitempty"`
	// DeliveryAddress is where the bureau sends the card (the directory's work address); nil
	// leaves it to the bureau account's default.
	DeliveryAddress *Address `json:"deliveryAddress,omitempty"`
	// PhotoURL names the user's photo in the directory; empty when there is none. The photo is
	// fetched at order time (docs/use-case.md §3); scripts only learn whether there is one.
	PhotoURL   string            `json:"photoUrl,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`
}

// Address is a postal address: where a card is delivered.
type Address struct {
	Recipient   string `json:"recipient,omitempty"`
	AddressOne  string `json:"addressOne"`
	AddressTwo  string `json:"addressTwo,omitempty"`
	PostalCode  string `json:"postalCode"`
	City        string `json:"city"`
	CountryCode string `json:"countryCode"` // ISO 3166-1 alpha-2
}

// Role is a permission set an actor holds (docs/use-case.md §1).
type Role string

// The roles of docs/use-case.md §1. An actor may hold several.
const (
	RoleOperator    Role = "operator"
	RoleApprover    Role = "approver"
	RoleAdmin       Role = "admin"
	RoleSelfService Role = "selfservice"
)

// Actor is whoever acts: an operator, an approver, an administrator or a self-service user
// (whose ID is its user ID). The host authenticates it; the domain checks its roles.
type Actor struct {
	ID    string `json:"id"`
	Roles []Role `json:"roles"`
}

// Has reports whether the actor holds role r.
func (a Actor) Has(r Role) bool {
	for _, have := range a.Roles {
		if have == r {
			return true
		}
	}
	return false
}

// Channel says through which entry point an order arrives; the option script sees it.
type Channel string

// The channels of docs/use-case.md §3.
const (
	ChannelOperator    Channel = "operator"
	ChannelSelfService Channel = "selfservice"
	ChannelBatch       Channel = "batch"
	ChannelTemporary   Channel = "temporary"
)

// CardState is a state of docs/use-case.md §4.
type CardState string

// The card states of docs/use-case.md §4. [StateRegistered] exists only inside the order step.
const (
	StateRegistered   CardState = "registered"
	StateRequested    CardState = "requested"
	StateProcessing   CardState = "processing"
	StateOrdered      CardState = "ordered"
	StateInProduction CardState = "in_production"
	StateProduced     CardState = "produced"
	StateFailed       CardState = "failed"
	StateAborted      CardState = "aborted"
	StateRejected     CardState = "rejected"
)

// Open reports whether a card in state s counts as an open order for the one-order-per-user
// rule (docs/use-case.md §3): requested, processing, ordered or in_production.
func (s CardState) Open() bool {
	switch s {
	case StateRequested, StateProcessing, StateOrdered, StateInProduction:
		return true
	}
	return false
}

// ProductionType is a kind of card the bureau can produce; it names the bureau's layout.
type ProductionType struct {
	ID       string `json:"id"`
	LayoutID string `json:"layoutId"`
	Label    string `json:"label"`
}

// Options are the resolved options of the use case for one order (docs/use-case.md §3). They are stored
// with the card, so later steps behave as the order was configured.
type Options struct {
	Enabled                 bool             `json:"enabled"`
	ApprovalStep            bool             `json:"approvalStep"`
	ProductionTypes         []ProductionType `json:"productionTypes"`
	DefaultProductionType   string           `json:"defaultProductionType"`
	SelectProductionType    bool             `json:"selectProductionType"`
	QueueCards              bool             `json:"queueCards"`
	AllowMultipleCardOrders bool             `json:"allowMultipleCardOrders"`
	SendCardOrderedEmail    bool             `json:"sendCardOrderedEmail"`
}

// DefaultOptions returns the documented defaults of docs/use-case.md §3, the same values as the default
// option script.
func DefaultOptions() Options {
	return Options{
		ProductionTypes:       []ProductionType{{ID: "standard", LayoutID: "L-100", Label: "Standard card"}},
		DefaultProductionType: "standard",
		QueueCards:            true,
		SendCardOrderedEmail:  true,
	}
}

// ProductionType returns the configured production type with the given id.
func (o Options) ProductionType(id string) (ProductionType, bool) {
	for _, pt := range o.ProductionTypes {
		if pt.ID == id {
			return pt, true
		}
	}
	return ProductionType{}, false
}

// CardOverrides are the fields an administrator's mapUserToCard returned; each non-nil field
// replaces the default mapping's value, and each Elements entry replaces or adds one element.
// The photo cannot be overridden: it is always the directory's (docs/use-case.md §3).
type CardOverrides struct {
	CommonName *string
	UPN        *string
	Email      *string
	Elements   map[string]string
	// CostCentre replaces the user's cost centre; an empty string sends none.
	CostCentre *string
	// DeliveryAddress replaces the user's delivery address; an all-empty Address sends none (the
	// bureau account's default applies). An empty Recipient becomes the card's common name.
	DeliveryAddress *Address
}

// OptionsRequest is what an options source sees for one order: a copy of the cardholder (nil for
// temporary cards), the actor and the channel.
type OptionsRequest struct {
	User    *User
	Actor   Actor
	Channel Channel
}

// Resolved is an options source's answer for one order.
type Resolved struct {
	Options Options
	// Overrides replaces parts of the default user→card mapping; nil keeps the default.
	Overrides *CardOverrides
	// ScriptVersion identifies the script that decided (a content hash), stored with the card.
	ScriptVersion string
}

// Readout is a chip read-out the bureau reports for a produced card.
type Readout struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// HistoryEntry records one state a card entered.
type HistoryEntry struct {
	State CardState `json:"state"`
	At    time.Time `json:"at"`
	Actor string    `json:"actor,omitempty"`
}

// Card is a card order and the card it produces. A store keeps cards by value: a Card read from
// a store is the caller's copy.
type Card struct {
	ID             string            `json:"id"`
	UserID         string            `json:"userId,omitempty"`
	Temporary      bool              `json:"temporary"`
	Sequence       int               `json:"sequence,omitempty"` // temporary cards: 1..n within their order
	State          CardState         `json:"state"`
	Channel        Channel           `json:"channel"`
	ProductionType string            `json:"productionType"`
	LayoutID       string            `json:"layoutId"`
	CommonName     string            `json:"commonName,omitempty"`
	UPN            string            `json:"upn,omitempty"`
	Email          string            `json:"email,omitempty"`
	Elements       map[string]string `json:"elements,omitempty"`
	// CostCentre and DeliveryAddress go with the bureau order (docs/gocards-wire.md).
	CostCentre      string   `json:"costCentre,omitempty"`
	DeliveryAddress *Address `json:"deliveryAddress,omitempty"`
	// Photo is the cardholder's photo (JPEG or PNG) fetched at order time, sent unchanged with
	// every attempt and erased once the order completes or fails for good. It never appears in
	// a listing or a log.
	Photo []byte `json:"-"`

	OrderedBy       string `json:"orderedBy"`
	ApprovedBy      string `json:"approvedBy,omitempty"`
	RejectionReason string `json:"rejectionReason,omitempty"`
	FailureReason   string `json:"failureReason,omitempty"`

	Options       Options `json:"options"`
	ScriptVersion string  `json:"scriptVersion,omitempty"`

	// Attempt counts bureau orders of this card: 1 for the first, n+1 after n-1 repeats. Each
	// attempt has its own idempotency key (see [Card.IdempotencyKey]).
	Attempt         int       `json:"attempt"`
	ProviderOrderID string    `json:"providerOrderId,omitempty"`
	CardNumber      string    `json:"cardNumber,omitempty"`
	ValidThru       string    `json:"validThru,omitempty"`
	Readouts        []Readout `json:"readouts,omitempty"`

	// Dispatch bookkeeping of a processing card (the queue is a view of processing cards).
	// DispatchStarted is set when the first dispatch attempt of the current bureau attempt begins;
	// from then on the card can no longer be aborted.
	DispatchStarted bool      `json:"dispatchStarted,omitempty"`
	DispatchTries   int       `json:"dispatchTries,omitempty"`
	NotBefore       time.Time `json:"notBefore,omitzero"` // not dispatched before this time (backoff)
	LeaseUntil      time.Time `json:"leaseUntil,omitzero"`
	// QueuedAt is when the card entered processing for its current attempt.
	QueuedAt time.Time `json:"queuedAt,omitzero"`

	CreatedAt time.Time      `json:"createdAt"`
	UpdatedAt time.Time      `json:"updatedAt"`
	History   []HistoryEntry `json:"history,omitempty"`
	// TraceParent is the W3C trace context of the request that ordered the card, so later work
	// on it (the dispatch) can link to that trace. Empty when the host traces nothing.
	TraceParent string `json:"traceParent,omitempty"`

	// Version is the store's compare-and-set token: a store sets it on every write; an update
	// names the version it read.
	Version int64 `json:"version"`
}

// IdempotencyKey is the bureau key of the card's current attempt (docs/gocards-wire.md): the card id
// for the first order, "<id>/repeat/<n>" for the n-th repeat.
func (c Card) IdempotencyKey() string {
	if c.Attempt <= 1 {
		return c.ID
	}
	return c.ID + "/repeat/" + strconv.Itoa(c.Attempt-1)
}

// AuditKind says what an audit event records.
type AuditKind string

// The kinds of audit event.
const (
	// AuditStateChange: a card moved from one state to another (the empty kind means this too).
	AuditStateChange AuditKind = "state_change"
	// AuditRefused: a domain rule refused an authenticated actor's action (permission,
	// four-eyes, state, open order); Code names the rule.
	AuditRefused AuditKind = "refused"
	// AuditScriptInstalled: an administrator installed an option script; Reason holds its version.
	AuditScriptInstalled AuditKind = "script_installed"
)

// The outcomes of an audit event ([AuditEvent.Outcome]).
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
)

// AuditEvent records one thing that happened: a state change of a card, a refusal, a script
// install. It carries what an audit trail needs (NIST SP 800-53 AU-3): what (Kind, From, To,
// Code), when (At), where (Instance), the source (RequestID, ClientAddress), the outcome
// (Outcome) and who (Actor). ID is stable: a sink may receive an event more than once and
// deduplicates by ID.
type AuditEvent struct {
	ID      string    `json:"id"`
	Kind    AuditKind `json:"kind,omitempty"`
	CardID  string    `json:"cardId,omitempty"`
	UserID  string    `json:"userId,omitempty"`
	Actor   string    `json:"actor"`
	From    CardState `json:"from,omitempty"`
	To      CardState `json:"to,omitempty"`
	Code    string    `json:"code,omitempty"`    // the refusal's error code
	Outcome string    `json:"outcome,omitempty"` // "success" or "failure"
	Reason  string    `json:"reason,omitempty"`
	At      time.Time `json:"at"`

	Instance      string `json:"instance,omitempty"`      // the host instance that acted
	RequestID     string `json:"requestId,omitempty"`     // the request that caused it
	ClientAddress string `json:"clientAddress,omitempty"` // the caller's address, when the host gives one
	TraceParent   string `json:"traceParent,omitempty"`   // W3C trace context, when traced
}

// NotificationKind names an email of docs/use-case.md §6.
type NotificationKind string

// The emails of docs/use-case.md §6.
const (
	NotifyApprovalNeeded NotificationKind = "approval_needed"
	NotifyOrderApproved  NotificationKind = "order_approved"
	NotifyOrderRejected  NotificationKind = "order_rejected"
	NotifyCardOrdered    NotificationKind = "card_ordered"
)

// Recipient addresses a notification: a user (or actor) id, or the approvers as a group. The
// mailer resolves addresses.
type Recipient struct {
	UserID    string `json:"userId,omitempty"`
	Approvers bool   `json:"approvers,omitempty"`
}

// Notification is an email to send, written with the state change that causes it (an outbox).
// ID is stable across retries so a mailer can deduplicate.
type Notification struct {
	ID     string           `json:"id"`
	Kind   NotificationKind `json:"kind"`
	To     Recipient        `json:"to"`
	CardID string           `json:"cardId"`
	Reason string           `json:"reason,omitempty"`
	At     time.Time        `json:"at"`

	// Delivery bookkeeping, kept by the store.
	Tries     int       `json:"tries,omitempty"`
	LastError string    `json:"lastError,omitempty"`
	NotBefore time.Time `json:"notBefore,omitzero"`
}

// ProviderOrder is one bureau order attempt, built from the card data stored with the card and
// sent unchanged on every retry of the attempt.
type ProviderOrder struct {
	IdempotencyKey    string
	ExternalReference string // the card id
	LayoutID          string
	CardHolderEmail   string
	Elements          map[string]string
	Photo             []byte   // JPEG or PNG; nil when the card has none
	DeliveryAddress   *Address // nil: the bureau account's default
	CostCentre        string
}

// ProviderReceipt is the bureau's acceptance of an order. The domain records OrderID and moves the
// card to ordered; a later status sync or event reports any further progress.
type ProviderReceipt struct {
	OrderID string
	State   CardState
}

// OrderStatus is the bureau's view of one order, mapped to a card state by the provider adapter.
type OrderStatus struct {
	OrderID           string
	ExternalReference string
	State             CardState
	CardNumber        string
	ValidThru         string
	Readouts          []Readout
	Reason            string // the bureau's reason, when State is failed
}

// LayoutField is one input field of a bureau layout.
type LayoutField struct {
	Name      string
	Required  bool
	MaxLength int
}

// Layout is a bureau layout and the fields it takes.
type Layout struct {
	ID     string
	Name   string
	Fields []LayoutField
}

// CardFilter selects cards for [CardStore.List].
type CardFilter struct {
	UserID string      // empty: every user
	States []CardState // empty: every state
	After  int64       // a cursor from a previous page; 0 starts at the oldest card
	Limit  int         // at most this many; a store may cap it
}

// CardPage is one page of a listing, oldest first.
type CardPage struct {
	Cards []Card
	// Next is the cursor of the next page, 0 when this is the last one.
	Next int64
}

// QueueStats describes the queue at one moment.
type QueueStats struct {
	Depth          int       // processing cards, leased or not
	Due            int       // processing cards that could be claimed now
	OldestQueuedAt time.Time // zero when the queue is empty
}
