package cardorder_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/matryer/is"

	"github.com/cardsaddon/extprod/adapters/memory"
	"github.com/cardsaddon/extprod/cardorder"
	"github.com/cardsaddon/extprod/internal/logbuf"
	"github.com/cardsaddon/extprod/ports"
)

// recorder is an Observer (and TraceParenter) that records everything it hears. Each span gets
// its own traceparent, carried in the context Start returns.
type recorder struct {
	mu      sync.Mutex
	spans   []*recSpan
	moves   []string
	notes   []string
	scripts []string
}

type recSpan struct {
	ports.Span
	TP   string
	Out  *ports.Outcome
	Ends int
}

type tpKey struct{}

func withTrace(ctx context.Context, tp string) context.Context {
	return context.WithValue(ctx, tpKey{}, tp)
}

func (r *recorder) Start(ctx context.Context, s ports.Span) (context.Context, func(ports.Outcome)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	sp := &recSpan{Span: s, TP: fmt.Sprintf("00-%032x-%016x-01", 0xabc, len(r.spans)+1)}
	r.spans = append(r.spans, sp)
	return withTrace(ctx, sp.TP), func(o ports.Outcome) {
		r.mu.Lock()
		defer r.mu.Unlock()
		sp.Out = &o
		sp.Ends++
	}
}

func (r *recorder) TraceParent(ctx context.Context) string {
	tp, _ := ctx.Value(tpKey{}).(string)
	return tp
}

func (r *recorder) CardMoved(_ context.Context, from, to ports.CardState, ch ports.Channel) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.moves = append(r.moves, fmt.Sprintf("%s>%s/%s", from, to, ch))
}

func (r *recorder) NotificationDone(_ context.Context, kind ports.NotificationKind, sent bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notes = append(r.notes, fmt.Sprintf("%s:%v", kind, sent))
}

func (r *recorder) ScriptEvaluated(_ context.Context, took time.Duration, limit string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.scripts = append(r.scripts, "limit="+limit)
}

// ops summarises the spans of the given operations (all when none named) as
// "op channel card call links=n → code cards" (empty parts left out), checking each ended exactly once.
func (r *recorder) ops(t testing.TB, only ...ports.Operation) []string {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, s := range r.spans {
		if len(only) > 0 && !containsOp(only, s.Op) {
			continue
		}
		if s.Ends != 1 {
			t.Fatalf("span %s %s ended %d times, want once", s.Op, s.CardID, s.Ends)
		}
		parts := []string{string(s.Op)}
		for _, p := range []string{string(s.Channel), s.CardID, string(s.Call)} {
			if p != "" {
				parts = append(parts, p)
			}
		}
		if len(s.Links) > 0 {
			parts = append(parts, fmt.Sprintf("links=%d", len(s.Links)))
		}
		out = append(out, fmt.Sprintf("%s → %q %d", strings.Join(parts, " "), s.Out.Code, s.Out.Cards))
	}
	return out
}

func containsOp(ops []ports.Operation, op ports.Operation) bool {
	for _, o := range ops {
		if o == op {
			return true
		}
	}
	return false
}

func (r *recorder) span(op ports.Operation) recSpan {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.spans {
		if s.Op == op {
			return *s
		}
	}
	return recSpan{}
}

// observed is a world whose Service reports to a recorder and logs as JSON at Debug level.
type observed struct {
	*world
	rec *recorder
	log *logbuf.Buffer
}

func newObserved(t testing.TB, src ports.OptionsSource, users ...ports.User) *observed {
	o := &observed{rec: &recorder{}, log: &logbuf.Buffer{}}
	if len(users) == 0 {
		users = []ports.User{ada, grace, alan}
	}
	w := &world{store: memory.NewStore(), users: memory.NewUsers(users...), bureau: memory.NewBureau(),
		mailer: &memory.Mailer{}, audit: &memory.AuditLog{}, clock: memory.NewClock(t0)}
	svc, err := cardorder.New(cardorder.Ports{Users: w.users, Store: w.store, Provider: w.bureau, Options: src,
		Mailer: w.mailer, Audit: w.audit}, &cardorder.Config{
		Clock: w.clock, IDs: memory.NewIDs("c"), MaxDispatchTries: 3, RetryBackoff: time.Second,
		Instance: "host-a", Observer: o.rec,
		Logger: slog.New(slog.NewJSONHandler(o.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	w.svc = svc
	o.world = w
	return o
}

// TestObserverFollowsAnOrder: an order, its dispatch, its notification and the status the
// bureau reports later are each reported, with outcomes, and the dispatch links to the order.
func TestObserverFollowsAnOrder(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	w := newObserved(t, cardorder.StaticOptions(enabled(nil)))
	c, err := w.svc.OrderCard(ctx, ada.ID, &cardorder.OrderOptions{Actor: operator})
	is.NoErr(err)
	order := w.rec.span(ports.OpOrder)
	is.Equal(c.TraceParent, order.TP) // the card keeps the trace of its order
	w.dispatch(t)
	w.relay()
	w.bureau.Advance(c.ID, ports.StateProduced, "")
	_, err = w.svc.SyncAll(ctx)
	is.NoErr(err)

	want := []string{
		`order operator → "" 1`,
		`dispatch_pass links=1 → "" 1`,
		`bureau_call operator c1 place_order links=1 → "" 0`,
		`deliver → "" 3`, // two audit events, one card_ordered mail
		`status_sync → "" 1`,
		`bureau_call operator c1 order_status links=1 → "" 0`,
		`status_update c1 → "" 1`,
	}
	if d := cmp.Diff(want, w.rec.ops(t)); d != "" {
		t.Fatalf("spans (-want +got):\n%s", d)
	}
	is.Equal(w.rec.span(ports.OpDispatchPass).Links, []string{c.TraceParent}) // the pass links to the order
	is.Equal(w.rec.span(ports.OpBureauCall).Links, []string{c.TraceParent})
	is.Equal(w.rec.moves, []string{"registered>processing/operator", "processing>ordered/operator", "ordered>produced/operator"})
	is.Equal(w.rec.notes, []string{"card_ordered:true"})
	is.Equal(len(w.rec.scripts), 0) // static options run no script

	static := cardorder.StaticOptions(enabled(nil))
	w = newObserved(t, &static) // nor through a pointer
	_, err = w.svc.OrderCard(ctx, ada.ID, &cardorder.OrderOptions{Actor: operator})
	is.NoErr(err)
	is.Equal(len(w.rec.scripts), 0)
}

// TestObserverHearsOutcomes: every operation reports how it ended: a refusal's code, a bureau
// call's error kind, a notification that failed.
func TestObserverHearsOutcomes(t *testing.T) {
	ctx := context.Background()
	both := ports.Actor{ID: "op-9", Roles: []ports.Role{ports.RoleOperator, ports.RoleApprover}}
	tests := []struct {
		name string
		opts func(*ports.Options)
		act  func(t *testing.T, w *observed)
		ops  []ports.Operation
		want []string
	}{
		{"four-eyes refusal", func(o *ports.Options) { o.ApprovalStep = true }, func(t *testing.T, w *observed) {
			c, _ := w.svc.OrderCard(ctx, ada.ID, &cardorder.OrderOptions{Actor: both})
			_, _ = w.svc.Approve(ctx, both, c.ID)
		}, []ports.Operation{ports.OpApprove}, []string{`approve c1 → "forbidden" 0`}},
		{"open order", nil, func(t *testing.T, w *observed) {
			w.order(t, ada.ID)
			_, _ = w.svc.OrderCard(ctx, ada.ID, &cardorder.OrderOptions{Actor: operator})
		}, []ports.Operation{ports.OpOrder}, []string{`order operator → "" 1`, `order operator → "order_exists" 0`}},
		{"bureau unavailable", nil, func(t *testing.T, w *observed) {
			w.order(t, ada.ID)
			w.bureau.FailNext(1)
			w.dispatch(t)
		}, []ports.Operation{ports.OpBureauCall}, []string{`bureau_call operator c1 place_order links=1 → "unavailable" 0`}},
		{"bureau rejects", nil, func(t *testing.T, w *observed) {
			w.order(t, ada.ID)
			w.bureau.Reject("photo missing")
			w.dispatch(t)
		}, []ports.Operation{ports.OpBureauCall}, []string{`bureau_call operator c1 place_order links=1 → "rejected" 0`}},
		{"credentials refused", nil, func(t *testing.T, w *observed) {
			w.order(t, ada.ID)
			w.bureau.Unauthorized(true)
			_, _ = w.svc.DispatchQueued(ctx, 0)
		}, []ports.Operation{ports.OpBureauCall, ports.OpDispatchPass}, []string{
			`dispatch_pass links=1 → "provider_unavailable" 1`, `bureau_call operator c1 place_order links=1 → "unauthorized" 0`}},
		{"empty dispatch pass", nil, func(t *testing.T, w *observed) { w.dispatch(t) },
			[]ports.Operation{ports.OpDispatchPass}, []string{`dispatch_pass → "" 0`}},
		{"temporary cards", nil, func(t *testing.T, w *observed) {
			_, _ = w.svc.OrderTemporaryCards(ctx, operator, 3, "")
		}, []ports.Operation{ports.OpOrder}, []string{`order temporary → "" 3`}},
		{"batch", nil, func(t *testing.T, w *observed) {
			_, _ = w.svc.OrderBatch(ctx, operator, []string{ada.ID, alan.ID, grace.ID}, "")
		}, []ports.Operation{ports.OpOrder}, []string{`order batch → "" 2`}},
		{"reject, abort, repeat", func(o *ports.Options) { o.ApprovalStep = true }, func(t *testing.T, w *observed) {
			a := w.order(t, ada.ID)
			g := w.order(t, grace.ID)
			_, _ = w.svc.Reject(ctx, approver, a.ID, "no budget")
			_, _ = w.svc.Abort(ctx, operator, g.ID)
			_, _ = w.svc.Repeat(ctx, operator, g.ID)
		}, []ports.Operation{ports.OpReject, ports.OpAbort, ports.OpRepeat}, []string{
			`reject c1 → "" 1`, `abort c4 → "" 1`, `repeat c4 → "invalid_state" 0`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newObserved(t, cardorder.StaticOptions(enabled(tt.opts)))
			tt.act(t, w)
			if d := cmp.Diff(tt.want, w.rec.ops(t, tt.ops...)); d != "" {
				t.Fatalf("spans (-want +got):\n%s", d)
			}
		})
	}
}

// TestObserverHearsFailedNotifications: a mail the mailer refuses is reported as not sent.
func TestObserverHearsFailedNotifications(t *testing.T) {
	is := is.New(t)
	w := newObserved(t, cardorder.StaticOptions(enabled(func(o *ports.Options) { o.ApprovalStep = true })))
	w.mailer.Fail(errors.New("smtp: 550 no such mailbox ada@example.com"))
	w.order(t, ada.ID)
	w.relay()
	is.Equal(w.rec.notes, []string{"approval_needed:false"})
	is.True(!strings.Contains(w.log.String(), "ada@example.com")) // the mailer's words are not logged
}

// limitError is an options source's error that says which limit stopped the script.
type limitError struct{ limit string }

func (e limitError) Error() string       { return "script stopped: " + e.limit + " limit" }
func (e limitError) ScriptLimit() string { return e.limit }

type limitSource struct{ limit string }

func (s limitSource) Resolve(context.Context, ports.OptionsRequest) (ports.Resolved, error) {
	return ports.Resolved{}, fmt.Errorf("resolve: %w", limitError(s))
}

// scriptSource stands for an option script that gives the same options as StaticOptions.
type scriptSource struct{ cardorder.StaticOptions }

// TestScriptRunReported: each run of an options source that is a script is reported, without a
// limit when it succeeds; static options run no script and are not reported
// (TestObserverFollowsAnOrder).
func TestScriptRunReported(t *testing.T) {
	is := is.New(t)
	w := newObserved(t, scriptSource{cardorder.StaticOptions(enabled(nil))})
	_, err := w.svc.OrderCard(context.Background(), ada.ID, &cardorder.OrderOptions{Actor: operator})
	is.NoErr(err)
	is.Equal(w.rec.scripts, []string{"limit="})
}

// TestScriptLimitReported: a script run stopped by a limit is reported with that limit, on every
// path that runs the script.
func TestScriptLimitReported(t *testing.T) {
	for _, limit := range []string{ports.LimitTime, ports.LimitDepth, ports.LimitSize, ports.LimitMemory} {
		t.Run(limit, func(t *testing.T) {
			is := is.New(t)
			w := newObserved(t, limitSource{limit})
			_, err := w.svc.OrderCard(context.Background(), ada.ID, &cardorder.OrderOptions{Actor: operator})
			isCode(t, err, cardorder.ErrScriptFailed)
			_, err = w.svc.OrderTemporaryCards(context.Background(), operator, 1, "")
			isCode(t, err, cardorder.ErrScriptFailed)
			is.Equal(w.rec.scripts, []string{"limit=" + limit, "limit=" + limit})
		})
	}
	is := is.New(t)
	is.Equal(ports.ScriptLimitOf(errors.New("TypeError at line 3")), "")
	is.Equal(ports.ScriptLimitOf(nil), "")
}

// TestBureauErrorKind classifies the errors of docs/use-case.md §7's provider contract.
func TestBureauErrorKind(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{fmt.Errorf("x: %w", ports.ErrUnavailable), ports.KindUnavailable},
		{&ports.RetryLaterError{After: time.Minute}, ports.KindUnavailable},
		{context.DeadlineExceeded, ports.KindUnavailable},
		{&ports.RejectedError{Reason: "no"}, ports.KindRejected},
		{fmt.Errorf("x: %w", ports.ErrUnauthorized), ports.KindUnauthorized},
		{fmt.Errorf("x: %w", ports.ErrNotFound), ports.KindNotFound},
		{fmt.Errorf("x: %w", ports.ErrProtocol), ports.KindProtocol},
		{errors.New("something odd"), ports.KindProtocol},
	} {
		if got := ports.BureauErrorKind(tc.err); got != tc.want {
			t.Errorf("BureauErrorKind(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// TestRepeatRenewsTheTrace: a repeat is a new bureau order, so its dispatch links to the repeat's
// trace, not the first order's.
func TestRepeatRenewsTheTrace(t *testing.T) {
	is := is.New(t)
	w := newObserved(t, cardorder.StaticOptions(enabled(nil)))
	c := w.order(t, ada.ID)
	w.bureau.Reject("photo missing")
	w.dispatch(t)
	w.bureau.Reject("")
	c2, err := w.svc.Repeat(context.Background(), operator, c.ID)
	is.NoErr(err)
	is.True(c2.TraceParent != c.TraceParent)
	is.Equal(c2.TraceParent, w.rec.span(ports.OpRepeat).TP)
}

// TestRequestLogHandler: the request id is added to every record logged with a request's
// context, also through loggers derived with attributes or a group.
func TestRequestLogHandler(t *testing.T) {
	is := is.New(t)
	var buf strings.Builder
	base := slog.New(cardorder.RequestLogHandler(slog.NewTextHandler(&buf, nil)))
	ctx := ports.WithRequest(context.Background(), ports.Request{ID: "req-9"})
	base.With("a", 1).InfoContext(ctx, "one")
	base.WithGroup("g").InfoContext(ctx, "two")
	base.InfoContext(context.Background(), "three")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	is.Equal(len(lines), 3)
	is.True(strings.Contains(lines[0], "request_id=req-9"))
	is.True(strings.Contains(lines[1], "request_id=req-9"))
	is.True(!strings.Contains(lines[2], "request_id"))
	is.Equal(cardorder.RequestLogHandler(base.Handler()), base.Handler()) // not wrapped twice
}
