package httpapi

import (
	"net/http"

	"github.com/cardsaddon/extprod/ports"
)

// dispatchJSON is the answer of a dispatch pass: retried counts the cards whose outcome was
// unknown and that stay queued for a later attempt (they are also in remaining).
type dispatchJSON struct {
	Ordered   int `json:"ordered"`
	Failed    int `json:"failed"`
	Retried   int `json:"retried"`
	Remaining int `json:"remaining"`
}

type dispatchBody struct {
	Max *int `json:"max"`
}

func (h *handler) dispatch(w http.ResponseWriter, r *http.Request, a ports.Actor) error {
	body, err := readBody(w, r, h.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	var in dispatchBody
	if err := decodeBody(body, &in, true, "max"); err != nil {
		return err
	}
	max := DefaultDispatch
	if in.Max != nil {
		if *in.Max < 1 || *in.Max > MaxDispatch {
			return errorf(CodeBadRequest, "max must be an integer from 1 to %d", MaxDispatch)
		}
		max = *in.Max
	}
	res, err := h.svc.Dispatch(r.Context(), a, max)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, dispatchJSON{res.Ordered, res.Failed, res.Retry, res.Remaining})
	return nil
}

func (h *handler) statusSync(w http.ResponseWriter, r *http.Request, a ports.Actor) error {
	if err := h.noBody(w, r); err != nil {
		return err
	}
	n, err := h.svc.SyncStatus(r.Context(), a)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		Updated int `json:"updated"`
	}{n})
	return nil
}
