package httpapi

import (
	"context"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/cardsaddon/extprod/ports"
)

func (h *handler) card(w http.ResponseWriter, r *http.Request, a ports.Actor) error {
	id := r.PathValue("cardId")
	if err := checkID("cardId", id); err != nil {
		return err
	}
	c, err := h.svc.Card(r.Context(), a, id)
	if err != nil {
		return err
	}
	writeCard(w, http.StatusOK, &c)
	return nil
}

type listJSON struct {
	Cards      []Card `json:"cards"`
	NextCursor string `json:"nextCursor,omitempty"`
}

var cardStates = []ports.CardState{
	ports.StateRequested, ports.StateProcessing, ports.StateOrdered, ports.StateInProduction,
	ports.StateProduced, ports.StateFailed, ports.StateAborted, ports.StateRejected,
}

// listParams are the listing's query parameters in the order they are checked.
var listParams = []string{"userId", "state", "limit", "cursor"}

// listFilter parses the listing's query strictly: known parameters, each at most once, valid
// values. The parameters are checked in a fixed order (listParams, then unknown names sorted),
// so the error a query with several bad parameters gets does not depend on map iteration.
func listFilter(raw string) (ports.CardFilter, error) {
	f := ports.CardFilter{Limit: DefaultLimit}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return f, errorf(CodeBadRequest, "the query string is malformed")
	}
	for _, k := range listParams {
		vs, given := q[k]
		if !given {
			continue
		}
		if len(vs) != 1 {
			return f, errorf(CodeBadRequest, "query parameter %s must be given once", quoteField(k))
		}
		v := vs[0]
		switch k {
		case "userId":
			if err := checkID("userId", v); err != nil {
				return f, err
			}
			f.UserID = v
		case "state":
			s := ports.CardState(v)
			if !slices.Contains(cardStates, s) {
				return f, errorf(CodeBadRequest, "state must be one of %s", joinStates())
			}
			f.States = []ports.CardState{s}
		case "limit":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > MaxLimit || strconv.Itoa(n) != v {
				return f, errorf(CodeBadRequest, "limit must be an integer from 1 to %d", MaxLimit)
			}
			f.Limit = n
		case "cursor":
			after, ok := DecodeCursor(v)
			if !ok {
				return f, errorf(CodeBadRequest, "cursor is not a cursor this API returned")
			}
			f.After = after
		}
	}
	for _, k := range slices.Sorted(maps.Keys(q)) {
		if !slices.Contains(listParams, k) {
			return f, errorf(CodeBadRequest, "unknown query parameter %s", quoteField(k))
		}
	}
	return f, nil
}

func joinStates() string {
	names := make([]string, len(cardStates))
	for i, s := range cardStates {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

func (h *handler) cards(w http.ResponseWriter, r *http.Request, a ports.Actor) error {
	f, err := listFilter(r.URL.RawQuery)
	if err != nil {
		return err
	}
	page, err := h.svc.Cards(r.Context(), a, f)
	if err != nil {
		return err
	}
	out := listJSON{Cards: cardsOf(page.Cards)}
	if page.Next != 0 {
		out.NextCursor = EncodeCursor(page.Next)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// cardAction serves the card actions without a body: approve, abort, repeat, refresh. An empty
// body or an empty JSON object is accepted.
func (h *handler) cardAction(w http.ResponseWriter, r *http.Request, a ports.Actor,
	do func(context.Context, ports.Actor, string) (ports.Card, error)) error {
	id := r.PathValue("cardId")
	if err := checkID("cardId", id); err != nil {
		return err
	}
	if err := h.noBody(w, r); err != nil {
		return err
	}
	c, err := do(r.Context(), a, id)
	if err != nil {
		return err
	}
	writeCard(w, http.StatusOK, &c)
	return nil
}

// noBody accepts an empty body or an empty JSON object.
func (h *handler) noBody(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(w, r, h.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	var none struct{}
	return decodeBody(body, &none, true)
}

func (h *handler) approve(w http.ResponseWriter, r *http.Request, a ports.Actor) error {
	return h.cardAction(w, r, a, h.svc.Approve)
}

func (h *handler) abort(w http.ResponseWriter, r *http.Request, a ports.Actor) error {
	return h.cardAction(w, r, a, h.svc.Abort)
}

func (h *handler) repeat(w http.ResponseWriter, r *http.Request, a ports.Actor) error {
	return h.cardAction(w, r, a, h.svc.Repeat)
}

func (h *handler) refresh(w http.ResponseWriter, r *http.Request, a ports.Actor) error {
	return h.cardAction(w, r, a, h.svc.Refresh)
}

type rejectBody struct {
	Reason string `json:"reason"`
}

func (h *handler) reject(w http.ResponseWriter, r *http.Request, a ports.Actor) error {
	id := r.PathValue("cardId")
	if err := checkID("cardId", id); err != nil {
		return err
	}
	body, err := readBody(w, r, h.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	var in rejectBody
	if err := decodeBody(body, &in, true, "reason"); err != nil {
		return err
	}
	if err := checkText("reason", in.Reason, maxReason); err != nil {
		return err
	}
	c, err := h.svc.Reject(r.Context(), a, id, in.Reason)
	if err != nil {
		return err
	}
	writeCard(w, http.StatusOK, &c)
	return nil
}
