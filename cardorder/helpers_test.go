package cardorder_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cardsaddon/extprod/adapters/memory"
	"github.com/cardsaddon/extprod/cardorder"
	"github.com/cardsaddon/extprod/ports"
)

var (
	operator  = ports.Actor{ID: "op-1", Roles: []ports.Role{ports.RoleOperator}}
	operator2 = ports.Actor{ID: "op-2", Roles: []ports.Role{ports.RoleOperator}}
	approver  = ports.Actor{ID: "ap-1", Roles: []ports.Role{ports.RoleApprover}}
	admin     = ports.Actor{ID: "ad-1", Roles: []ports.Role{ports.RoleAdmin}}
	ada       = ports.User{ID: "u1", State: ports.UserActive, GivenName: "Ada", FamilyName: "Lovelace",
		Email: "ada@example.com", UPN: "ada@corp.example", Organisation: "Corp", Department: "R&D"}
	grace = ports.User{ID: "u2", State: ports.UserActive, GivenName: "Grace", FamilyName: "Hopper", Email: "grace@example.com"}
	alan  = ports.User{ID: "u3", State: ports.UserInactive, GivenName: "Alan", FamilyName: "Turing", Email: "alan@example.com"}
	self1 = ports.Actor{ID: "u1", Roles: []ports.Role{ports.RoleSelfService}}
)

var t0 = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

// world is a Service wired to in-memory adapters that a test can inspect and break.
type world struct {
	svc    *cardorder.Service
	store  *memory.Store
	users  *memory.Users
	bureau *memory.Bureau
	mailer *memory.Mailer
	audit  *memory.AuditLog
	clock  *memory.Clock
}

// enabled returns the default options with the use case on, changed by edit.
func enabled(edit func(*ports.Options)) ports.Options {
	o := ports.DefaultOptions()
	o.Enabled = true
	if edit != nil {
		edit(&o)
	}
	return o
}

func newWorld(t testing.TB, opts ports.Options) *world {
	return newWorldSource(t, cardorder.StaticOptions(opts))
}

func newWorldSource(t testing.TB, src ports.OptionsSource) *world {
	w := &world{
		store:  memory.NewStore(),
		users:  memory.NewUsers(ada, grace, alan),
		bureau: memory.NewBureau(),
		mailer: &memory.Mailer{},
		audit:  &memory.AuditLog{},
		clock:  memory.NewClock(t0),
	}
	svc, err := cardorder.New(cardorder.Ports{
		Users: w.users, Store: w.store,
		Provider: w.bureau, Options: src, Mailer: w.mailer, Audit: w.audit,
	}, &cardorder.Config{Clock: w.clock, IDs: memory.NewIDs("c"), MaxDispatchTries: 3, RetryBackoff: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	w.svc = svc
	return w
}

func (w *world) order(t testing.TB, userID string) ports.Card {
	t.Helper()
	c, err := w.svc.OrderCard(context.Background(), userID, &cardorder.OrderOptions{Actor: operator})
	if err != nil {
		t.Fatalf("order for %s: %v", userID, err)
	}
	return c
}

func (w *world) card(t testing.TB, id string) ports.Card {
	t.Helper()
	c, err := w.store.Card(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (w *world) dispatch(t testing.TB) cardorder.DispatchResult {
	t.Helper()
	res, err := w.svc.DispatchQueued(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// relay runs a relay pass, as the background relay would after a write; a failing sink or
// mailer leaves its entries in the outbox (the tests that break them check that).
func (w *world) relay() { _ = w.svc.DeliverPending(context.Background()) }

// sent returns the notifications the mailer got, after a relay pass.
func (w *world) sent() []ports.Notification {
	w.relay()
	return w.mailer.Sent()
}

// events returns the audit events the sink got, after a relay pass.
func (w *world) events() []ports.AuditEvent {
	w.relay()
	return w.audit.Events()
}

// eventsFor returns the state changes of one card as from→to pairs, after a relay pass.
func (w *world) eventsFor(cardID string) []string {
	var out []string
	for _, e := range w.events() {
		if e.CardID == cardID && e.Kind == ports.AuditStateChange {
			out = append(out, string(e.From)+">"+string(e.To))
		}
	}
	return out
}

func isCode(t testing.TB, err error, want *cardorder.Error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("got error %v, want code %s", err, want.Code)
	}
}

// eventsOf returns the audit events of one kind, after a relay pass.
func (w *world) eventsOf(kind ports.AuditKind) []ports.AuditEvent {
	var out []ports.AuditEvent
	for _, e := range w.events() {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}
