package cardorder

import (
	"bytes"
	"context"
	"errors"

	"github.com/cardsaddon/extprod/ports"
)

// LayoutFieldPhoto is the layout input field that stands for the cardholder's photo
// (docs/use-case.md §3). It is no card element: a layout that lists it as required needs a
// photo, and an order without one is refused with invalid_card_data naming PHOTO; a layout that
// lists it as optional, or not at all, takes a card with or without a photo.
const LayoutFieldPhoto = "PHOTO"

// The photo's life (docs/use-case.md §3):
//
//   - fetched once, at order time (OrderCard, OrderBatch; also the preview and dry run, which
//     must tell whether a photo would be sent), from the user store when it is a
//     [ports.PhotoSource] and the user has a PhotoURL;
//   - refused by the source (another origin, too large, not a JPEG or PNG) or missing: the order
//     goes on without a photo, unless the layout requires one;
//   - the directory cannot be reached (or breaks its protocol): the order is refused with
//     directory_unavailable and nothing is created, because a card printed without the photo
//     that the directory does have cannot be mended later;
//   - stored with the card and sent unchanged with every try of an attempt;
//   - erased in the write that moves the card out of requested/processing: ordered (the bureau
//     holds it), failed for good, aborted or rejected. A retryable failure keeps it (the card
//     stays processing);
//   - a repeat of a failed card fetches it again, under the same rules, for the new attempt.
//
// Temporary cards never have one.

// fetchPhoto returns u's photo for a card, nil when there is none to send.
func (s *Service) fetchPhoto(ctx context.Context, u ports.User) ([]byte, error) {
	src, ok := s.p.Users.(ports.PhotoSource)
	if !ok || u.PhotoURL == "" {
		return nil, nil
	}
	data, _, err := src.Photo(ctx, u)
	switch {
	case err == nil && !isJPEGOrPNG(data):
		s.log.Warn("cardholder photo not used: the photo source returned neither a JPEG nor a PNG")
		return nil, nil
	case err == nil:
		return data, nil
	case errors.Is(err, ports.ErrNotFound):
		return nil, nil
	case errors.Is(err, ports.ErrPhotoRefused):
		// The source's errors carry neither the URL nor the user's name (ports.PhotoSource).
		s.log.Info("cardholder photo not used", "err", err)
		return nil, nil
	}
	return nil, wrapErr(CodeDirectoryUnavailable, err,
		"the directory could not give the cardholder's photo; nothing was ordered, try again later")
}

// isJPEGOrPNG reports whether b starts like a JPEG or a PNG.
func isJPEGOrPNG(b []byte) bool {
	return bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF}) || bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n"))
}

// photoCheck checks the photo against layout l's PHOTO field: a required one needs a photo.
// bad collects the offending field.
func photoCheck(l ports.Layout, f ports.LayoutField, hasPhoto bool, bad *fieldProblems) {
	if f.Required && !hasPhoto {
		bad.add(LayoutFieldPhoto, "required by layout "+l.ID)
	}
}

// repeatPhoto fetches the photo again for a repeat of failed card c (its photo was erased when
// it failed) and checks it against c's layout.
func (s *Service) repeatPhoto(ctx context.Context, c ports.Card) ([]byte, error) {
	if c.Temporary {
		return nil, nil
	}
	u, err := s.p.Users.User(ctx, c.UserID)
	if errors.Is(err, ports.ErrNotFound) {
		return nil, userNotFound()
	}
	if err != nil {
		return nil, wrapErr(CodeInternal, err, "read the user")
	}
	photo, err := s.fetchPhoto(ctx, u)
	if err != nil {
		return nil, err
	}
	ls, ok := s.p.Provider.(ports.LayoutSource)
	if !ok {
		return photo, nil
	}
	l, err := ls.Layout(ctx, c.LayoutID)
	if err != nil {
		return photo, nil // left to the bureau, as at order time
	}
	var bad fieldProblems
	for _, f := range l.Fields {
		if f.Name == LayoutFieldPhoto {
			photoCheck(l, f, len(photo) > 0, &bad)
		}
	}
	if len(bad) > 0 {
		return nil, &Error{Code: CodeInvalidCardData, Detail: "the card data does not fit layout " + l.ID, Fields: bad}
	}
	return photo, nil
}

// keepsPhoto reports whether a card entering state to keeps its photo: only while it waits for
// the bureau (requested, processing). Every other state means the bureau holds the photo or
// will never need it.
func keepsPhoto(to ports.CardState) bool {
	return to == ports.StateRequested || to == ports.StateProcessing
}
