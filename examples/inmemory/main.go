// Command inmemory walks the card-order story with every adapter in memory: an order that is
// queued and aborted, an order that is dispatched and followed until the card is produced, a
// refused second order, and an approval flow with a rejection.
//
//	go run ./examples/inmemory
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/cardsaddon/extprod/adapters/memory"
	"github.com/cardsaddon/extprod/cardorder"
	"github.com/cardsaddon/extprod/ports"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "inmemory:", err)
		os.Exit(1)
	}
}

var (
	operator = ports.Actor{ID: "op-1", Roles: []ports.Role{ports.RoleOperator}}
	approver = ports.Actor{ID: "ap-1", Roles: []ports.Role{ports.RoleApprover}}
)

func run(ctx context.Context, out io.Writer) error {
	store := memory.NewStore()
	bureau := memory.NewBureau()
	mailer := &memory.Mailer{}
	users := memory.NewUsers(
		ports.User{ID: "u1", State: ports.UserActive, GivenName: "Ada", FamilyName: "Lovelace", Email: "ada@example.com", UPN: "ada@corp.example"},
		ports.User{ID: "u2", State: ports.UserActive, GivenName: "Grace", FamilyName: "Hopper", Email: "grace@example.com"},
	)
	opts := ports.DefaultOptions()
	opts.Enabled = true // the use case is off until an administrator enables it
	options := &switchable{opts: opts}
	svc, err := cardorder.New(cardorder.Ports{
		Users: users, Store: store,
		Provider: bureau, Options: options, Mailer: mailer, Audit: &memory.AuditLog{},
	}, &cardorder.Config{IDs: memory.NewIDs("card-")})
	if err != nil {
		return err
	}
	step := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
	order := func(userID string) (ports.Card, error) {
		return svc.OrderCard(ctx, userID, &cardorder.OrderOptions{Actor: operator})
	}

	step("1. Operator op-1 orders a card for Ada (queueing is on by default)")
	c, err := order("u1")
	if err != nil {
		return err
	}
	step("   %s is %s: common name %q, UPN %q", c.ID, c.State, c.CommonName, c.UPN)

	step("2. A second order for Ada is refused: one open order per user")
	_, err = order("u1")
	step("   refused: %s", cardorder.CodeOf(err))

	step("3. The operator aborts the queued order")
	if c, err = svc.Abort(ctx, operator, c.ID); err != nil {
		return err
	}
	step("   %s is %s", c.ID, c.State)

	step("4. Ada is ordered a card again, and the dispatcher sends it to the bureau")
	if c, err = order("u1"); err != nil {
		return err
	}
	res, err := svc.DispatchQueued(ctx, 100)
	if err != nil {
		return err
	}
	step("   dispatch: %d ordered, %d failed, %d still queued", res.Ordered, res.Failed, res.Remaining)

	step("5. The bureau produces the card; the operator updates the order")
	for _, st := range []ports.CardState{ports.StateInProduction, ports.StateProduced} {
		bureau.Advance(c.ID, st, "")
		if c, err = svc.Refresh(ctx, operator, c.ID); err != nil {
			return err
		}
		step("   %s is %s", c.ID, c.State)
	}
	step("   card number %s, valid thru %s", c.CardNumber, c.ValidThru)

	step("6. The administrator adds an approval step; Grace's order waits for an approver")
	opts.ApprovalStep = true
	options.set(opts)
	g, err := order("u2")
	if err != nil {
		return err
	}
	step("   %s is %s", g.ID, g.State)
	_, err = svc.Reject(ctx, approver, g.ID, " ")
	step("   a rejection without a reason is refused: %s", cardorder.CodeOf(err))
	if g, err = svc.Reject(ctx, approver, g.ID, "no budget this quarter"); err != nil {
		return err
	}
	step("   approver ap-1 rejects it: %s (%q)", g.State, g.RejectionReason)

	step("7. Emails sent (a relay delivers the outbox outside the calls; here one pass by hand)")
	if err := svc.DeliverPending(ctx); err != nil {
		return err
	}
	var kinds []string
	for _, n := range mailer.Sent() {
		kinds = append(kinds, string(n.Kind))
	}
	step("   %s", strings.Join(kinds, ", "))
	return nil
}

// switchable is an options source the story changes midway, as an administrator would by
// installing a new option script.
type switchable struct{ opts ports.Options }

func (s *switchable) set(o ports.Options) { s.opts = o }

func (s *switchable) Resolve(context.Context, ports.OptionsRequest) (ports.Resolved, error) {
	return ports.Resolved{Options: s.opts, ScriptVersion: "example"}, nil
}
