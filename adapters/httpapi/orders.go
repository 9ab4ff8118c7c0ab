package httpapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"

	"github.com/cardsaddon/extprod/cardorder"
	"github.com/cardsaddon/extprod/ports"
)

type orderBody struct {
	ProductionType string `json:"productionType"`
}

// readOrder reads and checks the path and body of an order or preview.
func (h *handler) readOrder(w http.ResponseWriter, r *http.Request) (string, orderBody, error) {
	var in orderBody
	userID := r.PathValue("userId")
	if err := checkID("userId", userID); err != nil {
		return "", in, err
	}
	body, err := readBody(w, r, h.cfg.MaxBodyBytes)
	if err != nil {
		return "", in, err
	}
	if !plainStrings(body, orderFields, []*string{&in.ProductionType}) {
		var full orderBody // decoded through encoding/json, so it lives on the heap: only here
		if err := decodeBody(body, &full, true, orderFields...); err != nil {
			return "", in, err
		}
		in = full
	}
	return userID, in, checkText("productionType", in.ProductionType, maxTextField)
}

// orderFields are the fields of orderBody.
var orderFields = []string{"productionType"}

func (h *handler) order(w http.ResponseWriter, r *http.Request, a ports.Actor) error {
	userID, in, err := h.readOrder(w, r)
	if err != nil {
		return err
	}
	return idempotent(h, w, r, a, in, func(ctx context.Context, buf []byte) ([]byte, error) {
		c, err := h.svc.OrderCard(ctx, userID, &cardorder.OrderOptions{Actor: a, ProductionType: in.ProductionType})
		if err != nil {
			return nil, err
		}
		w.Header()["Location"] = headerValue(w, cardLocation(c.ID))
		return appendCardJSON(buf, &c), nil
	})
}

// cardLocation is the path of a card, the Location of a 201 that created it.
func cardLocation(id string) string { return "/v1/cards/" + url.PathEscape(id) }

// previewJSON is the answer of a preview or dry run. Options is absent (omitempty) when the
// refusal came before the options were resolved: an unknown user, or a script that failed
// while deciding.
type previewJSON struct {
	Card    *Card          `json:"card,omitempty"`
	Refusal *Problem       `json:"refusal,omitempty"`
	Options *ports.Options `json:"options,omitempty"`
}

func (h *handler) previewOf(r *http.Request, pv cardorder.Preview) previewJSON {
	out := previewJSON{Options: pv.Options}
	if pv.Refusal != nil {
		p := h.problem(r, pv.Refusal)
		out.Refusal = &p
		return out
	}
	c := CardOf(pv.Card)
	c.HasPhoto = pv.HasPhoto
	out.Card = &c
	return out
}

// problem returns err's problem for inclusion in a 200 answer, logging an internal cause.
func (h *handler) problem(r *http.Request, err error) Problem {
	p, internal := problemOf(err)
	if internal {
		h.log.LogAttrs(r.Context(), slog.LevelError, "httpapi: refusal by an internal error",
			slog.String("route", r.Pattern), slog.String("err", err.Error()))
	}
	return p
}

// preview serves POST /v1/users/{userId}/card-orders/preview: 200 with the card that would be
// created, or with the domain's refusal as a problem, and the resolved options. "options" is
// absent when the refusal came before the options were resolved (an unknown user, a script
// that failed while deciding). Authentication and permission refusals are errors, not previews.
func (h *handler) preview(w http.ResponseWriter, r *http.Request, a ports.Actor) error {
	userID, in, err := h.readOrder(w, r)
	if err != nil {
		return err
	}
	pv, err := h.svc.PreviewOrder(r.Context(), userID, &cardorder.OrderOptions{Actor: a, ProductionType: in.ProductionType})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h.previewOf(r, pv))
	return nil
}

type batchBody struct {
	UserIDs        []string `json:"userIds"`
	ProductionType string   `json:"productionType"`
}

type batchResultJSON struct {
	UserID string   `json:"userId"`
	Card   *Card    `json:"card,omitempty"`
	Error  *Problem `json:"error,omitempty"`
}

func (h *handler) batch(w http.ResponseWriter, r *http.Request, a ports.Actor) error {
	body, err := readBody(w, r, h.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	var in batchBody
	if err := decodeBody(body, &in, false, "userIds", "productionType"); err != nil {
		return err
	}
	if len(in.UserIDs) == 0 || len(in.UserIDs) > MaxBatchUsers {
		return errorf(CodeBadRequest, "userIds must name 1 to %d users", MaxBatchUsers)
	}
	for i, id := range in.UserIDs {
		if err := checkID("userIds["+strconv.Itoa(i)+"]", id); err != nil {
			return err
		}
	}
	if err := checkText("productionType", in.ProductionType, maxTextField); err != nil {
		return err
	}
	results, err := h.svc.OrderBatch(r.Context(), a, in.UserIDs, in.ProductionType)
	if err != nil {
		return err
	}
	out := struct {
		Results []batchResultJSON `json:"results"`
	}{Results: make([]batchResultJSON, len(results))}
	for i, res := range results {
		out.Results[i].UserID = res.UserID
		if res.Err != nil {
			p := h.problem(r, res.Err)
			out.Results[i].Error = &p
			continue
		}
		c := CardOf(res.Card)
		out.Results[i].Card = &c
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

type temporaryBody struct {
	Amount         int    `json:"amount"`
	ProductionType string `json:"productionType"`
}

type cardsJSON struct {
	Cards []Card `json:"cards"`
}

func (h *handler) temporary(w http.ResponseWriter, r *http.Request, a ports.Actor) error {
	body, err := readBody(w, r, h.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	var in temporaryBody
	if err := decodeBody(body, &in, true, "amount", "productionType"); err != nil {
		return err
	}
	if err := checkText("productionType", in.ProductionType, maxTextField); err != nil {
		return err
	}
	return idempotent(h, w, r, a, in, func(ctx context.Context, buf []byte) ([]byte, error) {
		cs, err := h.svc.OrderTemporaryCards(ctx, a, in.Amount, in.ProductionType)
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(cardsJSON{Cards: cardsOf(cs)})
		return append(buf, b...), err
	})
}
