package cardorder_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/cardsaddon/extprod/adapters/memory"
	"github.com/cardsaddon/extprod/cardorder"
	"github.com/cardsaddon/extprod/ports"
)

// newExampleService wires a Service to in-memory adapters with the use case enabled.
func newExampleService(edit func(*ports.Options)) (*cardorder.Service, *memory.Bureau) {
	store := memory.NewStore()
	bureau := memory.NewBureau()
	opts := ports.DefaultOptions()
	opts.Enabled = true
	if edit != nil {
		edit(&opts)
	}
	svc, err := cardorder.New(cardorder.Ports{
		Users: memory.NewUsers(ports.User{
			ID: "u1", State: ports.UserActive, GivenName: "Ada", FamilyName: "Lovelace",
			Email: "ada@example.com", UPN: "ada@corp.example",
		}),
		Store:    store,
		Provider: bureau,
		Options:  cardorder.StaticOptions(opts),
	}, nil)
	if err != nil {
		panic(err)
	}
	return svc, bureau
}

func ExampleService_OrderCard() {
	svc, _ := newExampleService(nil)
	ctx := context.Background()
	op := ports.Actor{ID: "op-1", Roles: []ports.Role{ports.RoleOperator}}

	card, err := svc.OrderCard(ctx, "u1", &cardorder.OrderOptions{Actor: op})
	if err != nil {
		panic(err)
	}
	fmt.Println(card.State, card.CommonName, card.UPN, card.ProductionType)

	_, err = svc.OrderCard(ctx, "u1", &cardorder.OrderOptions{Actor: op})
	fmt.Println(errors.Is(err, cardorder.ErrOrderExists), cardorder.CodeOf(err))
	// Output:
	// processing Ada Lovelace ada@corp.example standard
	// true order_exists
}

func ExampleService_Approve() {
	svc, _ := newExampleService(func(o *ports.Options) { o.ApprovalStep = true })
	ctx := context.Background()
	op := ports.Actor{ID: "op-1", Roles: []ports.Role{ports.RoleOperator, ports.RoleApprover}}
	ap := ports.Actor{ID: "ap-1", Roles: []ports.Role{ports.RoleApprover}}

	card, _ := svc.OrderCard(ctx, "u1", &cardorder.OrderOptions{Actor: op})
	fmt.Println(card.State)
	_, err := svc.Approve(ctx, op, card.ID) // the requester cannot approve its own order
	fmt.Println(cardorder.CodeOf(err))
	card, _ = svc.Approve(ctx, ap, card.ID)
	fmt.Println(card.State, card.ApprovedBy)
	// Output:
	// requested
	// forbidden
	// processing ap-1
}

func ExampleService_DispatchQueued() {
	svc, bureau := newExampleService(nil)
	ctx := context.Background()
	op := ports.Actor{ID: "op-1", Roles: []ports.Role{ports.RoleOperator}}

	card, _ := svc.OrderCard(ctx, "u1", &cardorder.OrderOptions{Actor: op})
	res, _ := svc.DispatchQueued(ctx, 100)
	fmt.Printf("ordered %d, failed %d, remaining %d\n", res.Ordered, res.Failed, res.Remaining)

	bureau.Advance(card.ID, ports.StateProduced, "")
	card, _ = svc.Refresh(ctx, op, card.ID)
	fmt.Println(card.State, card.CardNumber != "")
	// Output:
	// ordered 1, failed 0, remaining 0
	// produced true
}

func ExampleService_Abort() {
	svc, _ := newExampleService(nil)
	ctx := context.Background()
	op := ports.Actor{ID: "op-1", Roles: []ports.Role{ports.RoleOperator}}

	card, _ := svc.OrderCard(ctx, "u1", &cardorder.OrderOptions{Actor: op})
	card, _ = svc.Abort(ctx, op, card.ID)
	fmt.Println(card.State)
	card, _ = svc.OrderCard(ctx, "u1", &cardorder.OrderOptions{Actor: op}) // aborted is not open
	fmt.Println(card.State)
	// Output:
	// aborted
	// processing
}

func ExampleService_OrderBatch() {
	svc, _ := newExampleService(nil)
	op := ports.Actor{ID: "op-1", Roles: []ports.Role{ports.RoleOperator}}
	results, _ := svc.OrderBatch(context.Background(), op, []string{"u1", "u2"}, "")
	for _, r := range results {
		if r.Err != nil {
			fmt.Println(r.UserID, "refused:", cardorder.CodeOf(r.Err))
			continue
		}
		fmt.Println(r.UserID, r.Card.State)
	}
	// Output:
	// u1 processing
	// u2 refused: user_not_found
}
