// Package extprod lets identity platforms order ID cards from an external card bureau
// ("GO Cards"). An operator orders a card for an active user; an administrator's option script
// decides approval, production type, queueing, the one-open-order-per-user rule and the "card
// ordered" email; queued orders are dispatched to the bureau, can be aborted while queued, and
// follow the bureau's status until the card is produced.
//
// This package holds only documentation. The library is a pure domain behind small ports, with
// reference adapters a host swaps for its own.
//
// # Packages
//
//   - [github.com/cardsaddon/extprod/cardorder]: the domain. [cardorder.Service] runs every use
//     case (order, preview, approve, reject, abort, repeat, dispatch, status updates, batch and
//     temporary orders), checks the actor's roles and the state machine, and returns typed errors
//     ([cardorder.Error], tested with errors.Is against sentinels such as cardorder.ErrOrderExists).
//   - [github.com/cardsaddon/extprod/ports]: the interfaces the domain needs (user store, card
//     store with its queue and outbox, bureau, mailer, audit sink, options source, script store,
//     clock, id source) and the value types they carry.
//   - [github.com/cardsaddon/extprod/ports/portstest]: the conformance suite any adapter runs on
//     itself.
//   - [github.com/cardsaddon/extprod/adapters/memory]: in-memory adapters for every port.
//   - [github.com/cardsaddon/extprod/options]: the administrator's JavaScript option script,
//     sandboxed in goja.
//   - adapters/gocards: the GO Cards HTTP client, its fake bureau and the status-events handler.
//   - adapters/httpapi: the operator HTTP API.
//
// # Quick start
//
//	store := memory.NewStore()
//	opts := ports.DefaultOptions()
//	opts.Enabled = true // the use case is disabled by default
//	svc, err := cardorder.New(cardorder.Ports{
//		Users: myDirectory, Store: store,
//		Provider: memory.NewBureau(), Options: cardorder.StaticOptions(opts),
//	}, nil)
//	op := ports.Actor{ID: "op-1", Roles: []ports.Role{ports.RoleOperator}}
//	card, err := svc.OrderCard(ctx, "u1", &cardorder.OrderOptions{Actor: op})
//	go svc.NewDispatcher(nil).Run(ctx) // orders queued cards at the bureau and relays the outbox
//
// # Guarantees
//
// Every state change is one compare-and-set in the card store, written together with its audit
// event and the notifications it causes; the queue is a leased view of the processing cards of
// the same store. So two simultaneous orders for one user create one card, an abort racing the
// dispatcher has exactly one winner, a processing card is never outside the queue, and a mail or
// audit outage never loses or rolls back an order.
package extprod
