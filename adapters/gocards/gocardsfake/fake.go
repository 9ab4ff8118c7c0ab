// Package gocardsfake is a fake GO Cards bureau: an [http.Handler] implementing the whole
// contract of docs/gocards-wire.md (tokens, layouts, orders with idempotency, order status, signed push
// events), with fault injection and accounting, for tests, benchmarks and example hosts.
//
// In a test, serve it with httptest:
//
//	fake := gocardsfake.New(gocardsfake.Config{})
//	ts := httptest.NewServer(fake)
//	defer ts.Close()
//	// point a gocards.Client at ts.URL with gocardsfake.DefaultClientID, …
//
// A standalone host runs it on a listener with [Server.Serve].
//
// The fake is deliberately strict where a real bureau might be lenient: an order body with an
// unknown member is a 400, so a client that drifts from the contract fails in tests. Card elements
// the layout does not list are accepted (a layout lists the fields it prints, and hosts may send
// more). Randomness (fault injection, token values, event ids) comes from Config.Seed, so a
// sequential run is reproducible; under concurrency the sequence is shared and the interleaving
// decides who draws what. A Server is safe for concurrent use.
package gocardsfake

import (
	"context"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cardsaddon/extprod/ports"
)

// Defaults of [Config].
const (
	DefaultClientID       = "extprod-client"
	DefaultClientSecret   = "extprod-secret"
	DefaultOrganisationID = "ORG-1"
	DefaultTokenTTL       = time.Hour
	// DefaultMaxBodyBytes leaves room for a photo of DefaultMaxPhotoBytes in base64.
	DefaultMaxBodyBytes = 2 << 20
	// DefaultMaxPhotoBytes caps the decoded photo of an order.
	DefaultMaxPhotoBytes = 1 << 20
	// DefaultMaxCostCentre caps the cost centre of an order, in characters.
	DefaultMaxCostCentre = 32
)

// Limits of a delivery address, in characters.
const (
	MaxAddressLine = 100 // recipient, addressOne, addressTwo
	MaxPostalCode  = 16
	MaxCity        = 64
)

// PhotoField is the layout input field that stands for the photo: a layout listing it as
// required refuses an order without a photo. It is checked against the order's photo, not
// its card elements.
const PhotoField = "PHOTO"

// Status is a bureau order status.
type Status string

// The bureau statuses of docs/gocards-wire.md.
const (
	StatusOrdered      Status = "ORDERED"
	StatusInProduction Status = "IN_PRODUCTION"
	StatusProduced     Status = "PRODUCED"
	StatusShipped      Status = "SHIPPED"
	StatusFailed       Status = "FAILED"
	StatusCancelled    Status = "CANCELLED"
)

// Field is one input field of a layout.
type Field struct {
	Name      string
	Required  bool
	MaxLength int // in characters; 0: no limit
}

// Layout is a bureau layout.
type Layout struct {
	ID     string
	Name   string
	Fields []Field
}

// DefaultLayouts returns the layouts a fake serves when Config.Layouts is nil: "L-100"
// (employee card: FIRST_NAME, LAST_NAME and COMMON_NAME required; UPN, EMAIL, DEPARTMENT,
// EMPLOYEE_NUMBER optional) and "L-TEMP" (temporary card: TEMPORARY required, SEQUENCE
// optional; no personal fields).
func DefaultLayouts() []Layout {
	return []Layout{
		{ID: "L-100", Name: "Employee card", Fields: []Field{
			{Name: "FIRST_NAME", Required: true, MaxLength: 40},
			{Name: "LAST_NAME", Required: true, MaxLength: 40},
			{Name: "COMMON_NAME", Required: true, MaxLength: 64},
			{Name: "UPN", MaxLength: 128},
			{Name: "EMAIL", MaxLength: 128},
			{Name: "DEPARTMENT", MaxLength: 64},
			{Name: "EMPLOYEE_NUMBER", MaxLength: 32},
		}},
		{ID: "L-TEMP", Name: "Temporary card", Fields: []Field{
			{Name: "TEMPORARY", Required: true, MaxLength: 5},
			{Name: "SEQUENCE", MaxLength: 4},
		}},
	}
}

// Faults is the fault injection of a fake; the zero value injects none. Rates are fractions in
// [0, 1] drawn per request from the seeded source.
type Faults struct {
	// FailRate answers this fraction of API requests (not token requests) with a 500, 502, 503
	// or 504 before processing them.
	FailRate float64
	// RateLimitRate answers this fraction of API requests with 429 and Retry-After.
	RateLimitRate float64
	// RetryAfterSeconds is the Retry-After sent with a 429; default 1.
	RetryAfterSeconds int
	// CutRate cuts the connection of this fraction of newly accepted orders after the order is
	// stored and before the answer is written: the client sees a broken connection although
	// the bureau holds the order.
	CutRate float64
	// Latency delays every API answer (not token answers).
	Latency time.Duration
}

// Config configures a [Server]. The zero value is a working fake with the defaults.
type Config struct {
	// ClientID, ClientSecret and OrganisationID are the accepted credentials; defaults
	// DefaultClientID, DefaultClientSecret and DefaultOrganisationID.
	ClientID       string
	ClientSecret   string
	OrganisationID string
	// TokenTTL is the lifetime of issued tokens (expires_in); default DefaultTokenTTL.
	TokenTTL time.Duration
	// Layouts served by GET /api/layouts and checked on order; nil means DefaultLayouts().
	Layouts []Layout
	// Seed seeds the fake's random source.
	Seed uint64
	// Faults is the initial fault injection; change it with [Server.SetFaults].
	Faults Faults
	// CallbackURL, when set, receives a signed status event for every status change
	// (see [Server.Advance]); EventSecret signs them. Change both with [Server.SetCallback].
	CallbackURL string
	EventSecret []byte
	// EventClient sends the events; default a client with a 10 s timeout.
	EventClient *http.Client
	// MaxBodyBytes limits request bodies; default DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// MaxPhotoBytes caps an order's decoded photo; default DefaultMaxPhotoBytes.
	MaxPhotoBytes int
	// MaxCostCentre caps an order's cost centre, in characters; default DefaultMaxCostCentre.
	MaxCostCentre int
	// Clock gives the time of tokens and orders; default [ports.SystemClock].
	Clock ports.Clock
}

// Readout is a chip read-out of a produced card.
type Readout struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// Order is a snapshot of one order the fake holds.
type Order struct {
	ID                string
	IdempotencyKey    string
	ExternalReference string
	LayoutID          string
	CardHolderEmail   string
	Elements          map[string]string
	Photo             []byte   // decoded; nil when the order had none
	DeliveryAddress   *Address // nil when the order had none
	CostCentre        string
	Status            Status
	Error             string
	CardNumber        string
	ValidThru         string
	ProductionDate    string
	Readouts          []Readout
	Created           time.Time
}

// Stats is the fake's accounting.
type Stats struct {
	Requests int // every request served, token requests included
	// Orders is the number of orders created.
	Orders int
	// Duplicates counts orders created for an idempotency key that already had one; a correct
	// fake keeps it 0, and a test asserts that it stays 0.
	Duplicates int
	// ReferenceDuplicates counts orders created for an external reference (a card) while an
	// earlier order of the same reference was not FAILED or CANCELLED: a card ordered twice
	// under different keys.
	ReferenceDuplicates int
	Replays             int // 200 answers: same key, same body
	Conflicts           int // 409 answers: same key, different body
	Rejections          int // 400 and 422 answers to orders
	Injected5xx         int
	Injected429         int
	Cuts                int // connections cut after accepting an order
	TokensIssued        int
	TokenRefusals       int
	Unauthorized        int // 401 answers to API calls
	EventsSent          int
	EventFailures       int
}

// SentEvent is a status event the fake pushed (or tried to push).
type SentEvent struct {
	ID        string
	Body      []byte
	Signature string
	Status    int // the receiver's answer, 0 when the push failed
}

// Server is the fake bureau.
type Server struct {
	mux       *http.ServeMux
	persister *persister // see persist.go; guarded by mu

	mu           sync.Mutex
	cfg          Config
	rng          *rand.Rand
	faults       Faults
	layouts      []Layout
	tokens       map[string]time.Time
	orders       map[string]*order
	orderIDs     []string
	byKey        map[string]*order
	createdByKey map[string]int
	byRef        map[string][]*order
	seq          int
	events       []SentEvent
	stats        Stats
}

type order struct {
	Order
	canonical string // the canonical request body, for the same-body check
}

// New returns a fake bureau.
func New(cfg Config) *Server {
	if cfg.ClientID == "" {
		cfg.ClientID = DefaultClientID
	}
	if cfg.ClientSecret == "" {
		cfg.ClientSecret = DefaultClientSecret
	}
	if cfg.OrganisationID == "" {
		cfg.OrganisationID = DefaultOrganisationID
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = DefaultTokenTTL
	}
	if cfg.Layouts == nil {
		cfg.Layouts = DefaultLayouts()
	}
	if cfg.EventClient == nil {
		cfg.EventClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.MaxPhotoBytes <= 0 {
		cfg.MaxPhotoBytes = DefaultMaxPhotoBytes
	}
	if cfg.MaxCostCentre <= 0 {
		cfg.MaxCostCentre = DefaultMaxCostCentre
	}
	if cfg.Clock == nil {
		cfg.Clock = ports.SystemClock
	}
	s := &Server{
		cfg:          cfg,
		rng:          rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		faults:       cfg.Faults,
		layouts:      cloneLayouts(cfg.Layouts),
		tokens:       make(map[string]time.Time),
		orders:       make(map[string]*order),
		byKey:        make(map[string]*order),
		createdByKey: make(map[string]int),
		byRef:        make(map[string][]*order),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth/token", s.handleToken)
	mux.Handle("GET /api/layouts", s.api(s.handleLayouts))
	mux.Handle("POST /api/orders", s.api(s.handlePlaceOrder))
	mux.Handle("GET /api/orders/{id}", s.api(s.handleOrderStatus))
	s.mux = mux
	return s
}

// ServeHTTP serves the bureau's API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.stats.Requests++
	s.mu.Unlock()
	s.mux.ServeHTTP(w, r)
}

// Serve serves the fake on ln until ctx ends, then shuts down gracefully (at most 5 s) and
// returns nil; it returns the server's error if serving fails.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := hs.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

// SetFaults replaces the fault injection.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	s.faults = f
	s.mu.Unlock()
}

// SetCallback sets the URL status events are pushed to and their signing secret; an empty url
// stops pushing.
func (s *Server) SetCallback(url string, secret []byte) {
	s.mu.Lock()
	s.cfg.CallbackURL, s.cfg.EventSecret = url, slices.Clone(secret)
	s.mu.Unlock()
}

// SetCredentials replaces the accepted client credentials; tokens already issued stay valid.
func (s *Server) SetCredentials(clientID, clientSecret string) {
	s.mu.Lock()
	s.cfg.ClientID, s.cfg.ClientSecret = clientID, clientSecret
	s.mu.Unlock()
}

// RevokeTokens revokes every issued token: API calls with them are answered 401.
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	clear(s.tokens)
	s.mu.Unlock()
}

// ExpireTokens makes every issued token expire now (answered 401 like revoked ones, but still
// known to the fake).
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	now := s.cfg.Clock.Now()
	for t := range s.tokens {
		s.tokens[t] = now
	}
	s.mu.Unlock()
}

// SetLayouts replaces the layouts the fake serves and checks orders against.
func (s *Server) SetLayouts(ls []Layout) {
	s.mu.Lock()
	s.layouts = cloneLayouts(ls)
	s.mu.Unlock()
}

// Stats returns the accounting so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// OrdersForKey reports how many orders were created under an idempotency key (0 or 1 unless
// the fake is broken).
func (s *Server) OrdersForKey(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.createdByKey[key]
}

// Order returns a snapshot of the order with the given id.
func (s *Server) Order(id string) (Order, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[id]
	if !ok {
		return Order{}, false
	}
	return o.snapshot(), true
}

// OrderByKey returns a snapshot of the order created under an idempotency key.
func (s *Server) OrderByKey(key string) (Order, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.byKey[key]
	if !ok {
		return Order{}, false
	}
	return o.snapshot(), true
}

// Orders returns snapshots of every order, in creation order.
func (s *Server) Orders() []Order {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Order, 0, len(s.orderIDs))
	for _, id := range s.orderIDs {
		out = append(out, s.orders[id].snapshot())
	}
	return out
}

// Events returns the status events pushed so far, oldest first.
func (s *Server) Events() []SentEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SentEvent, len(s.events))
	for i, e := range s.events {
		out[i] = e
		out[i].Body = slices.Clone(e.Body)
	}
	return out
}

func (o *order) snapshot() Order {
	c := o.Order
	c.Elements = cloneMap(o.Elements)
	c.Photo = slices.Clone(o.Photo)
	if o.DeliveryAddress != nil {
		a := *o.DeliveryAddress
		c.DeliveryAddress = &a
	}
	c.Readouts = slices.Clone(o.Readouts)
	return c
}

// uuid returns a version-4-shaped UUID from the seeded source; s.mu is held.
func (s *Server) uuid() string {
	var b [16]byte
	for i := 0; i < 16; i += 8 {
		v := s.rng.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func (o *order) number() int {
	n, _ := strconv.Atoi(strings.TrimPrefix(o.ID, "O-"))
	return n
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func cloneLayouts(ls []Layout) []Layout {
	out := make([]Layout, len(ls))
	for i, l := range ls {
		out[i] = Layout{ID: l.ID, Name: l.Name, Fields: slices.Clone(l.Fields)}
	}
	return out
}
