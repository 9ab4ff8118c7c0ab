package cardorder

import (
	"context"
	"errors"
	"strings"

	"github.com/cardsaddon/extprod/ports"
)

// maxCASRetries bounds how often one action re-reads a card after losing a compare-and-set to a
// concurrent writer. Each loss means another write succeeded, so this is never reached in
// practice; it only guards against a store that reports conflicts forever.
const maxCASRetries = 100

func invalidState(c ports.Card, action string) error {
	return refuse(CodeInvalidState, "cannot %s a card in state %s", action, c.State)
}

// Approve approves a requested order (four-eyes). The card goes to processing, or is ordered at
// the bureau directly when the order's options have queueing off; the options are those stored
// with the card. The cardholder must still be active.
func (s *Service) Approve(ctx context.Context, approver ports.Actor, cardID string) (_ ports.Card, err error) {
	ctx, end := s.begin(ctx, ports.Span{Op: ports.OpApprove, CardID: cardID}, approver)
	defer func() { end(err, one(err)) }()
	if err := require(approver, ports.RoleApprover, "approving"); err != nil {
		return ports.Card{}, err
	}
	c, err := s.update(ctx, cardID, func(c ports.Card) (ports.Change, error) {
		if err := fourEyes(approver, c); err != nil {
			return ports.Change{}, err
		}
		if c.State != ports.StateRequested {
			return ports.Change{}, invalidState(c, "approve")
		}
		if err := s.checkActive(ctx, c); err != nil {
			return ports.Change{}, err
		}
		next := c
		next.ApprovedBy = approver.ID
		return s.change(c, next, ports.StateProcessing, approver.ID, ""), nil
	})
	if err != nil {
		return ports.Card{}, err
	}
	return s.sendIfDirect(ctx, c), nil
}

// checkActive refuses a card whose cardholder is no longer active (approve, repeat).
func (s *Service) checkActive(ctx context.Context, c ports.Card) error {
	if c.Temporary {
		return nil
	}
	u, err := s.p.Users.User(ctx, c.UserID)
	switch {
	case errors.Is(err, ports.ErrNotFound):
		return userNotFound()
	case err != nil:
		return wrapErr(CodeInternal, err, "read the user")
	case u.State != ports.UserActive:
		return notActive(u.State)
	}
	return nil
}

// Reject rejects a requested order with a reason (four-eyes); the requester is told why.
func (s *Service) Reject(ctx context.Context, approver ports.Actor, cardID, reason string) (_ ports.Card, err error) {
	ctx, end := s.begin(ctx, ports.Span{Op: ports.OpReject, CardID: cardID}, approver)
	defer func() { end(err, one(err)) }()
	if err := require(approver, ports.RoleApprover, "rejecting"); err != nil {
		return ports.Card{}, err
	}
	reason = strings.TrimSpace(reason)
	return s.update(ctx, cardID, func(c ports.Card) (ports.Change, error) {
		if err := fourEyes(approver, c); err != nil {
			return ports.Change{}, err
		}
		if c.State != ports.StateRequested {
			return ports.Change{}, invalidState(c, "reject")
		}
		if reason == "" {
			return ports.Change{}, refuse(CodeReasonRequired, "a rejection needs a reason")
		}
		next := c
		next.RejectionReason = reason
		return s.change(c, next, ports.StateRejected, approver.ID, reason), nil
	})
}

// Abort aborts an order that is requested, or processing before its first dispatch attempt began
// (the vendor's CardsAddonExtProdProcAbort). An operator may abort any card, a self-service user
// its own. Racing the dispatcher, exactly one wins: the card is aborted and the bureau never sees
// it, or the abort fails with invalid_state.
func (s *Service) Abort(ctx context.Context, actor ports.Actor, cardID string) (_ ports.Card, err error) {
	ctx, end := s.begin(ctx, ports.Span{Op: ports.OpAbort, CardID: cardID}, actor)
	defer func() { end(err, one(err)) }()
	if actor.ID == "" {
		return ports.Card{}, ErrUnauthenticated
	}
	if !actor.Has(ports.RoleOperator) && !actor.Has(ports.RoleSelfService) {
		return ports.Card{}, refuse(CodeForbidden, "aborting needs the operator role")
	}
	return s.update(ctx, cardID, func(c ports.Card) (ports.Change, error) {
		if !actor.Has(ports.RoleOperator) && c.UserID != actor.ID {
			// As in Card: another user's card is not revealed to a self-service user.
			return ports.Change{}, refuse(CodeNotFound, "no card %q", cardID)
		}
		abortable := c.State == ports.StateRequested || (c.State == ports.StateProcessing && !c.DispatchStarted)
		if !abortable {
			return ports.Change{}, invalidState(c, "abort")
		}
		return s.change(c, c, ports.StateAborted, actor.ID, ""), nil
	})
}

// Repeat re-orders a failed card with a new bureau idempotency key (attempt n+1), under the same
// checks as a new order: the cardholder is active and the open-order rule of the card's options.
// The cardholder's photo, erased when the card failed, is fetched again for the new attempt
// (docs/use-case.md §3); a directory that cannot give it refuses the repeat with
// directory_unavailable.
func (s *Service) Repeat(ctx context.Context, operator ports.Actor, cardID string) (_ ports.Card, err error) {
	ctx, end := s.begin(ctx, ports.Span{Op: ports.OpRepeat, CardID: cardID}, operator)
	defer func() { end(err, one(err)) }()
	if err := require(operator, ports.RoleOperator, "repeating an order"); err != nil {
		return ports.Card{}, err
	}
	c, err := s.update(ctx, cardID, func(c ports.Card) (ports.Change, error) {
		if c.State != ports.StateFailed {
			return ports.Change{}, invalidState(c, "repeat")
		}
		if err := s.checkActive(ctx, c); err != nil {
			return ports.Change{}, err
		}
		photo, err := s.repeatPhoto(ctx, c)
		if err != nil {
			return ports.Change{}, err
		}
		next := c
		next.Photo = photo
		next.Attempt++
		next.FailureReason, next.ProviderOrderID = "", ""
		next.CardNumber, next.ValidThru, next.Readouts = "", "", nil
		next.DispatchStarted, next.DispatchTries = false, 0
		if tp := s.traceParent(ctx); tp != "" {
			next.TraceParent = tp // the dispatch of the new attempt links to the repeat
		}
		ch := s.change(c, next, ports.StateProcessing, operator.ID, "")
		ch.Exclusive = c.UserID != "" && !c.Options.AllowMultipleCardOrders
		return ch, nil
	})
	if err != nil {
		return ports.Card{}, err
	}
	return s.sendIfDirect(ctx, c), nil
}

// readsAll reports whether actor may read every card (operator, approver, admin); a self-service
// user reads its own.
func readsAll(a ports.Actor) bool {
	return a.Has(ports.RoleOperator) || a.Has(ports.RoleApprover) || a.Has(ports.RoleAdmin)
}

// Card returns one card. A self-service user gets not_found for another user's card, so ids of
// other people's cards are not revealed.
func (s *Service) Card(ctx context.Context, actor ports.Actor, id string) (ports.Card, error) {
	if actor.ID == "" {
		return ports.Card{}, ErrUnauthenticated
	}
	if !readsAll(actor) && !actor.Has(ports.RoleSelfService) {
		return ports.Card{}, refuse(CodeForbidden, "reading cards needs a role")
	}
	c, err := s.p.Store.Card(ctx, id)
	switch {
	case errors.Is(err, ports.ErrNotFound), err == nil && !readsAll(actor) && c.UserID != actor.ID:
		return ports.Card{}, refuse(CodeNotFound, "no card %q", id)
	case err != nil:
		return ports.Card{}, wrapErr(CodeInternal, err, "read card %q", id)
	}
	return c, nil
}

// Cards lists cards oldest first, one page at a time (f.After is the cursor, page.Next the next
// one). A self-service user sees only its own cards.
func (s *Service) Cards(ctx context.Context, actor ports.Actor, f ports.CardFilter) (ports.CardPage, error) {
	if actor.ID == "" {
		return ports.CardPage{}, ErrUnauthenticated
	}
	switch {
	case readsAll(actor):
	case actor.Has(ports.RoleSelfService):
		if f.UserID != "" && f.UserID != actor.ID {
			return ports.CardPage{}, nil
		}
		f.UserID = actor.ID
	default:
		return ports.CardPage{}, refuse(CodeForbidden, "reading cards needs a role")
	}
	page, err := s.p.Store.List(ctx, f)
	if err != nil {
		return ports.CardPage{}, wrapErr(CodeInternal, err, "list cards")
	}
	return page, nil
}
