package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/cardsaddon/extprod/cardorder"
	"github.com/cardsaddon/extprod/ports"
)

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
