package ports

import "context"

// StatusApplier applies the bureau's status of one order to its card: the contract between the
// bureau's status-events handler and the domain (cardorder.Service implements it).
// ApplyOrderStatus reports whether the card changed; ErrNotFound when no card has that order,
// other errors when the outcome is unknown (the event should be delivered again).
type StatusApplier interface {
	ApplyOrderStatus(ctx context.Context, s OrderStatus) (changed bool, err error)
}
