package cardorder_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/matryer/is"

	"github.com/cardsaddon/extprod/cardorder"
	"github.com/cardsaddon/extprod/ports"
)

// incomingTrace is the trace context a host's tracing middleware put into the request context.
const incomingTrace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

// requestCtx is a request as the HTTP API hands it to the domain: its id, the caller's address
// and a trace.
func requestCtx() context.Context {
	ctx := ports.WithRequest(context.Background(), ports.Request{ID: "req-42", ClientAddress: "192.0.2.10"})
	return withTrace(ctx, incomingTrace)
}

// missingAU3 names the fields of NIST SP 800-53 AU-3 an audit event lacks: what (kind and its
// details), when, where (instance), the source (request, client address, trace), the outcome
// and who.
func missingAU3(e ports.AuditEvent) []string {
	var miss []string
	for name, set := range map[string]bool{
		"ID": e.ID != "", "Kind": e.Kind != "", "Actor": e.Actor != "", "Outcome": e.Outcome != "",
		"At": !e.At.IsZero(), "Instance": e.Instance != "", "RequestID": e.RequestID != "",
		"ClientAddress": e.ClientAddress != "", "TraceParent": e.TraceParent != "",
	} {
		if !set {
			miss = append(miss, name)
		}
	}
	switch e.Kind {
	case ports.AuditRefused:
		if e.Code == "" || e.Reason == "" {
			miss = append(miss, "Code and Reason of a refusal")
		}
	case ports.AuditScriptInstalled:
		if e.Reason == "" {
			miss = append(miss, "Reason (the version) of a script install")
		}
	case ports.AuditStateChange:
		if e.From == "" || e.To == "" || e.CardID == "" {
			miss = append(miss, "From, To and CardID of a state change")
		}
	}
	slices.Sort(miss)
	return miss
}

// TestAuditEventsCarryAU3: a refused approval, an abort lost to the dispatcher and a script
// install each leave exactly one event of their kind, with every AU-3 field.
func TestAuditEventsCarryAU3(t *testing.T) {
	both := ports.Actor{ID: "op-9", Roles: []ports.Role{ports.RoleOperator, ports.RoleApprover}}
	tests := []struct {
		name string
		opts func(*ports.Options)
		act  func(t *testing.T, w *observed) error
		want ports.AuditEvent // the fields a test can know; ID, At and TraceParent are checked set
	}{
		{"refused approval", func(o *ports.Options) { o.ApprovalStep = true }, func(t *testing.T, w *observed) error {
			c, err := w.svc.OrderCard(context.Background(), ada.ID, &cardorder.OrderOptions{Actor: both})
			if err != nil {
				t.Fatal(err)
			}
			_, err = w.svc.Approve(requestCtx(), both, c.ID) // four-eyes: it ordered the card
			isCode(t, err, cardorder.ErrForbidden)
			return nil
		}, ports.AuditEvent{Kind: ports.AuditRefused, CardID: "c1", Actor: "op-9", Code: "forbidden", Outcome: "failure",
			Reason: "four-eyes: the approver must be neither the requester nor the cardholder"}},
		{"abort lost to the dispatcher", nil, func(t *testing.T, w *observed) error {
			c := w.order(t, ada.ID)
			claimed, err := w.store.Claim(context.Background(), w.clock.Now(), 1, time.Minute)
			if err != nil || len(claimed) != 1 {
				t.Fatalf("claim: %v, %d cards", err, len(claimed))
			}
			_, err = w.svc.Abort(requestCtx(), operator, c.ID)
			isCode(t, err, cardorder.ErrInvalidState)
			return nil
		}, ports.AuditEvent{Kind: ports.AuditRefused, CardID: "c1", Actor: "op-1", Code: "invalid_state", Outcome: "failure",
			Reason: "cannot abort a card in state processing"}},
		{"script install", nil, func(t *testing.T, w *observed) error {
			return w.svc.RecordScriptInstall(requestCtx(), admin, "v-3f2a")
		}, ports.AuditEvent{Kind: ports.AuditScriptInstalled, Actor: "ad-1", Outcome: "success", Reason: "v-3f2a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			w := newObserved(t, cardorder.StaticOptions(enabled(tt.opts)))
			is.NoErr(tt.act(t, w))
			got := w.eventsOf(tt.want.Kind)
			if len(got) != 1 {
				t.Fatalf("%d %s events, want exactly one: %+v", len(got), tt.want.Kind, got)
			}
			e := got[0]
			if miss := missingAU3(e); len(miss) > 0 {
				t.Fatalf("the event lacks %v: %+v", miss, e)
			}
			want := tt.want
			want.ID, want.At, want.TraceParent = e.ID, e.At, e.TraceParent
			want.Instance, want.RequestID, want.ClientAddress = "host-a", "req-42", "192.0.2.10"
			if d := cmp.Diff(want, e); d != "" {
				t.Fatalf("event (-want +got):\n%s", d)
			}
			is.True(strings.HasPrefix(e.TraceParent, "00-")) // the trace of the request
		})
	}
}

// TestStateChangeEventsCarryAU3: the event of every state change carries the same source, and a
// card keeps the trace of the request that ordered it.
func TestStateChangeEventsCarryAU3(t *testing.T) {
	is := is.New(t)
	w := newObserved(t, cardorder.StaticOptions(enabled(nil)))
	c, err := w.svc.OrderCard(requestCtx(), ada.ID, &cardorder.OrderOptions{Actor: operator})
	is.NoErr(err)
	is.Equal(c.TraceParent, w.rec.span(ports.OpOrder).TP)
	evs := w.eventsOf(ports.AuditStateChange)
	is.Equal(len(evs), 1)
	is.Equal(missingAU3(evs[0]), nil)
	is.Equal(evs[0].TraceParent, c.TraceParent)
	is.Equal(evs[0].Outcome, ports.OutcomeSuccess)
	// The dispatcher's change has no request: it names the system and this instance.
	w.dispatch(t)
	evs = w.eventsOf(ports.AuditStateChange)
	is.Equal(len(evs), 2)
	is.Equal(evs[1].Actor, cardorder.SystemActor)
	is.Equal(evs[1].Instance, "host-a")
	is.Equal(evs[1].RequestID, "")
	is.Equal(evs[1].TraceParent, w.rec.span(ports.OpDispatchPass).TP)
}

// TestWhichRefusalsAreAudited: a domain rule refusing an authenticated actor (permission,
// four-eyes, state, open order) is audited; an unauthenticated call, bad input and other
// refusals are not.
func TestWhichRefusalsAreAudited(t *testing.T) {
	ctx := requestCtx()
	nobody := ports.Actor{Roles: []ports.Role{ports.RoleOperator, ports.RoleApprover, ports.RoleAdmin}}
	tests := []struct {
		name string
		act  func(t *testing.T, w *observed, requested ports.Card) error
		want []string // code/actor of the refusal events
	}{
		{"unauthenticated approve", func(t *testing.T, w *observed, c ports.Card) error {
			_, err := w.svc.Approve(ctx, nobody, c.ID)
			return err
		}, nil},
		{"unauthenticated order", func(t *testing.T, w *observed, c ports.Card) error {
			_, err := w.svc.OrderCard(ctx, grace.ID, &cardorder.OrderOptions{Actor: nobody})
			return err
		}, nil},
		{"approve without the role", func(t *testing.T, w *observed, c ports.Card) error {
			_, err := w.svc.Approve(ctx, operator2, c.ID)
			return err
		}, []string{"forbidden/op-2"}},
		{"self-service orders for another", func(t *testing.T, w *observed, c ports.Card) error {
			_, err := w.svc.OrderCard(ctx, grace.ID, &cardorder.OrderOptions{Actor: self1})
			return err
		}, []string{"forbidden/u1"}},
		{"open order", func(t *testing.T, w *observed, c ports.Card) error {
			_, err := w.svc.OrderCard(ctx, ada.ID, &cardorder.OrderOptions{Actor: operator2})
			return err
		}, []string{"order_exists/op-2"}},
		{"batch: one user refused", func(t *testing.T, w *observed, c ports.Card) error {
			res, err := w.svc.OrderBatch(ctx, operator2, []string{ada.ID, grace.ID}, "")
			if err == nil && res[0].Err == nil {
				return errors.New("ada's second order was not refused")
			}
			return err
		}, []string{"order_exists/op-2"}},
		{"reject without a reason", func(t *testing.T, w *observed, c ports.Card) error {
			_, err := w.svc.Reject(ctx, approver, c.ID, " ")
			return err
		}, nil},
		{"inactive user", func(t *testing.T, w *observed, c ports.Card) error {
			_, err := w.svc.OrderCard(ctx, alan.ID, &cardorder.OrderOptions{Actor: operator})
			return err
		}, nil},
		{"dispatch without the role", func(t *testing.T, w *observed, c ports.Card) error {
			_, err := w.svc.Dispatch(ctx, operator, 0)
			return err
		}, []string{"forbidden/op-1"}},
		{"repeat of a requested card", func(t *testing.T, w *observed, c ports.Card) error {
			_, err := w.svc.Repeat(ctx, operator, c.ID)
			return err
		}, []string{"invalid_state/op-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newObserved(t, cardorder.StaticOptions(enabled(func(o *ports.Options) { o.ApprovalStep = true })))
			c := w.order(t, ada.ID)
			_ = tt.act(t, w, c)
			var got []string
			for _, e := range w.eventsOf(ports.AuditRefused) {
				got = append(got, e.Code+"/"+e.Actor)
				if miss := missingAU3(e); len(miss) > 0 {
					t.Errorf("refusal event lacks %v", miss)
				}
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Fatalf("refusal events (-want +got):\n%s", d)
			}
		})
	}
}

// TestNoPersonalDataObservedOrLogged runs every kind of operation, refusal and failure for a
// cardholder whose id, names and addresses are recognisable and checks that none of them reaches
// an observer or a log line (at Debug level, where everything is logged), and that the log has
// the lines docs/use-case.md §9 promises, at their level, with the request id.
func TestNoPersonalDataObservedOrLogged(t *testing.T) {
	is := is.New(t)
	person := ports.User{ID: "augusta.byron@example.org", State: ports.UserActive, GivenName: "Augusta",
		FamilyName: "Byronsdottir", Email: "augusta.byron@example.org", UPN: "abyron@corp.example",
		Organisation: "Analytical Engines", EmployeeNumber: "E-81512"}
	secrets := []string{"augusta", "byron", "abyron", "analytical", "e-81512"}
	self := ports.Actor{ID: person.ID, Roles: []ports.Role{ports.RoleSelfService}}
	w := newObserved(t, cardorder.StaticOptions(enabled(func(o *ports.Options) { o.ApprovalStep = true })), person, grace)
	ctx := requestCtx()

	c, err := w.svc.OrderCard(ctx, person.ID, &cardorder.OrderOptions{Actor: self})
	is.NoErr(err)
	_, err = w.svc.OrderCard(ctx, person.ID, &cardorder.OrderOptions{Actor: self}) // open order
	isCode(t, err, cardorder.ErrOrderExists)
	_, err = w.svc.OrderCard(ctx, grace.ID, &cardorder.OrderOptions{Actor: self}) // another user
	isCode(t, err, cardorder.ErrForbidden)
	_, err = w.svc.Approve(ctx, ports.Actor{ID: person.ID, Roles: []ports.Role{ports.RoleApprover}}, c.ID) // four-eyes
	isCode(t, err, cardorder.ErrForbidden)
	w.mailer.Fail(errors.New("550 mailbox augusta.byron@example.org unknown"))
	w.relay()
	w.mailer.Fail(nil)
	_, err = w.svc.Approve(ctx, approver, c.ID)
	is.NoErr(err)
	w.bureau.FailNext(1)
	w.dispatch(t)
	w.clock.Advance(time.Hour)
	w.bureau.Reject("no photo of Augusta Byronsdottir")
	w.dispatch(t)
	w.dispatch(t) // an empty pass
	_, err = w.svc.Abort(ctx, self, c.ID)
	isCode(t, err, cardorder.ErrInvalidState)
	w.relay()

	seen := strings.ToLower(fmt.Sprintf("%+v %+v %+v %+v", w.rec.ops(t), w.rec.moves, w.rec.notes, w.rec.scripts))
	for _, s := range w.rec.spans {
		seen += strings.ToLower(fmt.Sprintf("%+v %+v", s.Span, *s.Out))
	}
	logged := strings.ToLower(w.log.String())
	for _, secret := range secrets {
		if strings.Contains(seen, secret) {
			t.Errorf("the observer heard %q: %s", secret, seen)
		}
		if strings.Contains(logged, secret) {
			t.Errorf("the log has %q:\n%s", secret, w.log.String())
		}
	}

	levels := map[string]map[string]bool{}
	withRequest := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(w.log.String()), "\n") {
		var rec map[string]any
		is.NoErr(json.Unmarshal([]byte(line), &rec))
		msg, lvl := rec["msg"].(string), rec["level"].(string)
		if levels[msg] == nil {
			levels[msg] = map[string]bool{}
		}
		levels[msg][lvl] = true
		if rec["request_id"] == "req-42" {
			withRequest[msg] = true
		}
	}
	for msg, want := range map[string][]string{
		"cardorder: refused":                                       {"INFO"},
		"cardorder: dispatch pass":                                 {"DEBUG", "INFO"},
		"cardorder: bureau order not placed":                       {"WARN"},
		"cardorder: the bureau refused an order; the card failed":  {"WARN"},
		"cardorder: notification not sent; it stays in the outbox": {"WARN"},
	} {
		got := levels[msg]
		if len(got) != len(want) {
			t.Errorf("log line %q at levels %v, want %v", msg, got, want)
		}
		for _, l := range want {
			if !got[l] {
				t.Errorf("log line %q never at %s (got %v)", msg, l, got)
			}
		}
	}
	is.True(withRequest["cardorder: refused"]) // a refusal's line names its request
}
