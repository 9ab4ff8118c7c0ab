package ports

import (
	"context"
	"errors"
)

// ErrPhotoRefused: the directory names a photo the library will not take — its URL is not on
// the directory's own origin (it is then never fetched), it is larger than the size cap, or it is
// neither a JPEG nor a PNG. Retrying does not help; the photo has to be fixed in the directory.
var ErrPhotoRefused = errors.New("photo refused")

// PhotoSource is an optional capability of a [UserStore]: it fetches the photo that
// [User.PhotoURL] names, once, at order time (docs/use-case.md §3). The domain finds it by type
// assertion on the user store; a store without it gives cards without photos.
//
// The contract:
//
//   - The photo is fetched only from the directory's own origin (scheme, host and port of the
//     directory's base URL). A URL on any other origin is refused with [ErrPhotoRefused] and
//     never requested. Redirects are followed only within that origin.
//   - The directory's credentials are not sent with the photo request unless the host configured
//     the store to send them.
//   - The photo is size-capped (1 MiB by default, configurable): a larger one is refused with
//     [ErrPhotoRefused] without reading it all.
//   - Its type is decided by sniffing its bytes, not by the server's Content-Type: only JPEG
//     ("image/jpeg") and PNG ("image/png") are accepted, anything else is [ErrPhotoRefused].
//     contentType is the sniffed type.
//   - A user without a photo (an empty PhotoURL, or a URL the directory answers with 404) is
//     [ErrNotFound]; a missing photo is no error for the order unless the layout requires one.
//   - A directory that cannot be reached or does not answer in time is [ErrUnavailable]; an
//     answer the protocol does not allow is [ErrProtocol].
//   - Errors and logs never carry the URL, the user's name or the photo's bytes.
//
// Photo must be safe for concurrent use and honour ctx.
type PhotoSource interface {
	Photo(ctx context.Context, u User) (data []byte, contentType string, err error)
}
