package scim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/cardsaddon/extprod/ports"
)

// Photo fetches the photo u.PhotoURL names, under the contract of [ports.PhotoSource]: only
// from the origin of Config.BaseURL (another origin, or a redirect leaving it, is
// ports.ErrPhotoRefused and never requested), without the bearer token unless
// Config.SendTokenWithPhoto, at most Config.MaxPhotoBytes, and only a JPEG or PNG by its bytes.
// A relative PhotoURL is resolved against BaseURL. An empty PhotoURL or a 404 is
// ports.ErrNotFound.
func (d *Directory) Photo(ctx context.Context, u ports.User) ([]byte, string, error) {
	data, ct, err := d.photo(ctx, u)
	if err != nil {
		d.logFailure(ctx, err)
		return nil, "", err
	}
	return data, ct, nil
}

func (d *Directory) photo(ctx context.Context, u ports.User) ([]byte, string, error) {
	const op = "get photo"
	if u.PhotoURL == "" {
		return nil, "", fmt.Errorf("scim: %s: the user has no photo: %w", op, ports.ErrNotFound)
	}
	ref, err := url.Parse(u.PhotoURL)
	if err != nil {
		return nil, "", fmt.Errorf("scim: %s: the photo URL does not parse: %w", op, ports.ErrPhotoRefused)
	}
	target := d.base.ResolveReference(ref)
	if target.User != nil || !sameOrigin(target, d.base) {
		return nil, "", fmt.Errorf("scim: %s: the photo URL is not on the directory's origin: %w", op, ports.ErrPhotoRefused)
	}
	target.Fragment = ""

	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target.String(), nil)
	if err != nil {
		return nil, "", fmt.Errorf("scim: %s: cannot build the request: %w", op, ports.ErrPhotoRefused)
	}
	req.Header.Set("Accept", "image/jpeg, image/png")
	if d.cfg.SendTokenWithPhoto {
		req.Header.Set("Authorization", "Bearer "+d.cfg.Token)
	}
	start := time.Now()
	resp, err := d.photoClient.Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("scim: %s: %w", op, transportError(ctx, err))
	}
	defer resp.Body.Close()
	d.cfg.Logger.DebugContext(ctx, "scim: directory answered", "op", op, "status", resp.StatusCode, "duration", time.Since(start))
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		// CheckRedirect stopped a redirect that leaves the origin (or one too many).
		return nil, "", fmt.Errorf("scim: %s: redirected off the directory's origin: %w", op, ports.ErrPhotoRefused)
	}
	if err := statusError(op, resp.StatusCode); err != nil {
		return nil, "", err
	}
	data, err := readLimited(ctx, resp, d.cfg.MaxPhotoBytes)
	if err != nil {
		if errors.Is(err, ports.ErrProtocol) { // over the cap
			return nil, "", fmt.Errorf("scim: %s: larger than %d bytes: %w", op, d.cfg.MaxPhotoBytes, ports.ErrPhotoRefused)
		}
		return nil, "", fmt.Errorf("scim: %s: %w", op, err)
	}
	ct := http.DetectContentType(data)
	if ct != "image/jpeg" && ct != "image/png" {
		return nil, "", fmt.Errorf("scim: %s: content is %s, want a JPEG or PNG: %w", op, ct, ports.ErrPhotoRefused)
	}
	return data, ct, nil
}
