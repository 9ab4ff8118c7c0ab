package scim_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/cardsaddon/extprod/adapters/scim"
	"github.com/cardsaddon/extprod/adapters/scim/scimtest"
	"github.com/cardsaddon/extprod/ports"
)

// TestNothingPersonal runs successes and every kind of failure with realistic users and checks
// that no error and no log line carries a name, an email, a login, an employee number, a photo
// URL or the token.
func TestNothingPersonal(t *testing.T) {
	var (
		logs logBuffer
		errs []error
	)
	d := scimtest.New(t)
	ada := d.Create(resource(withOrigin(d, adaMembers)))
	d.Create(resource(withOrigin(d, graceMembers)))
	margaret := d.Create(resource(margaretMembers))
	d.SetPhoto("/photos/ada.jpg", []byte("<html>Ada Lovelace</html>"))

	dirWith := func(mod func(*scim.Config)) *scim.Directory {
		cfg := config(d)
		cfg.Logger = logs.logger()
		if mod != nil {
			mod(&cfg)
		}
		return open(t, cfg)
	}
	try := func(_ ports.User, err error) {
		if err == nil {
			t.Error("a failure scenario succeeded")
		}
		errs = append(errs, err)
	}
	ctx := t.Context()

	// successes log too
	if u, err := dirWith(nil).User(ctx, ada); err != nil {
		t.Fatal(err)
	} else {
		_, _, err := dirWith(nil).Photo(ctx, u) // an HTML page, not a photo
		errs = append(errs, err)
		u.PhotoURL = strings.Replace(u.PhotoURL, "ada.jpg", "ada-gone.jpg", 1)
		_, _, err = dirWith(nil).Photo(ctx, u)
		errs = append(errs, err)
	}
	byLogin := func(c *scim.Config) { c.KeyAttribute = scim.KeyUserName }
	try(dirWith(byLogin).User(ctx, "ada.lovelace@example.org"))
	try(dirWith(func(c *scim.Config) {
		c.KeyAttribute = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter"
	}).User(ctx, "CC-4711"))
	try(dirWith(func(c *scim.Config) { c.UPNAttribute = "emails" }).User(ctx, ada))
	try(dirWith(func(c *scim.Config) { c.Token = "wrong" }).User(ctx, ada))
	try(dirWith(func(c *scim.Config) { c.MaxResponseBytes = 64 }).User(ctx, ada))
	if u, err := dirWith(nil).User(ctx, margaret); err != nil {
		t.Fatal(err)
	} else {
		_, _, err := dirWith(nil).Photo(ctx, u) // on another origin
		errs = append(errs, err)
	}
	d.Delete(ada)
	try(dirWith(nil).User(ctx, ada))
	try(dirWith(byLogin).User(ctx, adaUserName))

	// answers that quote personal data
	for _, body := range []string{
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"u1","userName":"ada.lovelace@example.com"`,
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"u1","active":"Ada Lovelace"}`,
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"Ada Lovelace"}`,
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"u1","name":{"givenName":["Ada"]}}`,
		`{"detail":"user ada.lovelace@example.com not found","status":"400"}`,
		`Ada Lovelace`,
	} {
		for _, status := range []int{200, 400, 500} {
			cfg := fakeDirectory(t, answer(status, "application/scim+json", body))
			cfg.Logger = logs.logger()
			try(open(t, cfg).User(ctx, "u1"))
		}
	}
	// a directory that is gone: net/http's errors name the URL, which names the login
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	cfg := scim.Config{BaseURL: gone.URL, Token: scimtest.Token, KeyAttribute: scim.KeyUserName, Logger: logs.logger()}
	try(open(t, cfg).User(ctx, adaUserName))
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	try(open(t, cfg).User(cctx, adaUserName))

	seen := logs.String()
	if !strings.Contains(seen, "status=") || !strings.Contains(seen, "directory call failed") {
		t.Fatalf("the scenarios logged nothing:\n%s", seen)
	}
	for _, err := range errs {
		if err == nil {
			t.Error("a failure scenario succeeded")
			continue
		}
		seen += "\n" + err.Error()
		if !errors.Is(err, ports.ErrNotFound) && !errors.Is(err, ports.ErrUnavailable) &&
			!errors.Is(err, ports.ErrProtocol) && !errors.Is(err, ports.ErrPhotoRefused) {
			t.Errorf("untyped error: %v", err)
		}
	}
	// Times and durations are the machine's, not a person's: "duration=1.461906ms" must not
	// count as the employee number 1906.
	lower := strings.ToLower(clockValues.ReplaceAllString(seen, "$1=…"))
	for _, p := range append(personal, strings.ToLower(scimtest.Token), "wrong") {
		if strings.Contains(lower, strings.ToLower(p)) {
			t.Errorf("%q appears in an error or a log:\n%s", p, seen)
		}
	}
}

// clockValues are the time and duration values of a log line.
var clockValues = regexp.MustCompile(`\b(time|duration|elapsed|latency)=\S+`)
