package gocardsfake

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Status changes the test drives and the signed events the fake pushes for them.

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
			o.ProductionDate = s.cfg.Clock.Now().UTC().Format(time.RFC3339)
			o.ValidThru = s.cfg.Clock.Now().UTC().AddDate(5, 0, 0).Format("2006-01")
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
	}{evID, s.cfg.Clock.Now().UTC().Format(time.RFC3339), "ORDER_STATUS_CHANGED", data})
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
