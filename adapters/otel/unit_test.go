package otel_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/matryer/is"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/cardsaddon/extprod/adapters/otel"
	"github.com/cardsaddon/extprod/adapters/otel/otelprom"
	"github.com/cardsaddon/extprod/ports"
)

// bare is an Observer over in-memory exporters, without the rest of the rig.
func bare(t *testing.T) (*otel.Observer, *tracetest.SpanRecorder, *sdkmetric.ManualReader) {
	t.Helper()
	spans, reader := tracetest.NewSpanRecorder(), sdkmetric.NewManualReader()
	obs, err := otel.New(&otel.Config{
		TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)),
		MeterProvider:  sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return obs, spans, reader
}

func read(t *testing.T, reader *sdkmetric.ManualReader, name string) map[string]float64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return points(t, m)
			}
		}
	}
	return map[string]float64{}
}

type authFunc func(context.Context, string) (ports.Actor, error)

func (f authFunc) Authenticate(ctx context.Context, tok string) (ports.Actor, error) {
	return f(ctx, tok)
}

// TestAuthenticatorCountsFailures: each failure is counted by its kind; a success is not; the
// wrapped authenticator's answer passes through unchanged.
func TestAuthenticatorCountsFailures(t *testing.T) {
	is := is.New(t)
	obs, _, reader := bare(t)
	errIdP := errors.New("identity provider answered garbage")
	a := obs.Authenticator(authFunc(func(_ context.Context, tok string) (ports.Actor, error) {
		switch tok {
		case "good":
			return operator, nil
		case "down":
			return ports.Actor{}, fmt.Errorf("idp: %w", ports.ErrUnavailable)
		case "odd":
			return ports.Actor{}, errIdP
		}
		return ports.Actor{}, ports.ErrUnauthenticated
	}))
	for _, tc := range []struct {
		token string
		want  error
	}{{"good", nil}, {"bad", ports.ErrUnauthenticated}, {"bad2", ports.ErrUnauthenticated}, {"down", ports.ErrUnavailable}, {"odd", errIdP}} {
		act, err := a.Authenticate(context.Background(), tc.token)
		is.True(errors.Is(err, tc.want))
		if tc.want == nil {
			is.Equal(act.ID, operator.ID)
		}
	}
	want := map[string]float64{"error.type=unauthenticated ": 2, "error.type=unavailable ": 1, "error.type=error ": 1}
	if d := cmp.Diff(want, read(t, reader, "extprod.auth.failures")); d != "" {
		t.Fatalf("auth failures (-want +got):\n%s", d)
	}
}

// TestNotificationsAndScript: delivery attempts by kind and outcome; script runs and limit hits.
func TestNotificationsAndScript(t *testing.T) {
	is := is.New(t)
	obs, _, reader := bare(t)
	ctx := context.Background()
	obs.NotificationDone(ctx, ports.NotifyOrderApproved, true)
	obs.NotificationDone(ctx, ports.NotifyOrderApproved, false)
	obs.NotificationDone(ctx, ports.NotifyApprovalNeeded, true)
	obs.ScriptEvaluated(ctx, time.Millisecond, "")
	obs.ScriptEvaluated(ctx, 2*time.Second, ports.LimitTime)
	obs.ScriptEvaluated(ctx, time.Millisecond, ports.LimitMemory)
	is.Equal(read(t, reader, "extprod.notifications"), map[string]float64{
		"extprod.notification.kind=order_approved ":                     1,
		"error.type=not_sent extprod.notification.kind=order_approved ": 1,
		"extprod.notification.kind=approval_needed ":                    1,
	})
	is.Equal(read(t, reader, "extprod.script.duration"), map[string]float64{"": 3})
	is.Equal(read(t, reader, "extprod.script.limit_hits"), map[string]float64{
		"extprod.script.limit=time ": 1, "extprod.script.limit=memory ": 1,
	})
}

// TestLinksAndTraceParent: TraceParent is the W3C form of the span in ctx (empty without one);
// links are made from well-formed trace contexts only; a failed operation's span has status
// Error and error.type.
func TestLinksAndTraceParent(t *testing.T) {
	is := is.New(t)
	obs, spans, _ := bare(t)
	is.Equal(obs.TraceParent(context.Background()), "")
	ctx, end := obs.Start(context.Background(), ports.Span{Op: ports.OpOrder, Channel: ports.ChannelBatch})
	tp := obs.TraceParent(ctx)
	sc := trace.SpanContextFromContext(ctx)
	is.Equal(tp, "00-"+sc.TraceID().String()+"-"+sc.SpanID().String()+"-01")
	end(ports.Outcome{Cards: 2})
	_, end = obs.Start(context.Background(), ports.Span{Op: ports.OpDispatchPass, Links: []string{tp, "", "garbage", "00-zz-yy-01"}})
	end(ports.Outcome{Code: "internal"})
	ended := spans.Ended()
	is.Equal(len(ended), 2)
	is.Equal(len(ended[1].Links()), 1)
	is.Equal(ended[1].Links()[0].SpanContext.SpanID(), sc.SpanID())
	is.Equal(ended[1].Status().Code.String(), "Error")
	v, _ := attr(ended[1], "error.type")
	is.Equal(v.AsString(), "internal")
}

// TestPrometheusHandler: otelprom.New gives a provider whose instruments the handler serves in
// the Prometheus format.
func TestPrometheusHandler(t *testing.T) {
	is := is.New(t)
	mp, h, err := otelprom.New()
	is.NoErr(err)
	defer func() { is.NoErr(mp.Shutdown(context.Background())) }()
	obs, err := otel.New(&otel.Config{MeterProvider: mp, TracerProvider: noop.NewTracerProvider()})
	is.NoErr(err)
	_, end := obs.Start(context.Background(), ports.Span{Op: ports.OpOrder, Channel: ports.ChannelOperator})
	end(ports.Outcome{Cards: 1})
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	is.NoErr(err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	is.NoErr(err)
	is.Equal(resp.StatusCode, http.StatusOK)
	is.True(strings.Contains(string(body), `extprod_orders_total{extprod_channel="operator"`)) // the order, by channel
}

// TestTraceParentOfUnsampledSpan: a span the sampler dropped gives no trace context to store.
func TestTraceParentOfUnsampledSpan(t *testing.T) {
	is := is.New(t)
	obs, err := otel.New(&otel.Config{TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample()))})
	is.NoErr(err)
	ctx, end := obs.Start(context.Background(), ports.Span{Op: ports.OpOrder})
	defer end(ports.Outcome{})
	is.True(trace.SpanContextFromContext(ctx).IsValid())
	is.Equal(obs.TraceParent(ctx), "")
}
