package cardorder

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/cardsaddon/extprod/ports"
)

// The Service is what the bureau's status-events handler applies statuses through.
var _ ports.StatusApplier = (*Service)(nil)

// applyStatus records st on card id with compare-and-set; changed is false when st made no change.
func (s *Service) applyStatus(ctx context.Context, id string, st ports.OrderStatus) (_ ports.Card, changed bool, err error) {
	ctx, end := s.cfg.Observer.Start(ctx, ports.Span{Op: ports.OpStatusUpdate, CardID: id})
	defer func() {
		n := 0
		if changed && err == nil {
			n = 1
		}
		end(ports.Outcome{Code: string(CodeOf(err)), Cards: n})
	}()
	c, err := s.update(ctx, id, func(c ports.Card) (ports.Change, error) {
		ch := s.statusChange(c, st)
		if changed = ch != nil; !changed {
			return ports.Change{}, errUnchanged
		}
		return *ch, nil
	})
	if errors.Is(err, errUnchanged) {
		return c, false, nil
	}
	return c, changed, err
}

// errUnchanged stops an update whose decision is to change nothing; update returns the card read.
var errUnchanged = errors.New("unchanged")

// ApplyOrderStatus records a bureau status (from a push event) on the card it names by
// ExternalReference. It reports whether the card changed; a status for a card that is not yet
// ordered, of an older attempt, or that would move the card backwards changes nothing. An unknown
// card is an error wrapping ports.ErrNotFound. It checks no actor: the caller has authenticated
// the bureau (the gocards events handler checks the signature).
func (s *Service) ApplyOrderStatus(ctx context.Context, st ports.OrderStatus) (bool, error) {
	_, changed, err := s.applyStatus(ctx, st.ExternalReference, st)
	if errors.Is(err, ErrNotFound) {
		return false, fmt.Errorf("card %q: %w", st.ExternalReference, ports.ErrNotFound)
	}
	return changed, err
}

// fetchStatus asks the bureau for the status of c's order.
func (s *Service) fetchStatus(ctx context.Context, c ports.Card) (ports.OrderStatus, error) {
	bctx, endCall := s.bureau(ctx, ports.CallOrderStatus, c)
	st, err := s.p.Provider.OrderStatus(bctx, c.ProviderOrderID)
	endCall(err)
	if err != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "cardorder: bureau status not read", slog.String("card", c.ID),
			slog.String("kind", ports.BureauErrorKind(err)))
	}
	switch {
	case err == nil:
		return st, nil
	case errors.Is(err, ports.ErrUnavailable), errors.Is(err, ports.ErrUnauthorized):
		return st, wrapErr(CodeProviderUnavailable, err, "the bureau could not be reached")
	}
	return st, wrapErr(CodeProviderError, err, "the bureau's answer for card %q breaks its contract", c.ID)
}

// Refresh fetches one card's status from the bureau now and records it (the vendor's "Update card
// order"). The card must be ordered or in_production.
func (s *Service) Refresh(ctx context.Context, operator ports.Actor, cardID string) (_ ports.Card, err error) {
	defer func() { s.refused(ctx, ports.OpRefresh, operator, cardID, "", err) }()
	if err := require(operator, ports.RoleOperator, "refreshing a card"); err != nil {
		return ports.Card{}, err
	}
	c, err := s.p.Store.Card(ctx, cardID)
	switch {
	case errors.Is(err, ports.ErrNotFound):
		return ports.Card{}, refuse(CodeNotFound, "no card %q", cardID)
	case err != nil:
		return ports.Card{}, wrapErr(CodeInternal, err, "read card %q", cardID)
	case c.State != ports.StateOrdered && c.State != ports.StateInProduction:
		return ports.Card{}, invalidState(c, "refresh")
	}
	st, err := s.fetchStatus(ctx, c)
	if err != nil {
		return ports.Card{}, err
	}
	c, _, err = s.applyStatus(ctx, cardID, st)
	return c, err
}

// SyncStatus fetches the status of every ordered and in_production card from the bureau (with at
// most Config.SyncConcurrency lookups in flight) and records it. It returns how many cards changed
// state; when the bureau could not be reached for some, the error (provider_unavailable) comes with
// the count of those that did change.
func (s *Service) SyncStatus(ctx context.Context, admin ports.Actor) (int, error) {
	if err := require(admin, ports.RoleAdmin, "a status sync"); err != nil {
		s.refused(ctx, ports.OpStatusSync, admin, "", "", err)
		return 0, err
	}
	return s.SyncAll(ctx)
}

// syncPage is how many cards one status sync step lists.
const syncPage = 500

// SyncAll is [Service.SyncStatus] for the host's own scheduling: it checks no actor. It pages
// through the ordered and in_production cards (never loading them all) and, when the Service
// has [Ports.Leases], holds the "status-sync" job lease, renewed before each page, so one
// instance syncs at a time; while another instance holds it, it returns ErrJobRunning.
func (s *Service) SyncAll(ctx context.Context) (n int, err error) {
	ctx, end := s.cfg.Observer.Start(ctx, ports.Span{Op: ports.OpStatusSync})
	defer func() {
		end(ports.Outcome{Code: string(CodeOf(err)), Cards: n})
		lvl := slog.LevelDebug
		if n > 0 || err != nil {
			lvl = slog.LevelInfo
		}
		s.log.LogAttrs(ctx, lvl, "cardorder: status sync", slog.Int("changed", n), slog.String("code", string(CodeOf(err))))
	}()
	j := job{s: s, name: JobStatusSync}
	if err := j.acquire(ctx); errors.Is(err, errJobHeld) {
		return 0, refuse(CodeJobRunning, "another instance is running the status sync; try again when it is done")
	} else if err != nil {
		return 0, wrapErr(CodeInternal, err, "take the status sync lease")
	}
	defer j.release(ctx)
	var (
		updated  atomic.Int64
		firstErr atomic.Pointer[error]
	)
	f := ports.CardFilter{States: []ports.CardState{ports.StateOrdered, ports.StateInProduction}, Limit: syncPage}
	for first := true; ; first = false {
		if !first {
			if err := j.acquire(ctx); err != nil {
				return int(updated.Load()), wrapErr(CodeJobRunning, err, "the status sync lost its lease; another instance goes on")
			}
		}
		page, err := s.p.Store.List(ctx, f)
		if err != nil {
			return int(updated.Load()), wrapErr(CodeInternal, err, "list cards")
		}
		var g errgroup.Group
		g.SetLimit(s.cfg.SyncConcurrency)
		for _, c := range page.Cards {
			g.Go(func() error {
				st, err := s.fetchStatus(ctx, c)
				if err == nil {
					var changed bool
					_, changed, err = s.applyStatus(ctx, c.ID, st)
					if changed {
						updated.Add(1)
					}
				}
				if err != nil {
					firstErr.CompareAndSwap(nil, &err)
				}
				return nil
			})
		}
		_ = g.Wait()
		if page.Next == 0 {
			break
		}
		f.After = page.Next
	}
	if p := firstErr.Load(); p != nil {
		return int(updated.Load()), *p
	}
	return int(updated.Load()), nil
}
