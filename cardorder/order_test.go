package cardorder_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/matryer/is"

	"github.com/cardsaddon/extprod/cardorder"
	"github.com/cardsaddon/extprod/ports"
)

func TestOrderCardEndStates(t *testing.T) {
	tests := []struct {
		name  string
		opts  ports.Options
		state ports.CardState
	}{
		{"queued by default", enabled(nil), ports.StateProcessing},
		{"approval step", enabled(func(o *ports.Options) { o.ApprovalStep = true }), ports.StateRequested},
		{"direct order", enabled(func(o *ports.Options) { o.QueueCards = false }), ports.StateOrdered},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := is.New(t)
			w := newWorld(t, tt.opts)
			c := w.order(t, ada.ID)
			is.Equal(c.State, tt.state)
			is.Equal(w.card(t, c.ID).State, tt.state) // stored as returned
			is.Equal(c.CommonName, "Ada Lovelace")
			is.Equal(c.UPN, "ada@corp.example")
			is.Equal(c.OrderedBy, operator.ID)
			is.Equal(c.ScriptVersion, "static")
			is.Equal(c.Options, tt.opts) // the options in force are stored with the card
			is.Equal(c.Channel, ports.ChannelOperator)
		})
	}
}

func TestOrderCardRefusalsInSpecOrder(t *testing.T) {
	on := enabled(nil)
	tests := []struct {
		name   string
		opts   ports.Options
		actor  ports.Actor
		user   string
		ptype  string
		want   *cardorder.Error
		source ports.OptionsSource // instead of opts
		before func(t *testing.T, w *world)
	}{
		{name: "no actor", opts: on, user: ada.ID, want: cardorder.ErrUnauthenticated},
		{name: "approver cannot order", opts: on, actor: approver, user: ada.ID, want: cardorder.ErrForbidden},
		{name: "selfservice for another user", opts: on, actor: self1, user: grace.ID, want: cardorder.ErrForbidden},
		{name: "unknown user wins over disabled", opts: ports.DefaultOptions(), actor: operator, user: "nobody", want: cardorder.ErrUserNotFound},
		{name: "disabled by default", opts: ports.DefaultOptions(), actor: operator, user: ada.ID, want: cardorder.ErrUseCaseDisabled},
		{name: "disabled wins over inactive", opts: ports.DefaultOptions(), actor: operator, user: alan.ID, want: cardorder.ErrUseCaseDisabled},
		{name: "inactive user", opts: on, actor: operator, user: alan.ID, want: cardorder.ErrUserNotActive},
		{name: "type not selectable", opts: on, actor: operator, user: ada.ID, ptype: "premium", want: cardorder.ErrInvalidProductionType},
		{name: "type required", opts: enabled(func(o *ports.Options) { o.SelectProductionType = true }), actor: operator, user: ada.ID, want: cardorder.ErrInvalidProductionType},
		{name: "unknown type", opts: enabled(func(o *ports.Options) { o.SelectProductionType = true }), actor: operator, user: ada.ID, ptype: "gold", want: cardorder.ErrInvalidProductionType},
		{name: "bad card data", opts: on, actor: operator, user: "u9", want: cardorder.ErrInvalidCardData, before: putBadUser},
		{name: "open order", opts: on, actor: operator, user: ada.ID, want: cardorder.ErrOrderExists, before: orderAda},
		// Two failures at once: the earlier check of docs/use-case.md §2 wins.
		{name: "selfservice for unknown user", opts: on, actor: self1, user: "nobody", want: cardorder.ErrForbidden},
		{name: "script failure before inactive", source: failingSource{}, actor: operator, user: alan.ID, want: cardorder.ErrScriptFailed},
		{name: "script failure before disabled", source: failingSource{}, actor: operator, user: ada.ID, want: cardorder.ErrScriptFailed},
		{name: "inactive before production type", opts: on, actor: operator, user: alan.ID, ptype: "premium", want: cardorder.ErrUserNotActive},
		{name: "production type before card data", opts: on, actor: operator, user: "u9", ptype: "premium", want: cardorder.ErrInvalidProductionType, before: putBadUser},
		{name: "card data before open order", opts: on, actor: operator, user: "u9", want: cardorder.ErrInvalidCardData, before: func(t *testing.T, w *world) {
			w.users.Put(ports.User{ID: "u9", State: ports.UserActive, GivenName: "A", FamilyName: "B", Email: "a@b.example"})
			w.order(t, "u9")
			putBadUser(t, w)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w *world
			if tt.source != nil {
				w = newWorldSource(t, tt.source)
			} else {
				w = newWorld(t, tt.opts)
			}
			if tt.before != nil {
				tt.before(t, w)
			}
			events := len(w.eventsOf(ports.AuditStateChange))
			refusals := len(w.eventsOf(ports.AuditRefused))
			cards, _ := w.store.List(context.Background(), ports.CardFilter{})
			_, err := w.svc.OrderCard(context.Background(), tt.user, &cardorder.OrderOptions{Actor: tt.actor, ProductionType: tt.ptype})
			isCode(t, err, tt.want)
			after, _ := w.store.List(context.Background(), ports.CardFilter{})
			if len(after.Cards) != len(cards.Cards) || len(w.eventsOf(ports.AuditStateChange)) != events {
				t.Fatalf("a refused order stored %d cards and %d events", len(after.Cards)-len(cards.Cards), len(w.eventsOf(ports.AuditStateChange))-events)
			}
			// A refusal by permission or the open-order rule is an audit event of its own.
			wantRefusals := 0
			if tt.want == cardorder.ErrForbidden || tt.want == cardorder.ErrOrderExists {
				wantRefusals = 1
			}
			if got := len(w.eventsOf(ports.AuditRefused)) - refusals; got != wantRefusals {
				t.Fatalf("the refusal left %d refusal events, want %d", got, wantRefusals)
			}
		})
	}
}

func putBadUser(t *testing.T, w *world) {
	w.users.Put(ports.User{ID: "u9", State: ports.UserActive, GivenName: "", FamilyName: "X", Email: "not-an-email"})
}

func orderAda(t *testing.T, w *world) { w.order(t, ada.ID) }

func TestInvalidCardDataNamesTheFields(t *testing.T) {
	is := is.New(t)
	w := newWorld(t, enabled(nil))
	w.users.Put(ports.User{ID: "u9", State: ports.UserActive, FamilyName: strings.Repeat("x", 65), Email: "nope"})
	_, err := w.svc.OrderCard(context.Background(), "u9", &cardorder.OrderOptions{Actor: operator})
	var e *cardorder.Error
	is.True(errors.As(err, &e))
	is.Equal(e.Code, cardorder.CodeInvalidCardData)
	want := map[string]string{"givenName": "required", "familyName": "longer than 64", "email": "not an email address", "commonName": "longer than 64"}
	if d := cmp.Diff(want, e.Fields); d != "" {
		t.Fatalf("fields (-want +got):\n%s", d)
	}
	is.True(!strings.Contains(err.Error(), "xxxxxxxx")) // the detail does not echo the data
}

func TestLayoutFieldsAreChecked(t *testing.T) {
	is := is.New(t)
	w := newWorld(t, enabled(nil))
	w.bureau.SetLayout(ports.Layout{ID: "L-100", Fields: []ports.LayoutField{
		{Name: "FIRST_NAME", Required: true, MaxLength: 2}, {Name: "PHOTO", Required: true},
	}})
	_, err := w.svc.OrderCard(context.Background(), ada.ID, &cardorder.OrderOptions{Actor: operator})
	var e *cardorder.Error
	is.True(errors.As(err, &e))
	is.Equal(e.Fields, map[string]string{"FIRST_NAME": "longer than 2", "PHOTO": "required by layout L-100"})
}

type overrideSource struct{ ov ports.CardOverrides }

func (s overrideSource) Resolve(context.Context, ports.OptionsRequest) (ports.Resolved, error) {
	return ports.Resolved{Options: enabled(nil), Overrides: &s.ov, ScriptVersion: "v-test"}, nil
}

func TestMappingOverrides(t *testing.T) {
	is := is.New(t)
	cn := "A. Lovelace"
	w := newWorldSource(t, overrideSource{ports.CardOverrides{CommonName: &cn, Elements: map[string]string{"COST_CENTRE": "42"}}})
	c := w.order(t, ada.ID)
	is.Equal(c.CommonName, cn)
	is.Equal(c.Elements["COMMON_NAME"], cn)
	is.Equal(c.Elements["COST_CENTRE"], "42")
	is.Equal(c.Elements["FIRST_NAME"], "Ada")
	is.Equal(c.ScriptVersion, "v-test")
}

func TestUPNFallsBackToEmail(t *testing.T) {
	w := newWorld(t, enabled(nil))
	if c := w.order(t, grace.ID); c.UPN != grace.Email {
		t.Fatalf("UPN = %q, want the email", c.UPN)
	}
}

type failingSource struct{}

func (failingSource) Resolve(context.Context, ports.OptionsRequest) (ports.Resolved, error) {
	return ports.Resolved{}, errors.New("resolve threw at line 3")
}

func TestScriptFailureCreatesNothing(t *testing.T) {
	is := is.New(t)
	w := newWorldSource(t, failingSource{})
	_, err := w.svc.OrderCard(context.Background(), ada.ID, &cardorder.OrderOptions{Actor: operator})
	isCode(t, err, cardorder.ErrScriptFailed)
	page, _ := w.store.List(context.Background(), ports.CardFilter{})
	is.Equal(len(page.Cards), 0)
}

func TestSelfServiceOrdersForItself(t *testing.T) {
	is := is.New(t)
	w := newWorld(t, enabled(nil))
	c, err := w.svc.OrderCard(context.Background(), ada.ID, &cardorder.OrderOptions{Actor: self1})
	is.NoErr(err)
	is.Equal(c.Channel, ports.ChannelSelfService)
	_, err = w.svc.Card(context.Background(), self1, c.ID)
	is.NoErr(err)
	g := w.order(t, grace.ID)
	_, err = w.svc.Card(context.Background(), self1, g.ID)
	isCode(t, err, cardorder.ErrNotFound) // another user's card is not revealed
	page, err := w.svc.Cards(context.Background(), self1, ports.CardFilter{})
	is.NoErr(err)
	is.Equal(len(page.Cards), 1)
	_, err = w.svc.Abort(context.Background(), self1, g.ID)
	isCode(t, err, cardorder.ErrNotFound)
	_, err = w.svc.Abort(context.Background(), self1, c.ID)
	is.NoErr(err)
}

func TestMultipleOrdersAllowed(t *testing.T) {
	w := newWorld(t, enabled(func(o *ports.Options) { o.AllowMultipleCardOrders = true }))
	w.order(t, ada.ID)
	w.order(t, ada.ID)
}

func TestProducedCardAllowsAReplacement(t *testing.T) {
	is := is.New(t)
	w := newWorld(t, enabled(func(o *ports.Options) { o.QueueCards = false }))
	c := w.order(t, ada.ID)
	is.True(w.bureau.Advance(c.ID, ports.StateProduced, ""))
	c, err := w.svc.Refresh(context.Background(), operator, c.ID)
	is.NoErr(err)
	is.Equal(c.State, ports.StateProduced)
	is.Equal(c.CardNumber, "C-"+c.ProviderOrderID)
	w.order(t, ada.ID)
}

// TestConcurrentOrdersOneCard: 1,000 simultaneous orders for one user with multiple orders off
// produce exactly one card.
func TestConcurrentOrdersOneCard(t *testing.T) {
	is := is.New(t)
	w := newWorld(t, enabled(nil))
	const n = 1000
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = w.svc.OrderCard(context.Background(), ada.ID, &cardorder.OrderOptions{Actor: operator})
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, cardorder.ErrOrderExists):
			t.Fatalf("unexpected error %v", err)
		}
	}
	is.Equal(ok, 1)
	page, _ := w.store.List(context.Background(), ports.CardFilter{UserID: ada.ID})
	is.Equal(len(page.Cards), 1)
}

func TestPreviewHasNoSideEffect(t *testing.T) {
	is := is.New(t)
	w := newWorld(t, enabled(nil))
	pv, err := w.svc.PreviewOrder(context.Background(), ada.ID, &cardorder.OrderOptions{Actor: operator})
	is.NoErr(err)
	is.NoErr(pv.Refusal)
	is.Equal(pv.Card.State, ports.StateProcessing)
	is.Equal(pv.Card.CommonName, "Ada Lovelace")
	is.Equal(pv.Card.ID, "")
	page, _ := w.store.List(context.Background(), ports.CardFilter{})
	is.Equal(len(page.Cards), 0)
	is.Equal(len(w.events()), 0)

	w.order(t, ada.ID)
	pv, err = w.svc.PreviewOrder(context.Background(), ada.ID, &cardorder.OrderOptions{Actor: operator})
	is.NoErr(err)
	isCode(t, pv.Refusal, cardorder.ErrOrderExists)
	is.True(pv.Options != nil)

	_, err = w.svc.PreviewOrder(context.Background(), ada.ID, &cardorder.OrderOptions{Actor: approver})
	isCode(t, err, cardorder.ErrForbidden)
}

func TestDryRunIsForAdmins(t *testing.T) {
	is := is.New(t)
	w := newWorld(t, ports.DefaultOptions())
	_, err := w.svc.DryRun(context.Background(), operator, cardorder.DryRun{UserID: ada.ID, Actor: operator})
	isCode(t, err, cardorder.ErrForbidden)
	pv, err := w.svc.DryRun(context.Background(), admin, cardorder.DryRun{
		Source: cardorder.StaticOptions(enabled(nil)), UserID: ada.ID, Actor: operator,
	})
	is.NoErr(err)
	is.NoErr(pv.Refusal) // the candidate script enables the use case
	pv, err = w.svc.DryRun(context.Background(), admin, cardorder.DryRun{UserID: ada.ID, Actor: operator})
	is.NoErr(err)
	isCode(t, pv.Refusal, cardorder.ErrUseCaseDisabled) // the installed one does not
}

func TestBatchOrderReportsEachUser(t *testing.T) {
	is := is.New(t)
	w := newWorld(t, enabled(nil))
	w.order(t, grace.ID)
	res, err := w.svc.OrderBatch(context.Background(), operator, []string{ada.ID, grace.ID, alan.ID, "nobody"}, "")
	is.NoErr(err)
	is.Equal(len(res), 4)
	is.NoErr(res[0].Err)
	is.Equal(res[0].Card.Channel, ports.ChannelBatch)
	isCode(t, res[1].Err, cardorder.ErrOrderExists)
	isCode(t, res[2].Err, cardorder.ErrUserNotActive)
	isCode(t, res[3].Err, cardorder.ErrUserNotFound)
	is.Equal(w.card(t, res[0].Card.ID).State, ports.StateProcessing) // not undone by the others

	_, err = w.svc.OrderBatch(context.Background(), approver, []string{ada.ID}, "")
	isCode(t, err, cardorder.ErrForbidden)
}

func TestTemporaryCards(t *testing.T) {
	is := is.New(t)
	w := newWorld(t, enabled(func(o *ports.Options) { o.ApprovalStep = true }))
	cards, err := w.svc.OrderTemporaryCards(context.Background(), operator, 3, "")
	is.NoErr(err)
	is.Equal(len(cards), 3)
	for i, c := range cards {
		is.True(c.Temporary)
		is.Equal(c.State, ports.StateProcessing) // no approval step for temporary cards
		is.Equal(c.UserID, "")
		is.Equal(c.Elements, map[string]string{"TEMPORARY": "true", "SEQUENCE": string(rune('1' + i))})
	}
	for _, n := range []int{0, 10, -1} {
		_, err := w.svc.OrderTemporaryCards(context.Background(), operator, n, "")
		isCode(t, err, cardorder.ErrInvalidAmount)
	}
	_, err = w.svc.OrderTemporaryCards(context.Background(), approver, 1, "")
	isCode(t, err, cardorder.ErrForbidden)

	// A layout that requires personal fields refuses them, all or none.
	w.bureau.SetLayout(ports.Layout{ID: "L-100", Fields: []ports.LayoutField{{Name: "FIRST_NAME", Required: true}}})
	_, err = w.svc.OrderTemporaryCards(context.Background(), operator, 2, "")
	isCode(t, err, cardorder.ErrInvalidCardData)
	page, _ := w.store.List(context.Background(), ports.CardFilter{})
	is.Equal(len(page.Cards), 3)

	off := newWorld(t, ports.DefaultOptions())
	_, err = off.svc.OrderTemporaryCards(context.Background(), operator, 1, "")
	isCode(t, err, cardorder.ErrUseCaseDisabled)
}

// TestTemporaryCardsProductionType: the type named, or the default, whatever the selection rule.
func TestTemporaryCardsProductionType(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	two := func(sel bool) ports.Options {
		return enabled(func(o *ports.Options) {
			o.SelectProductionType = sel
			o.ProductionTypes = append(o.ProductionTypes, ports.ProductionType{ID: "temp", LayoutID: "L-TEMP", Label: "Temporary"})
		})
	}
	for _, sel := range []bool{false, true} {
		w := newWorld(t, two(sel))
		cards, err := w.svc.OrderTemporaryCards(ctx, operator, 1, "")
		is.NoErr(err)
		is.Equal(cards[0].ProductionType, "standard")
		cards, err = w.svc.OrderTemporaryCards(ctx, operator, 1, "temp")
		is.NoErr(err)
		is.Equal(cards[0].LayoutID, "L-TEMP")
		_, err = w.svc.OrderTemporaryCards(ctx, operator, 1, "gold")
		isCode(t, err, cardorder.ErrInvalidProductionType)
	}
}

func TestTemporaryCardsOrderedDirectly(t *testing.T) {
	is := is.New(t)
	w := newWorld(t, enabled(func(o *ports.Options) { o.QueueCards = false }))
	cards, err := w.svc.OrderTemporaryCards(context.Background(), operator, 2, "")
	is.NoErr(err)
	for _, c := range cards {
		is.Equal(c.State, ports.StateOrdered)
	}
	is.Equal(w.bureau.Orders(), 2)
	is.Equal(len(w.sent()), 0) // no cardholder, no "card ordered" email
}
