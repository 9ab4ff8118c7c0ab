package cardorder

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/cardsaddon/extprod/ports"
)

// This file holds the operability hooks (docs/use-case.md §9): what the Service reports to
// Config.Observer, the audit events of refusals and script installs, and the request context
// (ports.Request, a trace context) it copies into every audit event.

// traceParent is the W3C trace context of ctx, when the observer can tell it.
func (s *Service) traceParent(ctx context.Context) string {
	if tp, ok := s.cfg.Observer.(ports.TraceParenter); ok {
		return tp.TraceParent(ctx)
	}
	return ""
}

// stamp completes an audit event with its source: the instance, the request and trace of ctx
// and, unless set, the kind (a state change) and the outcome (success).
func (s *Service) stamp(ctx context.Context, e *ports.AuditEvent) {
	s.stampTraced(ctx, e, s.traceParent(ctx))
}

// stampTraced is stamp with the trace context of ctx already known (tp).
func (s *Service) stampTraced(ctx context.Context, e *ports.AuditEvent, tp string) {
	if e.Kind == "" {
		e.Kind = ports.AuditStateChange
	}
	if e.Outcome == "" {
		e.Outcome = ports.OutcomeSuccess
	}
	r := ports.RequestOf(ctx)
	e.Instance, e.RequestID, e.ClientAddress = s.cfg.Instance, r.ID, r.ClientAddress
	e.TraceParent = tp
}

// moved reports a written state change to the observer.
func (s *Service) moved(ctx context.Context, e ports.AuditEvent, ch ports.Channel) {
	if e.ID != "" && e.From != e.To {
		s.cfg.Observer.CardMoved(ctx, e.From, e.To, ch)
	}
}

// resolve runs the options source for one order and reports how long the script took and any
// limit it hit. Static options run no script: there is nothing to report.
func (s *Service) resolve(ctx context.Context, src ports.OptionsSource, r ports.OptionsRequest) (ports.Resolved, error) {
	switch src.(type) {
	case StaticOptions, *StaticOptions:
		return src.Resolve(ctx, r)
	}
	start := time.Now()
	res, err := src.Resolve(ctx, r)
	s.cfg.Observer.ScriptEvaluated(ctx, time.Since(start), ports.ScriptLimitOf(err))
	return res, err
}

// bureau starts the span of one bureau call; its end takes the call's error.
func (s *Service) bureau(ctx context.Context, call ports.BureauCall, c ports.Card) (context.Context, func(error)) {
	sp := ports.Span{Op: ports.OpBureauCall, Call: call, CardID: c.ID, Channel: c.Channel}
	if c.TraceParent != "" {
		sp.Links = []string{c.TraceParent}
	}
	ctx, end := s.cfg.Observer.Start(ctx, sp)
	return ctx, func(err error) { end(ports.Outcome{Code: ports.BureauErrorKind(err)}) }
}

// begin starts an actor's operation: its span, and at its end the refusal's audit event and log
// line when a rule refused the actor. The returned function takes the operation's error and how
// many cards it touched.
func (s *Service) begin(ctx context.Context, sp ports.Span, actor ports.Actor) (context.Context, func(error, int)) {
	ctx, end := s.cfg.Observer.Start(ctx, sp)
	return ctx, func(err error, cards int) {
		s.refused(ctx, sp.Op, actor, sp.CardID, "", err)
		end(ports.Outcome{Code: string(CodeOf(err)), Cards: cards})
	}
}

// audited reports whether a refusal with code c is an audit event of its own: a domain rule
// refused an authenticated actor (permission, four-eyes, state, open order).
func audited(c Code) bool {
	switch c {
	case CodeForbidden, CodeInvalidState, CodeOrderExists:
		return true
	}
	return false
}

// refused logs a refusal of op (never the user id: it may be an email address) and, when a
// domain rule refused an authenticated actor, writes its audit event to the outbox. err nil
// does nothing.
func (s *Service) refused(ctx context.Context, op ports.Operation, actor ports.Actor, cardID, userID string, err error) {
	code := CodeOf(err)
	switch {
	case code == "":
		return
	case code == CodeInternal:
		// Not the cause: a store's or directory's words may name a user. The caller has it.
		s.log.LogAttrs(ctx, slog.LevelWarn, "cardorder: operation failed", slog.String("op", string(op)),
			slog.String("card", cardID), slog.String("code", string(code)))
		return
	}
	r := Refusal{Code: code, CardID: cardID, UserID: userID}
	if de := (*Error)(nil); errors.As(err, &de) {
		r.Reason = de.Detail
	}
	s.refusal(ctx, op, actor, r)
}

// refusal logs r and writes its audit event when it is one.
func (s *Service) refusal(ctx context.Context, op ports.Operation, actor ports.Actor, r Refusal) {
	s.log.LogAttrs(ctx, slog.LevelInfo, "cardorder: refused", slog.String("op", string(op)),
		slog.String("code", string(r.Code)), slog.String("card", r.CardID))
	if actor.ID == "" || !audited(r.Code) {
		return
	}
	_ = s.addEvent(ctx, ports.AuditEvent{ID: s.cfg.IDs.NewID(), Kind: ports.AuditRefused, CardID: r.CardID,
		UserID: r.UserID, Actor: actor.ID, Code: string(r.Code), Outcome: ports.OutcomeFailure, Reason: r.Reason, At: s.now()})
}

// Refusal is a refusal a driving adapter made by a domain rule before calling the Service (the
// HTTP API checks roles before it reads a request body).
type Refusal struct {
	Code   Code
	Reason string // why, without personal data
	CardID string // the card acted on, if any
	UserID string // the user ordered for, if any
}

// RecordRefusal logs a refusal of an authenticated actor that a driving adapter made on the
// domain's behalf and, when it is one the domain audits (forbidden, invalid_state,
// order_exists), writes its audit event, as the Service does for its own refusals
// (docs/use-case.md §9). An actor without an id is logged only: failed authentication is never
// audited.
func (s *Service) RecordRefusal(ctx context.Context, actor ports.Actor, r Refusal) {
	s.refusal(ctx, "", actor, r)
}

// addEvent writes an audit event that changes no card to the outbox; a failure is logged, never
// returned: the refusal it records stands either way.
func (s *Service) addEvent(ctx context.Context, e ports.AuditEvent) error {
	s.stamp(ctx, &e)
	if err := s.p.Store.AddEvents(context.WithoutCancel(ctx), []ports.AuditEvent{e}); err != nil {
		s.log.LogAttrs(ctx, slog.LevelError, "cardorder: audit event not written", slog.String("kind", string(e.Kind)),
			slog.String("code", e.Code), slog.String("err", err.Error()))
		return err
	}
	s.written(ctx, []ports.AuditEvent{e}, nil)
	return nil
}

// RecordScriptInstall writes the audit event of an option script install (kind
// script_installed, Reason the script's version) by admin, with the request and trace of ctx.
// A driving adapter calls it after the script engine installed the script; the error says the
// event could not be written to the outbox (the install itself stands).
func (s *Service) RecordScriptInstall(ctx context.Context, admin ports.Actor, version string) error {
	if err := require(admin, ports.RoleAdmin, "installing an option script"); err != nil {
		return err
	}
	err := s.addEvent(ctx, ports.AuditEvent{ID: s.cfg.IDs.NewID(), Kind: ports.AuditScriptInstalled,
		Actor: admin.ID, Outcome: ports.OutcomeSuccess, Reason: version, At: s.now()})
	if err != nil {
		return wrapErr(CodeInternal, err, "write the script install's audit event")
	}
	return nil
}

// Observer returns Config.Observer (a no-op when none was set), so a driving adapter reports
// its own operations (ports.OpAuthenticate) to the same observer.
func (s *Service) Observer() ports.Observer { return s.cfg.Observer }

// RequestLogHandler wraps h so that every record logged with a context that carries a
// [ports.Request] gets its id as the attribute "request_id". The Service wraps its Logger with
// it; a driving adapter can wrap its own.
func RequestLogHandler(h slog.Handler) slog.Handler {
	if _, ok := h.(requestHandler); ok {
		return h
	}
	return requestHandler{h}
}

type requestHandler struct{ slog.Handler }

// Handle adds the request id of ctx, if any.
func (h requestHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := ports.RequestOf(ctx).ID; id != "" {
		r = r.Clone()
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs keeps the wrapper.
func (h requestHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return requestHandler{h.Handler.WithAttrs(as)}
}

// WithGroup keeps the wrapper.
func (h requestHandler) WithGroup(name string) slog.Handler {
	return requestHandler{h.Handler.WithGroup(name)}
}

// one counts the cards an operation on one card touched: 1 unless it failed.
func one(err error) int {
	if err != nil {
		return 0
	}
	return 1
}
