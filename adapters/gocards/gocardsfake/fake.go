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
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
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
	// Now gives the time of tokens and orders; default time.Now.
	Now func() time.Time
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
	if cfg.Now == nil {
		cfg.Now = time.Now
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
	now := s.cfg.Now()
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

// Advance sets an order's status (any status, backwards too, so tests can probe a receiver) and,
// when a callback URL is set, pushes the signed status event and waits for the answer. A push
// that fails or is not answered 2xx is an error; the status change stands.
func (s *Server) Advance(ctx context.Context, orderID string, status Status) error {
	return s.setStatus(ctx, orderID, status, "")
}

// Fail sets an order's status to FAILED with the bureau's reason and pushes the event like
// [Server.Advance].
func (s *Server) Fail(ctx context.Context, orderID, reason string) error {
	return s.setStatus(ctx, orderID, StatusFailed, reason)
}

// AdvanceAll advances every order to status, in creation order, and returns how many it
// advanced; it stops at the first failed push.
func (s *Server) AdvanceAll(ctx context.Context, status Status) (int, error) {
	s.mu.Lock()
	ids := slices.Clone(s.orderIDs)
	s.mu.Unlock()
	for i, id := range ids {
		if err := s.setStatus(ctx, id, status, ""); err != nil {
			return i, err
		}
	}
	return len(ids), nil
}

// ReplayEvent pushes an already sent event again, byte for byte with its signature.
func (s *Server) ReplayEvent(ctx context.Context, eventID string) error {
	s.mu.Lock()
	var ev *SentEvent
	for i := range s.events {
		if s.events[i].ID == eventID {
			ev = &s.events[i]
		}
	}
	if ev == nil {
		s.mu.Unlock()
		return fmt.Errorf("gocardsfake: no event %q", eventID)
	}
	url, body, sig := s.cfg.CallbackURL, ev.Body, ev.Signature
	s.mu.Unlock()
	_, err := s.push(ctx, url, body, sig)
	return err
}

func (s *Server) setStatus(ctx context.Context, orderID string, status Status, reason string) error {
	switch status {
	case StatusOrdered, StatusInProduction, StatusProduced, StatusShipped, StatusFailed, StatusCancelled:
	default:
		return fmt.Errorf("gocardsfake: unknown status %q", status)
	}
	defer s.changed()
	s.mu.Lock()
	o, ok := s.orders[orderID]
	if !ok {
		s.mu.Unlock()
		return fmt.Errorf("gocardsfake: no order %q", orderID)
	}
	o.Status = status
	o.Error = ""
	switch status {
	case StatusFailed, StatusCancelled:
		o.Error = reason
		if o.Error == "" {
			o.Error = "cancelled by the bureau"
			if status == StatusFailed {
				o.Error = "production failed"
			}
		}
	case StatusProduced, StatusShipped:
		if o.CardNumber == "" {
			n := o.number()
			o.CardNumber = fmt.Sprintf("C-%08d", n)
			o.ProductionDate = s.cfg.Now().UTC().Format(time.RFC3339)
			o.ValidThru = s.cfg.Now().UTC().AddDate(5, 0, 0).Format("2006-01")
			h := fnv.New64a()
			h.Write([]byte(o.ID))
			o.Readouts = []Readout{{Type: "MIFARE_UID", UID: strings.ToUpper(fmt.Sprintf("04%012x", h.Sum64()&0xffffffffffff))}}
		}
	}
	url, secret := s.cfg.CallbackURL, s.cfg.EventSecret
	if url == "" {
		s.mu.Unlock()
		return nil
	}
	evID := s.uuid()
	data := o.statusBody()
	body, err := json.Marshal(struct {
		EventID string     `json:"eventId"`
		Created string     `json:"created"`
		Topic   string     `json:"topic"`
		Data    statusBody `json:"data"`
	}{evID, s.cfg.Now().UTC().Format(time.RFC3339), "ORDER_STATUS_CHANGED", data})
	if err != nil {
		s.mu.Unlock()
		return err
	}
	sig := Sign(secret, body)
	s.events = append(s.events, SentEvent{ID: evID, Body: body, Signature: sig})
	idx := len(s.events) - 1
	s.mu.Unlock()

	code, err := s.push(ctx, url, body, sig)
	s.mu.Lock()
	s.events[idx].Status = code
	s.mu.Unlock()
	return err
}

// push posts one event and accounts for it.
func (s *Server) push(ctx context.Context, url string, body []byte, sig string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("gocardsfake: push event: %w", err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("X-GoCards-Signature", sig)
	resp, err := s.cfg.EventClient.Do(req)
	s.mu.Lock()
	if err != nil || resp.StatusCode/100 != 2 {
		s.stats.EventFailures++
	} else {
		s.stats.EventsSent++
	}
	s.mu.Unlock()
	if err != nil {
		return 0, fmt.Errorf("gocardsfake: push event: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, fmt.Errorf("gocardsfake: push event: receiver answered %d", resp.StatusCode)
	}
	return resp.StatusCode, nil
}

// Sign returns the X-GoCards-Signature value of body: "sha256=" + hex HMAC-SHA256.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
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

// --- HTTP handlers ---

type statusBody struct {
	OrderID           string    `json:"orderId"`
	ExternalReference string    `json:"externalReference"`
	Status            Status    `json:"status"`
	CardNumber        string    `json:"cardNumber,omitempty"`
	ProductionDate    string    `json:"productionDate,omitempty"`
	ValidThru         string    `json:"validThru,omitempty"`
	Readouts          []Readout `json:"readouts,omitempty"`
	Error             string    `json:"error,omitempty"`
}

func (o *order) statusBody() statusBody {
	return statusBody{
		OrderID: o.ID, ExternalReference: o.ExternalReference, Status: o.Status,
		CardNumber: o.CardNumber, ProductionDate: o.ProductionDate, ValidThru: o.ValidThru,
		Readouts: slices.Clone(o.Readouts), Error: o.Error,
	}
}

type orderRequest struct {
	ExternalReference string            `json:"externalReference"`
	LayoutID          string            `json:"layoutId"`
	CardHolderEmail   string            `json:"cardHolderEmail,omitempty"`
	CardElements      map[string]string `json:"cardElements"`
	Photo             string            `json:"photo,omitempty"`
	DeliveryAddress   *Address          `json:"deliveryAddress,omitempty"`
	CostCentre        string            `json:"costCentre,omitempty"`
}

// Address is an order's delivery address.
type Address struct {
	Recipient   string `json:"recipient"`
	AddressOne  string `json:"addressOne"`
	AddressTwo  string `json:"addressTwo,omitempty"`
	PostalCode  string `json:"postalCode"`
	City        string `json:"city"`
	CountryCode string `json:"countryCode"`
}

type receiptBody struct {
	OrderID string `json:"orderId"`
	Status  Status `json:"status"`
	Created string `json:"created"`
}

type errorBody struct {
	Error  string            `json:"error"`
	Fields map[string]string `json:"fields,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h["Content-Type"] = []string{"application/json; charset=utf-8"}
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeError(w http.ResponseWriter, status int, msg string, fields map[string]string) {
	writeJSON(w, status, errorBody{Error: msg, Fields: fields})
}

// IssueToken returns a valid access token without the token endpoint, for a test's own bare
// client that needs one (it counts as issued).
func (s *Server) IssueToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newToken()
}

// newToken issues a token; s.mu is held.
func (s *Server) newToken() string {
	s.stats.TokensIssued++
	tok := fmt.Sprintf("T%d-%016x", s.stats.TokensIssued, s.rng.Uint64())
	s.tokens[tok] = s.cfg.Now().Add(s.cfg.TokenTTL)
	return tok
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", nil)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.PostForm.Get("grant_type") != "client_credentials" {
		s.stats.TokenRefusals++
		writeError(w, http.StatusBadRequest, "unsupported_grant_type", nil)
		return
	}
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if !hmac.Equal([]byte(id), []byte(s.cfg.ClientID)) || !hmac.Equal([]byte(secret), []byte(s.cfg.ClientSecret)) {
		s.stats.TokenRefusals++
		writeError(w, http.StatusUnauthorized, "invalid_client", nil)
		return
	}
	tok := s.newToken()
	writeJSON(w, http.StatusOK, struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int64  `json:"expires_in"`
	}{tok, "Bearer", int64(s.cfg.TokenTTL / time.Second)})
}

// api wraps an API handler with latency, fault injection and authentication.
func (s *Server) api(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		f := s.faults
		draw := s.rng.Float64()
		code := 500 + []int{0, 2, 3, 4}[s.rng.IntN(4)]
		s.mu.Unlock()
		if f.Latency > 0 {
			t := time.NewTimer(f.Latency)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		switch {
		case draw < f.FailRate:
			s.mu.Lock()
			s.stats.Injected5xx++
			s.mu.Unlock()
			writeError(w, code, "injected fault", nil)
			return
		case draw < f.FailRate+f.RateLimitRate:
			s.mu.Lock()
			s.stats.Injected429++
			s.mu.Unlock()
			ra := f.RetryAfterSeconds
			if ra <= 0 {
				ra = 1
			}
			w.Header().Set("Retry-After", strconv.Itoa(ra))
			writeError(w, http.StatusTooManyRequests, "slow down", nil)
			return
		}
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		s.mu.Lock()
		exp, known := s.tokens[tok]
		valid := ok && known && s.cfg.Now().Before(exp)
		if !valid {
			s.stats.Unauthorized++
		}
		org := s.cfg.OrganisationID
		s.mu.Unlock()
		if !valid {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "invalid_token", nil)
			return
		}
		if r.Header.Get("X-Organisation-Id") != org {
			writeError(w, http.StatusForbidden, "unknown organisation", nil)
			return
		}
		next(w, r)
	})
}

func (s *Server) handleLayouts(w http.ResponseWriter, r *http.Request) {
	type fieldJSON struct {
		Name      string `json:"name"`
		Required  bool   `json:"required"`
		MaxLength int    `json:"maxLength,omitempty"`
	}
	type layoutJSON struct {
		LayoutID    string      `json:"layoutId"`
		Name        string      `json:"name"`
		InputFields []fieldJSON `json:"inputFields"`
	}
	s.mu.Lock()
	out := make([]layoutJSON, 0, len(s.layouts))
	for _, l := range s.layouts {
		lj := layoutJSON{LayoutID: l.ID, Name: l.Name, InputFields: make([]fieldJSON, 0, len(l.Fields))}
		for _, f := range l.Fields {
			lj.InputFields = append(lj.InputFields, fieldJSON(f))
		}
		out = append(out, lj)
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, struct {
		Layouts []layoutJSON `json:"layouts"`
	}{out})
}

func (s *Server) handleOrderStatus(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	o, ok := s.orders[r.PathValue("id")]
	var body statusBody
	if ok {
		body = o.statusBody()
	}
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "no such order", nil)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) handlePlaceOrder(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		writeError(w, http.StatusBadRequest, "Idempotency-Key header is required", nil)
		return
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		writeError(w, http.StatusBadRequest, "cannot read body", nil)
		return
	}
	var req orderRequest
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		s.reject(w, http.StatusBadRequest, "malformed order: "+err.Error(), nil)
		return
	}
	if dec.More() {
		s.reject(w, http.StatusBadRequest, "malformed order: trailing data", nil)
		return
	}
	canon, _ := json.Marshal(req) // map keys sorted: equal orders give equal bytes

	s.mu.Lock()
	if prev, ok := s.byKey[key]; ok {
		if prev.canonical != string(canon) {
			s.stats.Conflicts++
			s.mu.Unlock()
			writeError(w, http.StatusConflict, "Idempotency-Key already used with a different order", nil)
			return
		}
		s.stats.Replays++
		rec := receiptBody{OrderID: prev.ID, Status: prev.Status, Created: prev.Created.UTC().Format(time.RFC3339)}
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, rec)
		return
	}
	status, msg, fields, photo := s.validate(&req)
	if status != 0 {
		s.stats.Rejections++
		s.mu.Unlock()
		writeError(w, status, msg, fields)
		return
	}
	s.seq++
	o := &order{Order: Order{
		ID: "O-" + strconv.Itoa(s.seq), IdempotencyKey: key, ExternalReference: req.ExternalReference,
		LayoutID: req.LayoutID, CardHolderEmail: req.CardHolderEmail, Elements: cloneMap(req.CardElements),
		Photo: photo, DeliveryAddress: req.DeliveryAddress, CostCentre: req.CostCentre,
		Status: StatusOrdered, Created: s.cfg.Now(),
	}, canonical: string(canon)}
	s.orders[o.ID] = o
	s.orderIDs = append(s.orderIDs, o.ID)
	s.byKey[key] = o
	s.createdByKey[key]++
	if s.createdByKey[key] > 1 {
		s.stats.Duplicates++
	}
	for _, p := range s.byRef[req.ExternalReference] {
		if p.Status != StatusFailed && p.Status != StatusCancelled {
			s.stats.ReferenceDuplicates++
			break
		}
	}
	s.byRef[req.ExternalReference] = append(s.byRef[req.ExternalReference], o)
	s.stats.Orders++
	cut := s.rng.Float64() < s.faults.CutRate
	if cut {
		s.stats.Cuts++
	}
	rec := receiptBody{OrderID: o.ID, Status: o.Status, Created: o.Created.UTC().Format(time.RFC3339)}
	s.mu.Unlock()
	s.changed()
	if cut {
		cutConnection(w)
		return
	}
	writeJSON(w, http.StatusCreated, rec)
}

func (s *Server) reject(w http.ResponseWriter, status int, msg string, fields map[string]string) {
	s.mu.Lock()
	s.stats.Rejections++
	s.mu.Unlock()
	writeError(w, status, msg, fields)
}

// validate checks an order against its layout, and its photo, delivery address and cost
// centre; s.mu is held. It returns 0 and the decoded photo for a valid order.
func (s *Server) validate(req *orderRequest) (int, string, map[string]string, []byte) {
	if req.ExternalReference == "" {
		return http.StatusBadRequest, "externalReference is required", nil, nil
	}
	if req.LayoutID == "" {
		return http.StatusBadRequest, "layoutId is required", nil, nil
	}
	var lay *Layout
	for i := range s.layouts {
		if s.layouts[i].ID == req.LayoutID {
			lay = &s.layouts[i]
		}
	}
	if lay == nil {
		return http.StatusUnprocessableEntity, "unknown layout", map[string]string{"layoutId": "unknown layout " + req.LayoutID}, nil
	}
	fields := map[string]string{}
	photo := s.checkPhoto(req.Photo, fields)
	checkAddress(req.DeliveryAddress, fields)
	if utf8.RuneCountInString(req.CostCentre) > s.cfg.MaxCostCentre {
		fields["costCentre"] = "too long"
	}
	for _, f := range lay.Fields {
		if f.Name == PhotoField {
			if f.Required && photo == nil && fields["photo"] == "" {
				fields["photo"] = "required"
			}
			continue
		}
		v, ok := req.CardElements[f.Name]
		switch {
		case f.Required && (!ok || strings.TrimSpace(v) == ""):
			fields[f.Name] = "required"
		case f.MaxLength > 0 && utf8.RuneCountInString(v) > f.MaxLength:
			fields[f.Name] = "too long"
		}
	}
	if len(fields) > 0 {
		return http.StatusUnprocessableEntity, "invalid card data", fields, nil
	}
	return 0, "", nil, photo
}

// checkPhoto decodes an order's photo (standard base64) and checks that it is a JPEG or a PNG
// of at most Config.MaxPhotoBytes; nil when there is none or it is bad (fields says why).
func (s *Server) checkPhoto(b64 string, fields map[string]string) []byte {
	if b64 == "" {
		return nil
	}
	if base64.StdEncoding.DecodedLen(len(b64)) > s.cfg.MaxPhotoBytes+2 {
		fields["photo"] = "larger than " + strconv.Itoa(s.cfg.MaxPhotoBytes) + " bytes"
		return nil
	}
	photo, err := base64.StdEncoding.DecodeString(b64)
	switch {
	case err != nil:
		fields["photo"] = "not base64"
	case len(photo) > s.cfg.MaxPhotoBytes:
		fields["photo"] = "larger than " + strconv.Itoa(s.cfg.MaxPhotoBytes) + " bytes"
	case !bytes.HasPrefix(photo, []byte{0xFF, 0xD8, 0xFF}) && !bytes.HasPrefix(photo, []byte("\x89PNG\r\n\x1a\n")):
		fields["photo"] = "not a JPEG or PNG"
	default:
		return photo
	}
	return nil
}

// checkAddress checks a delivery address: recipient, addressOne, postalCode and city present,
// a two-letter upper-case country code, every part within its limit.
func checkAddress(a *Address, fields map[string]string) {
	if a == nil {
		return
	}
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
		case f.required && strings.TrimSpace(f.v) == "":
			fields["deliveryAddress."+f.name] = "required"
		case utf8.RuneCountInString(f.v) > f.max:
			fields["deliveryAddress."+f.name] = "too long"
		}
	}
	cc := a.CountryCode
	if len(cc) != 2 || cc[0] < 'A' || cc[0] > 'Z' || cc[1] < 'A' || cc[1] > 'Z' {
		fields["deliveryAddress.countryCode"] = "not a two-letter country code"
	}
}

// cutConnection closes the connection without an answer: hijacked and closed where the server
// allows it (HTTP/1.x), else aborted (HTTP/2, recorders).
func cutConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			if tc, ok := conn.(*net.TCPConn); ok {
				_ = tc.SetLinger(0) // reset rather than FIN, like a dropped proxy connection
			}
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
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
