// Package modeltest is a model-based test of the card-order domain over any [ports.Store]: seeded
// random rounds of concurrent operations (order, batch, temporary, approve, reject, abort,
// dispatch, bureau status events in and out of order, repeat, option-script installs) run from
// several goroutines against a real [cardorder.Service], and after every round (a barrier) the
// store's state is checked against a small reference model of the rules:
//
//   - at most one open card per user where exclusivity applied, and no exclusive card opened
//     while another card of its user stayed open;
//   - no card both aborted and at the bureau;
//   - exactly one audit event per state change, with the card history's actor, and the
//     rejection's reason;
//   - versions only grow (over snapshots and over every card an operation returned), histories
//     only grow, every move is one of docs/use-case.md §4 and terminal states stay terminal;
//   - the approval step is honoured on every channel, four-eyes included;
//   - every processing card is claimable once its lease and backoff have passed.
//
// The seed fixes the operations of every round (which worker does what, on which user or which
// card of the last snapshot); the interleaving within a round is the scheduler's. A failing run
// prints its seed; set it with -modeltest.seed=N or EXTPROD_MODEL_SEED=N to replay the same
// operations.
package modeltest

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cardsaddon/extprod/adapters/memory"
	"github.com/cardsaddon/extprod/cardorder"
	"github.com/cardsaddon/extprod/options"
	"github.com/cardsaddon/extprod/ports"
)

// EnvSeed names the environment variable that sets the seed when -modeltest.seed is not given.
const EnvSeed = "EXTPROD_MODEL_SEED"

var (
	seedFlag   = flag.Uint64("modeltest.seed", 0, "seed of the model-based test (0: "+EnvSeed+" or random)")
	roundsFlag = flag.Int("modeltest.rounds", 0, "rounds of the model-based test (0: the test's own)")
)

// Config configures one model-based run.
type Config struct {
	// NewStore returns an empty store for the run; it is closed by the test's cleanups.
	NewStore func(t *testing.T) ports.Store
	// Seed fixes the run's operations; 0 takes -modeltest.seed, then EXTPROD_MODEL_SEED, then a
	// random seed (printed on failure).
	Seed uint64
	// Rounds of concurrent operations, each followed by a check; default 25 (-modeltest.rounds
	// overrides it).
	Rounds int
	// Workers run operations concurrently in each round; default 4.
	Workers int
	// OpsPerWorker is how many operations each worker runs per round; default 3.
	OpsPerWorker int
	// Users is how many cardholders the directory holds; default 5.
	Users int
}

func (c Config) withDefaults() Config {
	if c.Seed == 0 {
		c.Seed = *seedFlag
	}
	if c.Seed == 0 {
		if v, err := strconv.ParseUint(os.Getenv(EnvSeed), 10, 64); err == nil {
			c.Seed = v
		}
	}
	if c.Seed == 0 {
		c.Seed = rand.Uint64() | 1
	}
	if *roundsFlag > 0 {
		c.Rounds = *roundsFlag
	}
	c.Rounds = cmp.Or(c.Rounds, 25)
	c.Workers = cmp.Or(c.Workers, 4)
	c.OpsPerWorker = cmp.Or(c.OpsPerWorker, 3)
	c.Users = cmp.Or(c.Users, 5)
	return c
}

// Run runs the model-based test and fails t, naming the seed that replays the run, on the first
// broken rule.
func Run(t *testing.T, cfg Config) {
	t.Helper()
	cfg = cfg.withDefaults()
	if err := Check(t, cfg); err != nil {
		t.Fatalf("%v\nreplay with -modeltest.seed=%d (or %s=%d)", err, cfg.Seed, EnvSeed, cfg.Seed)
	}
}

// Check runs the model-based test and returns the first broken rule (naming the round and the
// seed), or nil. It fails t only when the run cannot be set up; use it to prove that a broken
// store is caught.
func Check(t *testing.T, cfg Config) error {
	t.Helper()
	cfg = cfg.withDefaults()
	if cfg.NewStore == nil {
		t.Fatal("modeltest: Config.NewStore is required")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	h := newHarness(ctx, t, cfg)
	for round := 1; round <= cfg.Rounds; round++ {
		if err := h.round(ctx, round); err != nil {
			return fmt.Errorf("seed %d, round %d: %w", cfg.Seed, round, err)
		}
		if err := h.check(ctx); err != nil {
			return fmt.Errorf("seed %d, after round %d: %w", cfg.Seed, round, err)
		}
	}
	states := map[ports.CardState]int{}
	for _, s := range h.prev {
		states[s.card.State]++
	}
	h.audit.mu.Lock()
	t.Logf("modeltest: seed %d, %d rounds: %d cards %v, %d audit events, %d bureau orders",
		cfg.Seed, cfg.Rounds, len(h.prev), states, len(h.audit.events), h.bureau.Orders())
	h.audit.mu.Unlock()
	return nil
}

// Actors of the run. The approvers are neither requesters nor cardholders, so four-eyes never
// refuses them; selfService actors are users u1, u2, ….
var (
	operator = ports.Actor{ID: "op-1", Roles: []ports.Role{ports.RoleOperator}}
	approver = ports.Actor{ID: "ap-1", Roles: []ports.Role{ports.RoleApprover}}
)

// Settings the options scripts vary; every script has the use case enabled.
type scriptSettings struct{ approval, queue, multiple bool }

func scriptSource(s scriptSettings) (string, error) {
	src := options.DefaultSource()
	for _, r := range [][2]string{
		{"enabled: false", "enabled: true"},
		{"approvalStep: false", "approvalStep: " + strconv.FormatBool(s.approval)},
		{"queueCards: true", "queueCards: " + strconv.FormatBool(s.queue)},
		{"allowMultipleCardOrders: false", "allowMultipleCardOrders: " + strconv.FormatBool(s.multiple)},
	} {
		if strings.Count(src, r[0]) != 1 {
			return "", fmt.Errorf("modeltest: the default script no longer holds %q once", r[0])
		}
		src = strings.Replace(src, r[0], r[1], 1)
	}
	return src, nil
}

// auditRecorder is the run's audit sink: it keeps every delivery, duplicates included.
type auditRecorder struct {
	mu     sync.Mutex
	events map[string]ports.AuditEvent
	clash  error
}

func (a *auditRecorder) Record(_ context.Context, e ports.AuditEvent) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if prev, ok := a.events[e.ID]; ok && (prev.CardID != e.CardID || prev.To != e.To || prev.Actor != e.Actor) {
		a.clash = fmt.Errorf("audit event %s delivered twice with different content", e.ID)
	}
	a.events[e.ID] = e
	return nil
}

// users is the run's directory: u1…un, all active.
type users int

func (n users) User(_ context.Context, id string) (ports.User, error) {
	i, err := strconv.Atoi(strings.TrimPrefix(id, "u"))
	if !strings.HasPrefix(id, "u") || err != nil || i < 1 || i > int(n) {
		return ports.User{}, ports.ErrNotFound
	}
	return ports.User{ID: id, State: ports.UserActive, GivenName: "Given" + id, FamilyName: "Family", UPN: id + "@example.test"}, nil
}

// seen is what the model remembers of a card from the previous snapshot.
type seen struct {
	card ports.Card
}

type harness struct {
	t      *testing.T
	cfg    Config
	rng    *rand.Rand
	store  ports.Store
	bureau *memory.Bureau
	clock  *memory.Clock
	engine *options.Engine
	svc    *cardorder.Service
	audit  *auditRecorder

	prev map[string]seen // cards at the last check
	ids  []string        // their ids, in creation order, for picking

	mu       sync.Mutex
	versions map[string]int64 // highest version an operation returned, per card
	expect   []expectation    // what successful operations of this round promise
}

// expectation is a promise of a successful operation, checked at the next snapshot.
type expectation struct {
	card string
	what string
	ok   func(ports.Card) bool
}

func newHarness(ctx context.Context, t *testing.T, cfg Config) *harness {
	t.Helper()
	store := cfg.NewStore(t)
	var scripts ports.ScriptStore = &memory.Scripts{}
	if ss, ok := store.(ports.ScriptStore); ok {
		scripts = ss
	}
	clock := memory.NewClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	// A generous time limit: the script's limits are not under test, and a loaded machine under
	// -race can take longer than the default 50 ms for an honest script.
	eng, err := options.NewEngine(ctx, scripts, &options.EngineConfig{RefreshInterval: -1, Clock: clock,
		Limits: options.Limits{TimeLimit: 10 * time.Second}})
	if err != nil {
		t.Fatalf("modeltest: options engine: %v", err)
	}
	h := &harness{
		t: t, cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 0x6d6f64656c)), store: store,
		bureau: memory.NewBureau(), clock: clock, engine: eng,
		audit: &auditRecorder{events: map[string]ports.AuditEvent{}},
		prev:  map[string]seen{}, versions: map[string]int64{},
	}
	src, err := scriptSource(scriptSettings{queue: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Install(ctx, src, ""); err != nil {
		t.Fatalf("modeltest: install the first script: %v", err)
	}
	h.svc, err = cardorder.New(cardorder.Ports{
		Users: users(cfg.Users), Store: store, Provider: h.bureau, Options: eng, Audit: h.audit,
	}, &cardorder.Config{
		Clock: clock, IDs: memory.NewIDs(fmt.Sprintf("m%x-", cfg.Seed&0xffff)), DispatchBatch: 3, DispatchConcurrency: 2,
		DispatchLease: 10 * time.Second, MaxDispatchTries: 3, RetryBackoff: time.Second, MaxRetryBackoff: 4 * time.Second,
		InlineDelivery: h.rng.IntN(2) == 0,
	})
	if err != nil {
		t.Fatalf("modeltest: service: %v", err)
	}
	return h
}

// op is one operation a worker runs; it returns an error only for an outcome the rules forbid.
type op func(ctx context.Context) error

// round plans every worker's operations from the seed, runs the workers concurrently and waits
// for all of them (the barrier).
func (h *harness) round(ctx context.Context, n int) error {
	// Faults of the bureau for this round, decided by the seed.
	h.bureau.Reject(map[bool]string{true: "layout refused"}[h.rng.IntN(6) == 0])
	h.bureau.Unauthorized(h.rng.IntN(10) == 0)
	if h.rng.IntN(3) == 0 {
		h.bureau.FailNext(h.rng.IntN(3))
	}
	if h.rng.IntN(4) == 0 {
		h.bureau.LoseAnswers(1)
	}
	plans := make([][]op, h.cfg.Workers)
	for w := range plans {
		for range h.cfg.OpsPerWorker {
			plans[w] = append(plans[w], h.plan())
		}
	}
	errs := make([]error, len(plans))
	var wg sync.WaitGroup
	for w, ops := range plans {
		wg.Go(func() {
			for _, o := range ops {
				if err := o(ctx); err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (h *harness) user() string { return "u" + strconv.Itoa(1+h.rng.IntN(h.cfg.Users)) }

func (h *harness) card() string {
	if len(h.ids) == 0 {
		return "no-such-card"
	}
	// Favour recent cards: they are the ones still moving.
	i := len(h.ids) - 1 - h.rng.IntN(min(len(h.ids), 12))
	return h.ids[i]
}

// orderedCard picks a card of the last snapshot that the bureau accepted, or "".
func (h *harness) orderedCard() (ports.Card, bool) {
	var cands []ports.Card
	for _, id := range h.ids {
		if c := h.prev[id].card; c.ProviderOrderID != "" {
			cands = append(cands, c)
		}
	}
	if len(cands) == 0 {
		return ports.Card{}, false
	}
	return cands[h.rng.IntN(len(cands))], true
}

// plan draws one operation. Everything random is drawn here, in the planning goroutine.
func (h *harness) plan() op {
	switch k := h.rng.IntN(100); {
	case k < 18:
		user := h.user()
		actor := operator
		if h.rng.IntN(3) == 0 {
			actor = ports.Actor{ID: user, Roles: []ports.Role{ports.RoleSelfService}}
		}
		return func(ctx context.Context) error {
			c, err := h.svc.OrderCard(ctx, user, &cardorder.OrderOptions{Actor: actor})
			return h.result("order", c, err)
		}
	case k < 26:
		batch := []string{h.user(), h.user(), h.user()}
		return func(ctx context.Context) error {
			res, err := h.svc.OrderBatch(ctx, operator, batch, "")
			if err != nil {
				return fmt.Errorf("batch: %w", err)
			}
			for _, r := range res {
				if err := h.result("batch order", r.Card, r.Err); err != nil {
					return err
				}
			}
			return nil
		}
	case k < 32:
		amount := 1 + h.rng.IntN(3)
		return func(ctx context.Context) error {
			cards, err := h.svc.OrderTemporaryCards(ctx, operator, amount, "")
			if err == nil && len(cards) != amount {
				return fmt.Errorf("temporary order of %d created %d cards", amount, len(cards))
			}
			for _, c := range cards {
				if err := h.result("temporary order", c, nil); err != nil {
					return err
				}
			}
			return h.result("temporary order", ports.Card{}, err)
		}
	case k < 44:
		id := h.card()
		return func(ctx context.Context) error {
			c, err := h.svc.Approve(ctx, approver, id)
			if err == nil {
				h.promise(id, "approved", func(c ports.Card) bool {
					return c.ApprovedBy == approver.ID && c.State != ports.StateRequested && c.State != ports.StateRejected
				})
			}
			return h.result("approve", c, err)
		}
	case k < 50:
		id := h.card()
		return func(ctx context.Context) error {
			c, err := h.svc.Reject(ctx, approver, id, "not needed")
			if err == nil {
				h.promise(id, "rejected", func(c ports.Card) bool { return c.State == ports.StateRejected })
			}
			return h.result("reject", c, err)
		}
	case k < 60:
		id := h.card()
		return func(ctx context.Context) error {
			c, err := h.svc.Abort(ctx, operator, id)
			if err == nil {
				h.promise(id, "aborted", func(c ports.Card) bool { return c.State == ports.StateAborted })
			}
			return h.result("abort", c, err)
		}
	case k < 72:
		max := 1 + h.rng.IntN(8)
		return func(ctx context.Context) error {
			_, err := h.svc.DispatchQueued(ctx, max)
			return h.result("dispatch", ports.Card{}, err)
		}
	case k < 84:
		c, ok := h.orderedCard()
		if !ok {
			return func(context.Context) error { return nil }
		}
		// A burst of bureau statuses for one order, in a random order, duplicates included.
		states := []ports.CardState{ports.StateOrdered, ports.StateInProduction, ports.StateProduced, ports.StateFailed}
		var burst []ports.OrderStatus
		for range 1 + h.rng.IntN(3) {
			st := ports.OrderStatus{OrderID: c.ProviderOrderID, ExternalReference: c.ID, State: states[h.rng.IntN(len(states))]}
			if st.State == ports.StateFailed {
				st.Reason = "chip defect"
			}
			if st.State == ports.StateProduced {
				st.CardNumber, st.ValidThru = "C-"+c.ID, "2031-12-31"
			}
			burst = append(burst, st)
		}
		return func(ctx context.Context) error {
			for _, st := range burst {
				_, err := h.svc.ApplyOrderStatus(ctx, st)
				if err := h.result("status event", ports.Card{}, err); err != nil {
					return err
				}
			}
			return nil
		}
	case k < 92:
		id := h.card()
		return func(ctx context.Context) error {
			c, err := h.svc.Repeat(ctx, operator, id)
			return h.result("repeat", c, err)
		}
	default:
		s := scriptSettings{approval: h.rng.IntN(2) == 0, queue: h.rng.IntN(3) != 0, multiple: h.rng.IntN(4) == 0}
		return func(ctx context.Context) error {
			src, err := scriptSource(s)
			if err != nil {
				return err
			}
			if _, err := h.engine.Install(ctx, src, ""); err != nil && !errors.Is(err, ports.ErrConflict) {
				return fmt.Errorf("script install: %w", err)
			}
			return nil
		}
	}
}

// result accepts any refusal by a domain rule and notes the version of a returned card; an
// internal error (the store failed or broke its contract) breaks the run.
func (h *harness) result(what string, c ports.Card, err error) error {
	if err != nil {
		var e *cardorder.Error
		if !errors.As(err, &e) || e.Code == cardorder.CodeInternal || e.Code == cardorder.CodeScriptFailed {
			return fmt.Errorf("%s: unexpected error: %w", what, err)
		}
		return nil
	}
	if c.ID != "" {
		h.mu.Lock()
		h.versions[c.ID] = max(h.versions[c.ID], c.Version)
		h.mu.Unlock()
	}
	return nil
}

func (h *harness) promise(card, what string, ok func(ports.Card) bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.expect = append(h.expect, expectation{card: card, what: what, ok: ok})
}

// list reads every card of the store, oldest first.
func (h *harness) list(ctx context.Context) ([]ports.Card, error) {
	var all []ports.Card
	f := ports.CardFilter{}
	for {
		page, err := h.store.List(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("list cards: %w", err)
		}
		all = append(all, page.Cards...)
		if page.Next == 0 {
			return all, nil
		}
		f.After = page.Next
	}
}
