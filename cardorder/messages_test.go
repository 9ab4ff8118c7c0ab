package cardorder_test

import (
	"context"
	"strings"
	"testing"

	"github.com/cardsaddon/extprod/cardorder"
	"github.com/cardsaddon/extprod/ports"
)

// TestRefusalsSayWhatToDo: refusals name what is missing or how to mend it.
func TestRefusalsSayWhatToDo(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, enabled(nil))
	first := w.order(t, ada.ID)
	for _, tc := range []struct {
		name string
		err  func() error
		want *cardorder.Error
		says string
	}{
		{"nil options", func() error { _, err := w.svc.OrderCard(ctx, ada.ID, nil); return err },
			cardorder.ErrUnauthenticated, "pass &OrderOptions{Actor: ...}"},
		{"actor without id", func() error {
			_, err := w.svc.OrderCard(ctx, ada.ID, &cardorder.OrderOptions{Actor: ports.Actor{Roles: operator.Roles}})
			return err
		}, cardorder.ErrUnauthenticated, "set OrderOptions.Actor.ID"},
		{"open order", func() error {
			_, err := w.svc.OrderCard(ctx, ada.ID, &cardorder.OrderOptions{Actor: operator})
			return err
		},
			cardorder.ErrOrderExists, "card " + first.ID},
		{"production type not selectable", func() error {
			_, err := w.svc.OrderCard(ctx, grace.ID, &cardorder.OrderOptions{Actor: operator, ProductionType: "premium"})
			return err
		}, cardorder.ErrInvalidProductionType, "cannot be chosen: choosing production types is off"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.err()
			isCode(t, err, tc.want)
			if !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("refusal %q does not say %q", err, tc.says)
			}
		})
	}
	off := newWorld(t, ports.DefaultOptions())
	_, err := off.svc.OrderCard(ctx, ada.ID, &cardorder.OrderOptions{Actor: operator})
	isCode(t, err, cardorder.ErrUseCaseDisabled)
	if !strings.Contains(err.Error(), "enabled: true in the option script") {
		t.Fatalf("refusal %q does not say how to enable the use case", err)
	}
}
