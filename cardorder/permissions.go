package cardorder

import "github.com/cardsaddon/extprod/ports"

// Who may do what (docs/use-case.md §1): the role checks and the four-eyes rule.

// require refuses an actor without an id (unauthenticated) or without role r; what names the
// action in the refusal.
func require(a ports.Actor, r ports.Role, what string) error {
	switch {
	case a.ID == "":
		return ErrUnauthenticated
	case !a.Has(r):
		return refuse(CodeForbidden, "%s needs the %s role", what, r)
	}
	return nil
}

// fourEyes refuses an approver who ordered the card or holds it.
func fourEyes(approver ports.Actor, c ports.Card) error {
	if approver.ID == c.OrderedBy || approver.ID == c.UserID {
		return refuse(CodeForbidden, "four-eyes: the approver must be neither the requester nor the cardholder")
	}
	return nil
}
