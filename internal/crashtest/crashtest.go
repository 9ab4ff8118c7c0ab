// Package crashtest proves that a durable [ports.Store] loses and duplicates nothing when the
// process using it dies (docs/use-case.md §8): a test re-executes its own test binary as a child
// process that orders cards through a [cardorder.Service] over the store, dispatches them to a fake
// bureau and relays the "card ordered" mail, and kills that child with SIGKILL at random moments,
// starting a new one on the same database each time. A last child drains the work; then the test
// checks that every card is ordered, each exactly once at the bureau, and that every "card
// ordered" mail was delivered at least once.
//
// The bureau ([gocardsfake]) and the mailbox are served by the parent over loopback, so they
// survive every child and count what really reached them. The child talks to the bureau with the
// real client of package gocards.
//
// A store's module calls [Run] from a test with its own opener and a DSN:
//
//	func TestCrash(t *testing.T) {
//		crashtest.Run(t, crashtest.Config{
//			DSN:  filepath.Join(t.TempDir(), "crash.db"),
//			Open: func(ctx context.Context, dsn string) (ports.Store, func() error, error) {
//				s, err := sqlite.Open(ctx, dsn, nil)
//				if err != nil {
//					return nil, nil, err
//				}
//				return s, s.Close, nil
//			},
//		})
//	}
//
// In the child the same test function runs again; Run sees the environment variable the parent
// set, ignores Config.DSN (the child's own TempDir is not the parent's) and plays the child.
package crashtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/cardsaddon/extprod/adapters/gocards"
	"github.com/cardsaddon/extprod/adapters/gocards/gocardsfake"
	"github.com/cardsaddon/extprod/cardorder"
	"github.com/cardsaddon/extprod/ports"
)

// envKey carries the child's parameters (JSON); its presence makes Run play the child.
const envKey = "EXTPROD_CRASHTEST_CHILD"

// Opener opens the store under test from dsn. It returns the store and a function that closes
// it. The child calls it once; the parent calls it once more at the end, after the last child
// exited, to check the cards.
type Opener func(ctx context.Context, dsn string) (ports.Store, func() error, error)

// Config configures [Run]. Zero values are the defaults.
type Config struct {
	// DSN names the database; the parent hands it to every child. Required.
	DSN string
	// Open opens the store. Required.
	Open Opener
	// Kills is how many children are killed with SIGKILL before the draining one; default 20.
	Kills int
	// Cards is how many cards are ordered in all, one per user; default 800.
	Cards int
	// Seed seeds the kill schedule and the fake bureau; default 1.
	Seed uint64
	// MaxKillDelay is the longest a child runs after it reported ready before it is killed; the
	// delay is uniform in [0, MaxKillDelay). Default 800 ms.
	MaxKillDelay time.Duration
	// Timeout bounds the whole test (every child included); default 5 minutes.
	Timeout time.Duration
	// OrderConcurrency is how many goroutines of a child order cards at once; default 4.
	OrderConcurrency int
	// CutRate is the fraction of accepted bureau orders whose answer the fake cuts off, so the
	// client does not learn that the bureau holds the order; default 0.05, negative for none.
	CutRate float64
}

func (c Config) withDefaults() Config {
	if c.Kills == 0 {
		c.Kills = 20
	}
	if c.Cards == 0 {
		c.Cards = 800
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.MaxKillDelay == 0 {
		c.MaxKillDelay = 800 * time.Millisecond
	}
	if c.Timeout == 0 {
		c.Timeout = 5 * time.Minute
	}
	if c.OrderConcurrency == 0 {
		c.OrderConcurrency = 4
	}
	if c.CutRate == 0 {
		c.CutRate = 0.05
	}
	if c.CutRate < 0 {
		c.CutRate = 0
	}
	return c
}

// childParams is what the parent tells a child.
type childParams struct {
	DSN         string    `json:"dsn"`
	BureauURL   string    `json:"bureauUrl"`
	ParentURL   string    `json:"parentUrl"` // the mailbox and the ready signal
	Cards       int       `json:"cards"`
	Concurrency int       `json:"concurrency"`
	Drain       bool      `json:"drain"`
	Deadline    time.Time `json:"deadline"`
}

// userID names the i-th cardholder.
func userID(i int) string { return fmt.Sprintf("user-%05d", i) }

// Run runs the crash test as described in the package doc. Call it from a top-level test (or a
// subtest); the test binary is re-executed with -test.run selecting exactly that test.
func Run(t *testing.T, cfg Config) {
	t.Helper()
	if raw := os.Getenv(envKey); raw != "" {
		var p childParams
		if err := json.Unmarshal([]byte(raw), &p); err != nil {
			t.Fatalf("crashtest child: bad parameters: %v", err)
		}
		if err := child(p, cfg.Open); err != nil {
			t.Fatalf("crashtest child: %v", err)
		}
		return
	}
	if cfg.DSN == "" || cfg.Open == nil {
		t.Fatal("crashtest: Config.DSN and Config.Open are required")
	}
	parent(t, cfg.withDefaults())
}

// mailbox records the notifications the children's mailers delivered, and the children's ready
// signals.
type mailbox struct {
	mu     sync.Mutex
	byCard map[string]int // card id → "card ordered" mails received
	total  int
	ready  chan struct{}
}

func (m *mailbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/ready":
		select {
		case m.ready <- struct{}{}:
		default:
		}
	case "/mail":
		var n ports.Notification
		if err := json.NewDecoder(r.Body).Decode(&n); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		m.mu.Lock()
		m.total++
		if n.Kind == ports.NotifyCardOrdered {
			m.byCard[n.CardID]++
		}
		m.mu.Unlock()
	default:
		http.NotFound(w, r)
	}
}

func (m *mailbox) counts() (map[string]int, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]int, len(m.byCard))
	for k, v := range m.byCard {
		out[k] = v
	}
	return out, m.total
}

func parent(t *testing.T, cfg Config) {
	ctx, cancel := context.WithTimeout(t.Context(), cfg.Timeout)
	defer cancel()
	deadline, _ := ctx.Deadline()

	fake := gocardsfake.New(gocardsfake.Config{Seed: cfg.Seed, Faults: gocardsfake.Faults{CutRate: cfg.CutRate, Latency: time.Millisecond}})
	bureau := httptest.NewServer(fake)
	defer bureau.Close()
	box := &mailbox{byCard: map[string]int{}, ready: make(chan struct{}, 1)}
	mail := httptest.NewServer(box)
	defer mail.Close()

	rng := rand.New(rand.NewPCG(cfg.Seed, 0x5eed))
	p := childParams{DSN: cfg.DSN, BureauURL: bureau.URL, ParentURL: mail.URL, Cards: cfg.Cards,
		Concurrency: cfg.OrderConcurrency, Deadline: deadline}

	for kill := 1; kill <= cfg.Kills; kill++ {
		cmd, out, exited := startChild(ctx, t, p)
		select {
		case <-box.ready:
		case err := <-exited:
			t.Fatalf("child %d exited before it was ready: %v\n%s", kill, err, out)
		case <-ctx.Done():
			t.Fatalf("child %d: not ready before the deadline\n%s", kill, out)
		}
		delay := time.Duration(rng.Int64N(int64(cfg.MaxKillDelay)))
		select {
		case <-time.After(delay):
		case err := <-exited:
			t.Fatalf("child %d exited on its own: %v\n%s", kill, err, out)
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatalf("kill child %d: %v", kill, err)
		}
		if err := <-exited; !killed(err) {
			t.Fatalf("child %d did not die of SIGKILL: %v\n%s", kill, err, out)
		}
		mails, _ := box.counts()
		st := fake.Stats()
		t.Logf("kill %2d after %3dms: bureau orders %4d, card-ordered mails for %4d cards", kill, delay.Milliseconds(), st.Orders, len(mails))
	}

	// The last child drains: it orders what is left and exits once everything is through.
	p.Drain = true
	_, out, exited := startChild(ctx, t, p)
	if err := <-exited; err != nil {
		t.Fatalf("draining child: %v\n%s", err, out)
	}

	store, closeStore, err := cfg.Open(ctx, cfg.DSN)
	if err != nil {
		t.Fatalf("open the store after the last child: %v", err)
	}
	defer closeStore()
	cards := allCards(ctx, t, store)
	mails, totalMails := box.counts()
	orders := map[string]int{}
	for _, o := range fake.Orders() {
		orders[o.ExternalReference]++
	}
	users := map[string]int{}
	var problems []string
	for _, c := range cards {
		users[c.UserID]++
		if c.State != ports.StateOrdered {
			problems = append(problems, fmt.Sprintf("card %s is %s, not ordered", c.ID, c.State))
		}
		if n := orders[c.ID]; n != 1 {
			problems = append(problems, fmt.Sprintf("card %s was ordered %d times at the bureau", c.ID, n))
		}
		if mails[c.ID] == 0 {
			problems = append(problems, fmt.Sprintf("card %s: no card-ordered mail delivered", c.ID))
		}
		delete(orders, c.ID)
	}
	for ref, n := range orders {
		problems = append(problems, fmt.Sprintf("the bureau holds %d orders for %s, a card the store does not have", n, ref))
	}
	for i := range cfg.Cards {
		if n := users[userID(i)]; n != 1 {
			problems = append(problems, fmt.Sprintf("user %s has %d cards, not 1", userID(i), n))
		}
	}
	if st := fake.Stats(); st.Duplicates != 0 || st.ReferenceDuplicates != 0 {
		problems = append(problems, fmt.Sprintf("the bureau counted duplicates: %+v", st))
	}
	if len(problems) > 0 {
		if len(problems) > 20 {
			problems = append(problems[:20], fmt.Sprintf("… and %d more", len(problems)-20))
		}
		t.Fatalf("after %d kills:\n%s", cfg.Kills, strings.Join(problems, "\n"))
	}
	st := fake.Stats()
	t.Logf("%d kills: %d cards ordered once each (%d replays, %d cut answers at the bureau), %d mails delivered for %d cards",
		cfg.Kills, len(cards), st.Replays, st.Cuts, totalMails, len(mails))
}

// startChild starts the test binary again, running only the current test, as a child.
// The channel receives the child's exit (cmd.Wait's error).
func startChild(ctx context.Context, t *testing.T, p childParams) (*exec.Cmd, *syncBuffer, <-chan error) {
	t.Helper()
	raw, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(t.Name(), "/")
	for i, s := range parts {
		parts[i] = "^" + regexpQuote(s) + "$"
	}
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run="+strings.Join(parts, "/"), "-test.count=1")
	cmd.Env = append(os.Environ(), envKey+"="+string(raw))
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start child: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	return cmd, out, exited
}

// killed reports whether cmd.Wait's err says that the child died of SIGKILL.
func killed(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

func regexpQuote(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`\.+*?()|[]{}^$`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// syncBuffer collects a child's output.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func allCards(ctx context.Context, t *testing.T, s ports.Store) []ports.Card {
	t.Helper()
	var out []ports.Card
	f := ports.CardFilter{Limit: 500}
	for {
		page, err := s.List(ctx, f)
		if err != nil {
			t.Fatalf("list cards: %v", err)
		}
		out = append(out, page.Cards...)
		if page.Next == 0 {
			return out
		}
		f.After = page.Next
	}
}

// everyone is a directory in which every id is an active user.
type everyone struct{}

func (everyone) User(_ context.Context, id string) (ports.User, error) {
	return ports.User{ID: id, State: ports.UserActive, GivenName: "Ada", FamilyName: "Lovelace", Email: "ada@example.com"}, nil
}

// postMailer delivers notifications to the parent's mailbox.
type postMailer struct {
	url    string
	client *http.Client
}

func (m postMailer) Send(ctx context.Context, n ports.Notification) error {
	body, err := json.Marshal(n)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.url+"/mail", bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := m.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("mailbox answered %s", resp.Status)
	}
	return nil
}

var operator = ports.Actor{ID: "crash-operator", Roles: []ports.Role{ports.RoleOperator}}

// child opens the store, runs a service with its dispatcher and relay, and orders every card
// not yet ordered; it runs until it is killed or, when draining, until everything is through.
func child(p childParams, open Opener) error {
	ctx, cancel := context.WithDeadline(context.Background(), p.Deadline)
	defer cancel()
	store, closeStore, err := open(ctx, p.DSN)
	if err != nil {
		return fmt.Errorf("open %s: %w", p.DSN, err)
	}
	defer closeStore()
	client, err := gocards.New(gocards.Config{
		BaseURL: p.BureauURL, ClientID: gocardsfake.DefaultClientID, ClientSecret: gocardsfake.DefaultClientSecret,
		OrganisationID: gocardsfake.DefaultOrganisationID,
		MaxAttempts:    3, BaseBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, RetryAfterCap: 5 * time.Millisecond,
	})
	if err != nil {
		return err
	}
	opts := ports.DefaultOptions()
	opts.Enabled, opts.QueueCards, opts.SendCardOrderedEmail = true, true, true
	ps := cardorder.Ports{Users: everyone{}, Store: store, Provider: client, Options: cardorder.StaticOptions(opts),
		Mailer: postMailer{url: p.ParentURL, client: &http.Client{Timeout: 5 * time.Second}}}
	if l, ok := store.(ports.JobLeases); ok {
		ps.Leases = l
	}
	svc, err := cardorder.New(ps, &cardorder.Config{
		DispatchLease: time.Second, DeliveryLease: time.Second, NotifyRetry: 50 * time.Millisecond,
		RetryBackoff: 20 * time.Millisecond, MaxRetryBackoff: 200 * time.Millisecond, MaxDispatchTries: 1_000_000,
		DispatchConcurrency: 8, DispatchBatch: 20,
	})
	if err != nil {
		return err
	}

	done := make(chan struct{})
	var once sync.Once
	check := func() {
		if !p.Drain {
			return
		}
		if finished(ctx, store, p.Cards) {
			once.Do(func() { close(done) })
		}
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var g errgroup.Group
	g.Go(func() error {
		return svc.NewDispatcher(&cardorder.DispatcherConfig{Interval: 20 * time.Millisecond,
			AfterPass: func(cardorder.DispatchResult, error) { check() },
			Relay: &cardorder.RelayConfig{Interval: 20 * time.Millisecond, CleanupInterval: -1,
				AfterPass: func(error) { check() }}}).Run(runCtx)
	})

	// Tell the parent the child is at work, then order every user's card; a user who already
	// has one (ordered by an earlier child) is refused with order_exists.
	if resp, err := http.Post(p.ParentURL+"/ready", "text/plain", nil); err == nil {
		resp.Body.Close()
	}
	next := make(chan int)
	var og errgroup.Group
	for range p.Concurrency {
		og.Go(func() error {
			for i := range next {
				_, err := svc.OrderCard(ctx, userID(i), &cardorder.OrderOptions{Actor: operator})
				if err != nil && cardorder.CodeOf(err) != cardorder.CodeOrderExists {
					return fmt.Errorf("order for %s: %w", userID(i), err)
				}
			}
			return nil
		})
	}
	for i := range p.Cards {
		next <- i
	}
	close(next)
	if err := og.Wait(); err != nil {
		return err
	}
	check()
	select {
	case <-done: // drained
	case <-ctx.Done():
		return fmt.Errorf("not drained before the deadline: %w", ctx.Err())
	}
	stop()
	return g.Wait()
}

// finished reports whether every card is ordered and the queue and the outbox are empty.
func finished(ctx context.Context, s ports.Store, cards int) bool {
	now := time.Now()
	q, err := s.Stats(ctx, now)
	if err != nil || q.Depth > 0 {
		return false
	}
	o, err := s.OutboxStats(ctx, now)
	if err != nil || o.PendingEvents > 0 || o.PendingNotifications > 0 {
		return false
	}
	n := 0
	f := ports.CardFilter{States: []ports.CardState{ports.StateOrdered}, Limit: 1000}
	for {
		page, err := s.List(ctx, f)
		if err != nil {
			return false
		}
		n += len(page.Cards)
		if page.Next == 0 {
			return n == cards
		}
		f.After = page.Next
	}
}
