package otel_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/matryer/is"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/cardsaddon/extprod/ports"
)

// byName indexes ended spans by name; a name may have several spans.
func byName(spans []sdktrace.ReadOnlySpan) map[string][]sdktrace.ReadOnlySpan {
	m := map[string][]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		m[s.Name()] = append(m[s.Name()], s)
	}
	return m
}

func attr(s sdktrace.ReadOnlySpan, k attribute.Key) (attribute.Value, bool) {
	for _, kv := range s.Attributes() {
		if kv.Key == k {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

func linkedTo(s sdktrace.ReadOnlySpan, sc trace.SpanContext) bool {
	for _, l := range s.Links() {
		if l.SpanContext.TraceID() == sc.TraceID() && l.SpanContext.SpanID() == sc.SpanID() {
			return true
		}
	}
	return false
}

// TestOrderTracedAcrossTheDispatcher: one order through the HTTP API to the bureau. The request's
// server span parents the order's span; the card stores the order span's trace context; the
// dispatch pass that later claims the card is a trace of its own linked to the order; the
// bureau call is the pass's child, linked to the order too; the HTTP requests to the bureau are
// the bureau call's children. No attribute holds personal data.
func TestOrderTracedAcrossTheDispatcher(t *testing.T) {
	is := is.New(t)
	r := newRig(t, enabled(), nil)
	// The user id is an email address, as some directories have it: it must not leak from the path.
	is.Equal(r.post(t, "/v1/users/ada.lovelace@example.com/card-orders", operatorToken), http.StatusCreated)
	res, err := r.svc.DispatchQueued(context.Background(), 10)
	is.NoErr(err)
	is.Equal(res.Ordered, 1)

	r.ends.wait(t, "kind:server", 1)
	spans := byName(r.spans.Ended())
	is.Equal(len(spans["POST"]), 1) // otelhttp names the server span by the method
	is.Equal(len(spans["extprod.order"]), 1)
	is.Equal(len(spans["extprod.dispatch_pass"]), 1)
	is.Equal(len(spans["extprod.bureau_call"]), 1)
	server, order, pass, call := spans["POST"][0], spans["extprod.order"][0], spans["extprod.dispatch_pass"][0], spans["extprod.bureau_call"][0]

	is.Equal(server.SpanKind(), trace.SpanKindServer)
	method, _ := attr(server, "http.request.method")
	is.Equal(method.AsString(), "POST") // otelhttp's attributes but the personal ones, set once the span records
	op, _ := attr(order, "extprod.operation")
	is.Equal(op.AsString(), string(ports.OpOrder))
	is.True(!server.Parent().IsValid())
	is.Equal(order.Parent().SpanID(), server.SpanContext().SpanID()) // the order is the request's child
	is.Equal(order.SpanContext().TraceID(), server.SpanContext().TraceID())
	is.Equal(len(spans["extprod.authenticate"]), 1) // the API's authentication, the request's child too
	is.Equal(spans["extprod.authenticate"][0].Parent().SpanID(), server.SpanContext().SpanID())
	ch, _ := attr(order, "extprod.channel")
	is.Equal(ch.AsString(), string(ports.ChannelOperator))

	// The card stored the order span's trace context.
	page, err := r.store.List(context.Background(), ports.CardFilter{})
	is.NoErr(err)
	is.Equal(len(page.Cards), 1)
	is.Equal(page.Cards[0].TraceParent, "00-"+order.SpanContext().TraceID().String()+"-"+order.SpanContext().SpanID().String()+"-01")

	// The dispatch pass is a trace of its own, linked to the order.
	is.True(!pass.Parent().IsValid())
	is.True(pass.SpanContext().TraceID() != order.SpanContext().TraceID())
	is.True(linkedTo(pass, order.SpanContext()))
	cards, _ := attr(pass, "extprod.cards")
	is.Equal(cards.AsInt64(), int64(1))

	// The bureau call is the pass's child, linked to the order.
	is.Equal(call.Parent().SpanID(), pass.SpanContext().SpanID())
	is.True(linkedTo(call, order.SpanContext()))
	kind, _ := attr(call, "extprod.bureau.call")
	is.Equal(kind.AsString(), string(ports.CallPlaceOrder))
	id, _ := attr(call, "extprod.card.id")
	is.Equal(id.AsString(), page.Cards[0].ID)

	// The HTTP requests to the bureau are client spans: the layout check of the order (and the
	// token it needed) the order's children, the order's POST the bureau call's child.
	var posts int
	for _, s := range r.spans.Ended() {
		if s.SpanKind() != trace.SpanKindClient {
			continue
		}
		switch u, _ := attr(s, "url.full"); {
		case strings.HasSuffix(u.AsString(), "/api/orders"):
			posts++
			is.Equal(s.Parent().SpanID(), call.SpanContext().SpanID())
		case s.SpanContext().TraceID() == order.SpanContext().TraceID():
			is.Equal(s.Parent().SpanID(), order.SpanContext().SpanID())
		default:
			is.Equal(s.Parent().SpanID(), call.SpanContext().SpanID())
		}
	}
	is.Equal(posts, 1)

	// No personal data in any attribute of any span: not the user id in the path, not the
	// caller's address or user agent, not the token.
	for _, s := range r.spans.Ended() {
		for _, kv := range s.Attributes() {
			for _, p := range personalData {
				if strings.Contains(kv.Value.String(), p) {
					t.Errorf("span %s: attribute %s = %q holds personal data", s.Name(), kv.Key, kv.Value.String())
				}
			}
			if kv.Key == "client.address" || kv.Key == "network.peer.address" || kv.Key == "user_agent.original" || kv.Key == "url.path" {
				t.Errorf("span %s: attribute %s recorded", s.Name(), kv.Key)
			}
		}
	}
}
