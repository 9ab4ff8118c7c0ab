package cardorder

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/cardsaddon/extprod/ports"
)

// SystemActor is the actor recorded for changes the library makes by itself: dispatch outcomes
// and bureau status updates.
const SystemActor = "system"

// ReasonUnreachable is the failure reason of a card that ran out of dispatch attempts.
const ReasonUnreachable = "bureau unreachable"

func providerOrder(c ports.Card) ports.ProviderOrder {
	return ports.ProviderOrder{
		IdempotencyKey:    c.IdempotencyKey(),
		ExternalReference: c.ID,
		LayoutID:          c.LayoutID,
		CardHolderEmail:   c.Email,
		Elements:          c.Elements,
		Photo:             c.Photo,
		DeliveryAddress:   c.DeliveryAddress,
		CostCentre:        c.CostCentre,
	}
}

// outcome is what one bureau attempt did to a card.
type outcome int

const (
	outOrdered outcome = iota
	outFailed
	outRetry        // unknown outcome: the card stays queued for a later pass
	outUnauthorized // the bureau refused our credentials: the card stays queued
	outLost         // another writer changed the card meanwhile (its lease had expired)
)

// send places a claimed card's current attempt at the bureau and records the outcome. It never
// fails: the card is ordered, failed with the bureau's reason, or left queued for the dispatcher.
func (s *Service) send(ctx context.Context, c ports.Card) ports.Card {
	c, _, _ = s.attempt(ctx, c)
	return c
}

// sendIfDirect orders a card that just entered processing at the bureau now when its options
// have queueing off (change claimed it for this); any other card is returned as it is.
// A direct order waits at most Config.DirectOrderTimeout for the bureau; then the card stays
// processing and the dispatcher takes it over.
func (s *Service) sendIfDirect(ctx context.Context, c ports.Card) ports.Card {
	if c.State != ports.StateProcessing || c.Options.QueueCards {
		return c
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.DirectOrderTimeout)
	defer cancel()
	return s.send(ctx, c)
}

func (s *Service) attempt(ctx context.Context, c ports.Card) (ports.Card, outcome, error) {
	bctx, endCall := s.bureau(ctx, ports.CallPlaceOrder, c)
	receipt, perr := s.p.Provider.PlaceOrder(bctx, providerOrder(c))
	if perr == nil && receipt.OrderID == "" {
		perr = fmt.Errorf("bureau accepted card %s without an order id: %w", c.ID, ports.ErrProtocol)
	}
	endCall(perr)
	// The outcome is recorded even when the caller gave up meanwhile: the bureau may hold the order.
	wctx := context.WithoutCancel(ctx)
	var ch ports.Change
	var out outcome
	var rejected *ports.RejectedError
	switch {
	case perr == nil:
		next := c
		next.ProviderOrderID = receipt.OrderID
		ch, out = s.change(c, next, ports.StateOrdered, SystemActor, ""), outOrdered
	case errors.As(perr, &rejected):
		next := c
		next.FailureReason = rejectionReason(rejected)
		ch, out = s.change(c, next, ports.StateFailed, SystemActor, next.FailureReason), outFailed
		// Not the bureau's reason: it may quote card data.
		s.log.LogAttrs(ctx, slog.LevelWarn, "cardorder: the bureau refused an order; the card failed",
			slog.String("card", c.ID), slog.Int("status", rejected.Status))
	default:
		next := c
		next.LeaseUntil = time.Time{}
		// Refused credentials are no fault of the card, nor is our own caller giving up: neither
		// counts as a try.
		switch out = outRetry; {
		case errors.Is(perr, ports.ErrUnauthorized):
			out = outUnauthorized
		case ctx.Err() == nil:
			next.DispatchTries++
		}
		wait := doubling(s.cfg.RetryBackoff, s.cfg.MaxRetryBackoff, next.DispatchTries)
		if later := (*ports.RetryLaterError)(nil); errors.As(perr, &later) && later.After > wait {
			wait = later.After // the bureau said when
		}
		next.NotBefore = s.now().Add(wait)
		ch = ports.Change{Card: next}
		if next.DispatchTries >= s.cfg.MaxDispatchTries {
			next.FailureReason = ReasonUnreachable
			ch, out = s.change(c, next, ports.StateFailed, SystemActor, ReasonUnreachable), outFailed
		}
		s.log.LogAttrs(ctx, slog.LevelWarn, "cardorder: bureau order not placed", slog.String("card", c.ID),
			slog.String("kind", ports.BureauErrorKind(perr)), slog.Int("tries", next.DispatchTries),
			slog.String("state", string(ch.Card.State)), slog.String("err", perr.Error()))
	}
	if ch.Event.ID != "" {
		s.stamp(ctx, &ch.Event)
	}
	stored, err := s.p.Store.Update(wctx, ch)
	if err != nil {
		// Lost to a writer that took the card after our lease expired, or the store failed: the
		// card keeps whatever state the store has, and a processing card stays in the queue.
		s.log.LogAttrs(ctx, slog.LevelWarn, "cardorder: dispatch outcome not recorded", slog.String("card", c.ID),
			slog.String("err", err.Error()))
		if cur, rerr := s.p.Store.Card(wctx, c.ID); rerr == nil {
			return cur, outLost, perr
		}
		return c, outLost, perr
	}
	if ch.Event.ID != "" {
		s.moved(wctx, ch.Event, stored.Channel)
		s.written(wctx, []ports.AuditEvent{ch.Event}, ch.Notifications)
	}
	return stored, out, perr
}

// DefaultDispatchMax is how many cards one dispatch pass claims when the caller names no number.
const DefaultDispatchMax = 1000

// DispatchResult counts what one dispatch pass did.
type DispatchResult struct {
	Ordered int // cards now ordered
	Failed  int // cards the bureau refused, or that ran out of attempts
	Retry   int // cards whose outcome was unknown; they stay queued with a backoff
	// Remaining counts the cards still queued after the pass (due now or waiting for a retry).
	Remaining int
}

// Dispatch runs one dispatch pass for an administrator: see [Service.DispatchQueued].
func (s *Service) Dispatch(ctx context.Context, admin ports.Actor, max int) (DispatchResult, error) {
	if err := require(admin, ports.RoleAdmin, "dispatching"); err != nil {
		s.refused(ctx, ports.OpDispatchPass, admin, "", "", err)
		return DispatchResult{}, err
	}
	return s.DispatchQueued(ctx, max)
}

// DispatchQueued runs one dispatch pass: it claims up to max due queued cards, oldest first, in
// batches of Config.DispatchBatch, and orders each at the bureau with at most
// Config.DispatchConcurrency calls in flight. Each card ends ordered, failed (refused by the
// bureau, or out of attempts), or stays queued with a backoff when the outcome is unknown. When the
// bureau refuses the library's credentials the pass stops, no card is failed, and the error
// (code provider_unavailable) is returned with the counts. It is for the host's own scheduling and
// checks no actor; [Dispatcher] runs it periodically. max <= 0 means 1000. Once ctx ends no more
// cards are claimed, but the cards already claimed are sent and their outcomes recorded.
func (s *Service) DispatchQueued(ctx context.Context, max int) (DispatchResult, error) {
	return s.dispatchPass(ctx, context.WithoutCancel(ctx), max)
}

// dispatchPass claims while stop is not done and sends with work, so a stopping dispatcher
// finishes the cards it holds.
func (s *Service) dispatchPass(stop, work context.Context, max int) (DispatchResult, error) {
	if max <= 0 {
		max = DefaultDispatchMax
	}
	var (
		res     DispatchResult
		mu      sync.Mutex
		authErr error
	)
	for claimed := 0; claimed < max && stop.Err() == nil && authErr == nil; {
		batch, err := s.p.Store.Claim(work, s.now(), min(s.cfg.DispatchBatch, max-claimed), s.cfg.DispatchLease)
		if err != nil {
			return res, wrapErr(CodeInternal, err, "claim queued cards")
		}
		if len(batch) == 0 {
			if claimed == 0 { // an empty pass is observed too
				_, end := s.cfg.Observer.Start(work, ports.Span{Op: ports.OpDispatchPass})
				end(ports.Outcome{})
			}
			break
		}
		claimed += len(batch)
		links := make([]string, 0, len(batch))
		for _, c := range batch {
			if c.TraceParent != "" {
				links = append(links, c.TraceParent)
			}
		}
		pass, end := s.cfg.Observer.Start(work, ports.Span{Op: ports.OpDispatchPass, Links: links})
		var g errgroup.Group
		g.SetLimit(s.cfg.DispatchConcurrency)
		for _, c := range batch {
			g.Go(func() error {
				_, out, perr := s.attempt(pass, c)
				mu.Lock()
				defer mu.Unlock()
				switch out {
				case outOrdered:
					res.Ordered++
				case outFailed:
					res.Failed++
				case outRetry:
					res.Retry++
				case outUnauthorized:
					authErr = perr
				}
				return nil
			})
		}
		_ = g.Wait()
		var code string
		if authErr != nil {
			code = string(CodeProviderUnavailable)
		}
		end(ports.Outcome{Code: code, Cards: len(batch)})
	}
	st, err := s.p.Store.Stats(work, s.now())
	if err != nil {
		return res, wrapErr(CodeInternal, err, "queue stats")
	}
	res.Remaining = st.Depth
	lvl := slog.LevelDebug
	if res.Ordered+res.Failed+res.Retry > 0 || authErr != nil {
		lvl = slog.LevelInfo
	}
	s.log.LogAttrs(work, lvl, "cardorder: dispatch pass", slog.Int("ordered", res.Ordered), slog.Int("failed", res.Failed),
		slog.Int("retry", res.Retry), slog.Int("remaining", res.Remaining), slog.Bool("credentialsRefused", authErr != nil))
	if authErr != nil {
		return res, wrapErr(CodeProviderUnavailable, authErr, "the bureau refused the credentials; cards stay queued")
	}
	return res, nil
}

// QueueStats reports the queue's depth and oldest queued card, for monitoring.
func (s *Service) QueueStats(ctx context.Context) (ports.QueueStats, error) {
	return s.p.Store.Stats(ctx, s.now())
}

// DispatcherConfig tunes a [Dispatcher]. Zero values are the defaults.
type DispatcherConfig struct {
	// Interval between passes; default 5 s.
	Interval time.Duration
	// Max is the most cards one pass claims; default DefaultDispatchMax.
	Max int
	// AfterPass, if set, is called after every pass (for metrics and tests).
	AfterPass func(DispatchResult, error)
	// Relay configures the [Relay] that Run runs alongside the dispatch passes; nil means the
	// defaults.
	Relay *RelayConfig
	// NoRelay makes Run run dispatch passes only; the host then runs a [Relay] itself (or
	// several instances run one each).
	NoRelay bool
}

// Dispatcher runs dispatch passes and, unless DispatcherConfig.NoRelay, a [Relay] that delivers
// the outbox, in the background.
type Dispatcher struct {
	s   *Service
	cfg DispatcherConfig
}

// NewDispatcher returns a dispatcher for s; cfg nil means the defaults.
func (s *Service) NewDispatcher(cfg *DispatcherConfig) *Dispatcher {
	d := &Dispatcher{s: s}
	if cfg != nil {
		d.cfg = *cfg
	}
	setDefault(&d.cfg.Interval, 5*time.Second)
	setDefault(&d.cfg.Max, DefaultDispatchMax)
	return d
}

// Run runs a dispatch pass, then waits for the interval, until ctx is cancelled; alongside, it
// runs a [Relay] (unless DispatcherConfig.NoRelay). Cancellation stops claiming; cards already
// claimed are still sent and their outcome recorded, and the relay has stopped, before Run
// returns nil.
func (d *Dispatcher) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	if !d.cfg.NoRelay {
		wg.Go(func() { _ = d.s.NewRelay(d.cfg.Relay).Run(ctx) })
	}
	t := time.NewTicker(d.cfg.Interval)
	defer t.Stop()
	work := context.WithoutCancel(ctx)
	for {
		res, err := d.s.dispatchPass(ctx, work, d.cfg.Max)
		if err != nil {
			d.s.log.LogAttrs(ctx, slog.LevelError, "cardorder: dispatch pass failed", slog.String("err", err.Error()))
		}
		if d.cfg.AfterPass != nil {
			d.cfg.AfterPass(res, err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
