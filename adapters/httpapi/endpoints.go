package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cardsaddon/extprod/cardorder"
	"github.com/cardsaddon/extprod/ports"
)

// Limits of request fields.
const (
	maxTextField = 256  // a production type
	maxReason    = 2000 // a rejection reason
	// MaxBatchUsers is the most users one batch order names.
	MaxBatchUsers = 1000
	// MaxDispatch is the largest "max" a dispatch request may ask for.
	MaxDispatch = 100_000
	// DefaultDispatch is a dispatch pass's "max" when the body names none.
	DefaultDispatch = 1000
	// DefaultLimit and MaxLimit bound a listing page.
	DefaultLimit = 50
	MaxLimit     = 500
	// maxIdempotencyKey bounds an Idempotency-Key header.
	maxIdempotencyKey = 255
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
	if err := decodeBody(body, &in, true, "productionType"); err != nil {
		return "", in, err
	}
	return userID, in, checkText("productionType", in.ProductionType, maxTextField)
}

func (h *handler) order(w http.ResponseWriter, r *http.Request, a ports.Actor) error {
	userID, in, err := h.readOrder(w, r)
	if err != nil {
		return err
	}
	return h.idempotent(w, r, a, in, func(ctx context.Context, buf []byte) ([]byte, error) {
		c, err := h.svc.OrderCard(ctx, userID, &cardorder.OrderOptions{Actor: a, ProductionType: in.ProductionType})
		if err != nil {
			return nil, err
		}
		w.Header().Set("Location", cardLocation(c.ID))
		return CardOf(c).AppendJSON(buf), nil
	})
}

// cardLocation is the path of a card, the Location of a 201 that created it.
func cardLocation(id string) string { return "/v1/cards/" + url.PathEscape(id) }

// idempotent runs create, answering 201 with the JSON it appends to its buffer, under the
// request's Idempotency-Key when it has one: the key is scoped to the actor and bound to the path
// and the parsed body; a successful creation is remembered and replayed with 200; a refusal is
// not remembered.
func (h *handler) idempotent(w http.ResponseWriter, r *http.Request, a ports.Actor, parsed any, create func(context.Context, []byte) ([]byte, error)) error {
	keys := r.Header.Values("Idempotency-Key")
	if len(keys) == 0 {
		bp := bufPool.Get().(*[]byte)
		defer putBuf(bp)
		b, err := create(r.Context(), (*bp)[:0])
		if err != nil {
			return err
		}
		writeRaw(w, http.StatusCreated, "application/json", b)
		*bp = b
		return nil
	}
	if len(keys) > 1 || !validKey(keys[0]) {
		return errorf(CodeBadRequest, "Idempotency-Key must be one value of 1 to %d printable ASCII characters", maxIdempotencyKey)
	}
	canon, err := json.Marshal(parsed)
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(r.Method + "\n" + r.URL.Path + "\n" + string(canon)))
	fp := hex.EncodeToString(sum[:])
	scoped := strconv.Itoa(len(a.ID)) + ":" + a.ID + ":" + keys[0]

	rec, err := h.reserve(r.Context(), scoped, fp)
	if err != nil {
		return err
	}
	if rec.Done {
		writeRaw(w, http.StatusOK, "application/json", rec.Body)
		return nil
	}
	b, err := create(r.Context(), nil) // kept in the record: not from the pool
	ctx := context.WithoutCancel(r.Context())
	if err != nil {
		if rerr := h.cfg.Idempotency.Release(ctx, scoped, rec.Token); rerr != nil {
			h.log.LogAttrs(ctx, slog.LevelError, "httpapi: idempotency key not released; it frees itself when its hold expires",
				slog.String("route", r.Pattern), slog.String("err", rerr.Error()))
		}
		return err
	}
	if err := h.cfg.Idempotency.Complete(ctx, scoped, rec.Token, b, h.cfg.Clock.Now().Add(h.cfg.IdempotencyTTL)); err != nil {
		h.log.LogAttrs(ctx, slog.LevelError, "httpapi: creation not remembered under its idempotency key",
			slog.String("route", r.Pattern), slog.String("err", err.Error()))
	}
	writeRaw(w, http.StatusCreated, "application/json", b)
	return nil
}

// Backoff of a request waiting for another request with the same Idempotency-Key.
const (
	idemPollFirst = 5 * time.Millisecond
	idemPollMax   = 250 * time.Millisecond
)

// reserve reserves key for this request, or returns the completed record to replay. While
// another request with the same key runs, it waits, asking again with a doubling backoff, until
// that one completes (its answer is replayed), releases the key or lets its hold expire (then
// this request reserves it), or ctx ends. A key in use by a request with another fingerprint is
// refused at once.
func (h *handler) reserve(ctx context.Context, key, fp string) (ports.IdempotencyRecord, error) {
	wait := idemPollFirst
	for {
		rec, reserved, err := h.cfg.Idempotency.Reserve(ctx, key, fp, h.cfg.Clock.Now(), h.cfg.IdempotencyHold)
		switch {
		case err != nil:
			return rec, fmt.Errorf("reserve idempotency key: %w", err)
		case reserved:
			return rec, nil
		case rec.Fingerprint != fp:
			return rec, errorf(CodeIdempotencyKeyReused, "this Idempotency-Key was used with another request")
		case rec.Done:
			return rec, nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return rec, ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, idemPollMax)
	}
}

func validKey(k string) bool {
	if k == "" || len(k) > maxIdempotencyKey {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

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

func (h *handler) card(w http.ResponseWriter, r *http.Request, a ports.Actor) error {
	id := r.PathValue("cardId")
	if err := checkID("cardId", id); err != nil {
		return err
	}
	c, err := h.svc.Card(r.Context(), a, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, CardOf(c))
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
	writeJSON(w, http.StatusOK, CardOf(c))
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
	writeJSON(w, http.StatusOK, CardOf(c))
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
	return h.idempotent(w, r, a, in, func(ctx context.Context, buf []byte) ([]byte, error) {
		cs, err := h.svc.OrderTemporaryCards(ctx, a, in.Amount, in.ProductionType)
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(cardsJSON{Cards: cardsOf(cs)})
		return append(buf, b...), err
	})
}

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

// errNoScripts answers the script endpoints of a host without a script engine.
var errNoScripts = errorf(cardorder.CodeNotFound, "this host has no option script engine")

func (h *handler) getScript(w http.ResponseWriter, r *http.Request, a ports.Actor) error {
	if h.cfg.Scripts == nil {
		return errNoScripts
	}
	src, version, err := h.cfg.Scripts.Current(r.Context())
	if errors.Is(err, ports.ErrNotFound) {
		return errorf(cardorder.CodeNotFound, "no option script is installed")
	}
	if err != nil {
		return err
	}
	w.Header().Set("ETag", strconv.Quote(version))
	writeRaw(w, http.StatusOK, "text/javascript; charset=utf-8", []byte(src))
	return nil
}

// ifMatch parses an If-Match header: "" when absent or "*" (no precondition), else the one
// entity tag it names, unquoted.
func ifMatch(r *http.Request) (string, error) {
	vs := r.Header.Values("If-Match")
	if len(vs) == 0 {
		return "", nil
	}
	v := strings.TrimSpace(vs[0])
	if len(vs) > 1 || strings.Contains(v, ",") || v == "" {
		return "", errorf(CodeBadRequest, "If-Match must name one version")
	}
	if v == "*" {
		return "", nil
	}
	if strings.HasPrefix(v, "W/") {
		return "", errorf(CodeVersionConflict, "If-Match needs the strong version the GET returned")
	}
	if uq, err := strconv.Unquote(v); err == nil && strings.HasPrefix(v, `"`) {
		v = uq
	}
	if v == "" || len(v) > 256 {
		return "", errorf(CodeBadRequest, "If-Match must name one version")
	}
	return v, nil
}

func (h *handler) putScript(w http.ResponseWriter, r *http.Request, a ports.Actor) error {
	if h.cfg.Scripts == nil {
		return errNoScripts
	}
	body, err := readBody(w, r, h.cfg.MaxScriptBytes)
	if err != nil {
		return err
	}
	expect, err := ifMatch(r)
	if err != nil {
		return err
	}
	if !utf8.Valid(body) {
		return errorf(CodeInvalidScript, "the script is not valid UTF-8")
	}
	version, err := h.cfg.Scripts.Install(r.Context(), string(body), expect)
	if err != nil {
		return scriptError(r, err)
	}
	if err := h.svc.RecordScriptInstall(r.Context(), a, version); err != nil {
		// The script is installed either way; the outbox could not take its audit event.
		h.log.LogAttrs(r.Context(), slog.LevelError, "httpapi: script installed but its audit event not written",
			slog.String("route", r.Pattern), slog.String("err", err.Error()))
	}
	w.Header().Set("ETag", strconv.Quote(version))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// maxScriptDetail bounds the script engine's message in a problem.
const maxScriptDetail = 4096

// scriptError maps an error of Scripts.Install or Scripts.Load: a version conflict, a refused
// script (the engine's message names the line), or — when the request was cancelled — internal.
func scriptError(r *http.Request, err error) error {
	switch {
	case errors.Is(err, ports.ErrConflict):
		return errorf(CodeVersionConflict, "the script was replaced meanwhile; GET it again and retry with its ETag")
	case r.Context().Err() != nil:
		return err
	}
	return &apiError{code: CodeInvalidScript, detail: scriptDetail(err.Error())}
}

func scriptDetail(msg string) string {
	msg = strings.ToValidUTF8(msg, "?")
	if len(msg) > maxScriptDetail {
		msg = msg[:maxScriptDetail] + "…"
	}
	return msg
}

type dryRunBody struct {
	Script         *string  `json:"script"`
	UserID         string   `json:"userId"`
	ActorID        string   `json:"actorId"`
	Roles          []string `json:"roles"`
	Channel        string   `json:"channel"`
	ProductionType string   `json:"productionType"`
}

// dryRun serves POST /v1/admin/options-script/dry-run: like a preview for the user, actor and
// channel the body names, with the script it sends or the installed one. "options" is absent
// when the refusal came before the options were resolved (an unknown user, the installed script
// failing while deciding); a script sent in the body that fails is refused with 422
// invalid_script instead.
func (h *handler) dryRun(w http.ResponseWriter, r *http.Request, a ports.Actor) error {
	body, err := readBody(w, r, h.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	var in dryRunBody
	if err := decodeBody(body, &in, false, "script", "userId", "actorId", "roles", "channel", "productionType"); err != nil {
		return err
	}
	if in.Script != nil && int64(len(*in.Script)) > h.cfg.MaxScriptBytes {
		return errorf(CodePayloadTooLarge, "the script is larger than %d bytes", h.cfg.MaxScriptBytes)
	}
	if err := checkID("userId", in.UserID); err != nil {
		return err
	}
	if err := checkID("actorId", in.ActorID); err != nil {
		return err
	}
	actor := ports.Actor{ID: in.ActorID, Roles: make([]ports.Role, 0, len(in.Roles))}
	for i, role := range in.Roles {
		switch ports.Role(role) {
		case ports.RoleOperator, ports.RoleApprover, ports.RoleAdmin, ports.RoleSelfService:
			actor.Roles = append(actor.Roles, ports.Role(role))
		default:
			return errorf(CodeBadRequest, "roles[%d] must be operator, approver, admin or selfservice", i)
		}
	}
	switch ports.Channel(in.Channel) {
	case "", ports.ChannelOperator, ports.ChannelSelfService, ports.ChannelBatch:
	default:
		return errorf(CodeBadRequest, "channel must be operator, selfservice or batch")
	}
	if err := checkText("productionType", in.ProductionType, maxTextField); err != nil {
		return err
	}
	d := cardorder.DryRun{UserID: in.UserID, Actor: actor, Channel: ports.Channel(in.Channel), ProductionType: in.ProductionType}
	if in.Script != nil {
		if h.cfg.Scripts == nil {
			return errNoScripts
		}
		src, err := h.cfg.Scripts.Load(r.Context(), *in.Script)
		if err != nil {
			return scriptError(r, err)
		}
		d.Source = src
	}
	pv, err := h.svc.DryRun(r.Context(), a, d)
	if err != nil {
		return err
	}
	// A script under test that fails while deciding does not produce valid options: the script
	// is refused, with the engine's message (which names the line).
	if in.Script != nil && errors.Is(pv.Refusal, cardorder.ErrScriptFailed) {
		msg := "the script failed"
		var de *cardorder.Error
		if errors.As(pv.Refusal, &de) && de.Err != nil {
			msg = de.Err.Error()
		}
		return &apiError{code: CodeInvalidScript, detail: scriptDetail(msg)}
	}
	out := dryRunJSON{previewJSON: h.previewOf(r, pv), DefaultsUsed: []string{}}
	// The options the script leaves out and that take their defaults (docs/option-script.md).
	if ds, ok := d.Source.(scriptDefaults); ok && d.Source != nil {
		out.DefaultsUsed = append(out.DefaultsUsed, ds.DefaultsUsed()...)
	} else if ds, ok := h.cfg.Scripts.(installedDefaults); ok && d.Source == nil {
		out.DefaultsUsed = append(out.DefaultsUsed, ds.DefaultsUsed(r.Context())...)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// scriptDefaults is a loaded script that names the defaults it relies on (*options.Script);
// installedDefaults is a ports.ScriptAdmin that names those of the script in force
// (*options.Engine).
type (
	scriptDefaults    interface{ DefaultsUsed() []string }
	installedDefaults interface {
		DefaultsUsed(context.Context) []string
	}
)

// dryRunJSON is a dry run's answer: the preview and the defaults the script relied on.
type dryRunJSON struct {
	previewJSON
	DefaultsUsed []string `json:"defaultsUsed"`
}
