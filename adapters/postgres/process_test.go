package postgres_test

// Tests with several OS processes on one database: the test binary re-executes itself as child
// processes (TestChild with EXTPROD_PG_CHILD set), which open their own store on the parent's
// schema, report "ready", wait for the parent's "go" on stdin, work, and report their result.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matryer/is"
	"golang.org/x/sync/errgroup"

	"github.com/cardsaddon/extprod/adapters/gocards"
	"github.com/cardsaddon/extprod/adapters/gocards/gocardsfake"
	"github.com/cardsaddon/extprod/adapters/postgres"
	"github.com/cardsaddon/extprod/cardorder"
	"github.com/cardsaddon/extprod/ports"
)

// The environment of a child process.
const (
	envChild  = "EXTPROD_PG_CHILD"        // the child's role: order, dispatch, relay
	envSchema = "EXTPROD_PG_CHILD_SCHEMA" // the schema to open
	envTarget = "EXTPROD_PG_CHILD_TARGET" // the parent's server: the fake bureau, or the mail sink
	envCount  = "EXTPROD_PG_CHILD_COUNT"  // how many orders an order child places
)

// child is one running child process.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines *bufio.Scanner
	out   chan string // the child's RESULT line
}

// startChildren starts n children in role with env, waits until each has opened its store and
// reported ready, then tells all of them to go at once. It returns them running.
func startChildren(t *testing.T, n int, role, schema string, env ...string) []*child {
	t.Helper()
	var kids []*child
	for i := range n {
		cmd := exec.Command(os.Args[0], "-test.run=^TestChild$", "-test.count=1", "-test.timeout=10m")
		cmd.Env = append(os.Environ(), append(env, envChild+"="+role, envSchema+"="+schema, envURL+"="+testURL(t))...)
		cmd.Stderr = &prefixWriter{t: t, prefix: fmt.Sprintf("%s child %d: ", role, i)}
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatalf("start child: %v", err)
		}
		k := &child{cmd: cmd, stdin: stdin, lines: bufio.NewScanner(stdout), out: make(chan string, 1)}
		t.Cleanup(func() {
			_ = k.cmd.Process.Kill() // a no-op once the child has exited
			_ = k.cmd.Wait()
		})
		kids = append(kids, k)
	}
	for i, k := range kids {
		if !k.waitFor("READY") {
			t.Fatalf("%s child %d exited before it was ready", role, i)
		}
	}
	for _, k := range kids {
		go func() {
			if k.waitFor("RESULT ") {
				k.out <- strings.TrimPrefix(k.lines.Text(), "RESULT ")
			}
			close(k.out)
			for k.lines.Scan() { // drain what follows (the test framework's PASS)
			}
		}()
	}
	for _, k := range kids {
		if _, err := io.WriteString(k.stdin, "GO\n"); err != nil {
			t.Fatalf("tell child to go: %v", err)
		}
	}
	return kids
}

// waitFor reads the child's stdout up to a line starting with prefix; false at the end.
func (k *child) waitFor(prefix string) bool {
	for k.lines.Scan() {
		if strings.HasPrefix(k.lines.Text(), prefix) {
			return true
		}
	}
	return false
}

// result waits for the child's RESULT line and its exit, and decodes the line into v.
func (k *child) result(t *testing.T, v any) {
	t.Helper()
	line, ok := <-k.out
	if err := k.cmd.Wait(); err != nil || !ok {
		t.Fatalf("child %v ended without a result: %v", k.cmd.Args, err)
	}
	if err := json.Unmarshal([]byte(line), v); err != nil {
		t.Fatalf("child result %q: %v", line, err)
	}
}

// prefixWriter logs a child's stderr through the parent's test log.
type prefixWriter struct {
	t      *testing.T
	prefix string
	mu     sync.Mutex
}

func (w *prefixWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, l := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		w.t.Log(w.prefix + l)
	}
	return len(p), nil
}

// TestChild is the body of the child processes; without EXTPROD_PG_CHILD it skips.
func TestChild(t *testing.T) {
	role := os.Getenv(envChild)
	if role == "" {
		t.Skip("runs only as a child process of the multi-process tests")
	}
	ctx := context.Background()
	store, err := postgres.Open(ctx, testURL(t), &postgres.Config{Schema: os.Getenv(envSchema), MaxConns: 8})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer store.Close()
	var run func() any
	switch role {
	case "order":
		run = childOrder(t, store)
	case "dispatch":
		run = childDispatch(t, store)
	case "relay":
		run = childRelay(t, store)
	default:
		t.Fatalf("unknown child role %q", role)
	}
	fmt.Println("READY")
	in := bufio.NewScanner(os.Stdin)
	if !in.Scan() || in.Text() != "GO" {
		t.Fatal("the parent did not say go")
	}
	b, err := json.Marshal(run())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("RESULT " + string(b))
}

// orderResult is what an order child reports.
type orderResult struct{ Won, Refused int }

// childOrder places EXTPROD_PG_CHILD_COUNT orders at once for the user "user-1".
func childOrder(t *testing.T, store *postgres.Store) func() any {
	n, err := strconv.Atoi(os.Getenv(envCount))
	if err != nil {
		t.Fatalf("%s: %v", envCount, err)
	}
	svc := newService(t, store, enabled(nil), cardorder.Ports{}, nil)
	return func() any {
		start := make(chan struct{})
		close(start)
		won, refused := orderRace(t, svc, "user-1", n, start)
		return orderResult{Won: won, Refused: refused}
	}
}

// dispatchResult is what a dispatch child reports.
type dispatchResult struct{ Ordered, Failed, Retry, Passes int }

// childDispatch drains the queue against the parent's fake bureau with the gocards client.
func childDispatch(t *testing.T, store *postgres.Store) func() any {
	client, err := gocards.New(gocards.Config{BaseURL: os.Getenv(envTarget), ClientID: gocardsfake.DefaultClientID,
		ClientSecret: gocardsfake.DefaultClientSecret, OrganisationID: gocardsfake.DefaultOrganisationID})
	if err != nil {
		t.Fatal(err)
	}
	svc := newService(t, store, enabled(nil), cardorder.Ports{Provider: client},
		&cardorder.Config{DispatchBatch: 50, DispatchConcurrency: 8})
	return func() any {
		var res dispatchResult
		for {
			r, err := svc.DispatchQueued(context.Background(), 200)
			if err != nil {
				t.Fatalf("dispatch pass: %v", err)
			}
			res.Ordered, res.Failed, res.Retry, res.Passes = res.Ordered+r.Ordered, res.Failed+r.Failed, res.Retry+r.Retry, res.Passes+1
			if r.Remaining == 0 {
				return res
			}
			if r.Ordered+r.Failed+r.Retry == 0 {
				// The other dispatcher holds what is left; look again shortly, as a
				// Dispatcher's interval would.
				time.Sleep(10 * time.Millisecond)
			}
		}
	}
}

// relayResult is what a relay child reports.
type relayResult struct{ Passes, Mails, Audits int }

// postSink is a mailer and audit sink that posts every delivery to the parent.
type postSink struct {
	url           string
	client        *http.Client
	mails, audits *atomic.Int64
}

func (p postSink) post(kind, id string) error {
	resp, err := p.client.Post(p.url+"/"+kind+"/"+id, "text/plain", nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("sink answered %s", resp.Status)
	}
	return nil
}

func (p postSink) Send(_ context.Context, n ports.Notification) error {
	p.mails.Add(1)
	return p.post("mail", n.ID)
}

func (p postSink) Record(_ context.Context, e ports.AuditEvent) error {
	p.audits.Add(1)
	return p.post("audit", e.ID)
}

// childRelay delivers the outbox to the parent until nothing is pending.
func childRelay(t *testing.T, store *postgres.Store) func() any {
	sink := postSink{url: os.Getenv(envTarget), client: &http.Client{Timeout: 30 * time.Second},
		mails: new(atomic.Int64), audits: new(atomic.Int64)}
	svc := newService(t, store, enabled(nil), cardorder.Ports{Mailer: sink, Audit: sink}, nil)
	return func() any {
		var res relayResult
		for {
			if err := svc.DeliverPending(context.Background()); err != nil {
				t.Fatalf("relay pass: %v", err)
			}
			res.Passes++
			st, err := store.OutboxStats(context.Background(), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if st.PendingEvents == 0 && st.PendingNotifications == 0 {
				res.Mails, res.Audits = int(sink.mails.Load()), int(sink.audits.Load())
				return res
			}
			// The other relay holds what is left; look again shortly, as a Relay's
			// interval would.
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func TestTwoProcessesThousandOrdersOneCard(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	schema := newSchema(t)
	store := openStore(t, schema, nil)

	kids := startChildren(t, 2, "order", schema, envCount+"=500")
	var total orderResult
	for _, k := range kids {
		var r orderResult
		k.result(t, &r)
		t.Logf("child: %+v", r)
		total.Won, total.Refused = total.Won+r.Won, total.Refused+r.Refused
	}
	is.Equal(total, orderResult{Won: 1, Refused: 999}) // one order of 1,000 from two processes won

	page, err := store.List(t.Context(), ports.CardFilter{UserID: "user-1"})
	is.NoErr(err)
	is.Equal(len(page.Cards), 1) // the user has exactly one card
}

// queueCards orders n cards for distinct users through the service (queueing on).
func queueCards(t *testing.T, svc *cardorder.Service, n int, opts *cardorder.OrderOptions) {
	t.Helper()
	var g errgroup.Group
	g.SetLimit(16)
	for i := range n {
		g.Go(func() error {
			_, err := svc.OrderCard(context.Background(), fmt.Sprintf("user-%05d", i), opts)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("queue %d cards: %v", n, err)
	}
}

func TestTwoDispatcherProcessesOrderEachCardOnce(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	const cards = 10_000
	schema := newSchema(t)
	store := openStore(t, schema, nil)
	queueCards(t, newService(t, store, enabled(nil), cardorder.Ports{}, nil), cards, &cardorder.OrderOptions{Actor: operator})
	st, err := store.Stats(t.Context(), time.Now())
	is.NoErr(err)
	is.Equal(st.Depth, cards) // every card is queued

	fake := gocardsfake.New(gocardsfake.Config{})
	srv := httptest.NewServer(fake)
	defer srv.Close()

	kids := startChildren(t, 2, "dispatch", schema, envTarget+"="+srv.URL)
	var total dispatchResult
	for _, k := range kids {
		var r dispatchResult
		k.result(t, &r)
		t.Logf("dispatcher: %+v", r)
		is.True(r.Ordered > 0) // both dispatchers took part
		total.Ordered += r.Ordered
		total.Failed += r.Failed
		total.Retry += r.Retry
	}
	is.Equal(total, dispatchResult{Ordered: cards}) // every card ordered, by one dispatcher or the other

	// The bureau saw every card exactly once, by external reference (the card id).
	byRef := make(map[string]int)
	for _, o := range fake.Orders() {
		byRef[o.ExternalReference]++
	}
	is.Equal(len(byRef), cards)
	for ref, n := range byRef {
		if n != 1 {
			t.Fatalf("card %s was ordered %d times at the bureau", ref, n)
		}
	}
	fs := fake.Stats()
	is.Equal(fs.Duplicates, 0)
	is.Equal(fs.ReferenceDuplicates, 0)

	ordered := 0
	for page, after := (ports.CardPage{}), int64(0); ; after = page.Next {
		page, err = store.List(t.Context(), ports.CardFilter{States: []ports.CardState{ports.StateOrdered}, After: after})
		is.NoErr(err)
		for _, c := range page.Cards {
			is.Equal(byRef[c.ID], 1) // each ordered card is the one the bureau holds
		}
		ordered += len(page.Cards)
		if page.Next == 0 {
			break
		}
	}
	is.Equal(ordered, cards) // and the store says so
}

func TestTwoRelayProcessesSendEachNotificationOnce(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	const orders = 2_000
	schema := newSchema(t)
	store := openStore(t, schema, nil)
	// With an approval step every order writes an "approval needed" notification and an audit
	// event.
	svc := newService(t, store, enabled(func(o *ports.Options) { o.ApprovalStep = true }), cardorder.Ports{}, nil)
	queueCards(t, svc, orders, &cardorder.OrderOptions{Actor: operator})
	st, err := store.OutboxStats(t.Context(), time.Now())
	is.NoErr(err)
	is.Equal(st.PendingNotifications, orders)
	events := st.PendingEvents
	is.True(events >= orders)

	var (
		mu       sync.Mutex
		received = map[string]int{}
		posts    atomic.Int64
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		posts.Add(1)
		mu.Lock()
		received[r.URL.Path]++
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()

	kids := startChildren(t, 2, "relay", schema, envTarget+"="+srv.URL)
	for _, k := range kids {
		var r relayResult
		k.result(t, &r)
		t.Logf("relay: %+v", r)
	}
	mu.Lock()
	defer mu.Unlock()
	mails, audits := 0, 0
	for path, n := range received {
		if n != 1 {
			t.Errorf("%s delivered %d times", path, n)
		}
		if strings.HasPrefix(path, "/mail/") {
			mails++
		} else {
			audits++
		}
	}
	is.Equal(mails, orders)                   // every notification sent once
	is.Equal(audits, events)                  // every audit event recorded once
	is.Equal(int(posts.Load()), mails+audits) // and nothing more
}
