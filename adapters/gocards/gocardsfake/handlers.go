package gocardsfake

import (
	"bytes"
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The bureau's HTTP API: tokens, layouts, order placement and status look-ups (docs/gocards-wire.md).

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
	s.tokens[tok] = s.cfg.Clock.Now().Add(s.cfg.TokenTTL)
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
		valid := ok && known && s.cfg.Clock.Now().Before(exp)
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
		Status: StatusOrdered, Created: s.cfg.Clock.Now(),
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
