package scim_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/cardsaddon/extprod/adapters/scim"
	"github.com/cardsaddon/extprod/adapters/scim/scimtest"
	"github.com/cardsaddon/extprod/ports"
)

// rawUser is a valid User resource with id "u1".
const rawUser = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"u1","userName":"x","active":true}`

// fakeDirectory serves what a real SCIM server will not: it answers every request with h.
func fakeDirectory(t *testing.T, h http.HandlerFunc) scim.Config {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return scim.Config{BaseURL: srv.URL + "/scim/v2", Token: scimtest.Token, HTTPClient: srv.Client()}
}

// answer returns a handler that answers with status, content type and body.
func answer(status int, contentType, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

// TestResponses: what the directory answers, and the error it becomes.
func TestResponses(t *testing.T) {
	const scimJSON = "application/scim+json"
	big := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"u1","title":"` + strings.Repeat("x", 2000) + `"}`
	for _, tc := range []struct {
		name     string
		h        http.HandlerFunc
		max      int64
		want     error // nil: success
		status   int   // a *StatusError with this status, when not 0
		wantUser string
	}{
		{name: "ok", h: answer(200, scimJSON, rawUser)},
		{name: "ok as application/json with charset", h: answer(200, "application/json; charset=utf-8", rawUser)},
		{name: "schema URI in another case", h: answer(200, scimJSON, strings.Replace(rawUser, "core:2.0:User", "CORE:2.0:user", 1))},
		{name: "not found", h: answer(404, scimJSON, `{"status":"404"}`), want: ports.ErrNotFound},
		{name: "wrong content type", h: answer(200, "text/html", rawUser), want: ports.ErrProtocol},
		{name: "no content type", h: func(w http.ResponseWriter, _ *http.Request) {
			w.Header()["Content-Type"] = nil
			_, _ = w.Write([]byte(rawUser))
		}, want: ports.ErrProtocol},
		{name: "malformed", h: answer(200, scimJSON, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"u1"`), want: ports.ErrProtocol},
		{name: "not an object", h: answer(200, scimJSON, `["u1"]`), want: ports.ErrProtocol},
		{name: "null", h: answer(200, scimJSON, `null`), want: ports.ErrProtocol},
		{name: "trailing data", h: answer(200, scimJSON, rawUser+`{}`), want: ports.ErrProtocol},
		{name: "active as a string", h: answer(200, scimJSON, strings.Replace(rawUser, `"active":true`, `"active":"true"`, 1)), want: ports.ErrProtocol},
		{name: "emails as an object", h: answer(200, scimJSON, strings.Replace(rawUser, `"active":true`, `"emails":{"value":"x"}`, 1)), want: ports.ErrProtocol},
		{name: "enterprise extension as a string", h: answer(200, scimJSON, strings.Replace(rawUser, `"active":true`, `"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":"x"`, 1)), want: ports.ErrProtocol},
		{name: "no User schema", h: answer(200, scimJSON, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":"u1"}`), want: ports.ErrProtocol},
		{name: "no id", h: answer(200, scimJSON, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"]}`), want: ports.ErrProtocol},
		{name: "another id", h: answer(200, scimJSON, strings.Replace(rawUser, `"u1"`, `"u2"`, 1)), want: ports.ErrProtocol},
		{name: "oversized, announced", h: answer(200, scimJSON, big), max: 1024, want: ports.ErrProtocol},
		{name: "oversized, chunked", h: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", scimJSON)
			for range 4 {
				_, _ = w.Write([]byte(big[:500]))
				w.(http.Flusher).Flush() // no Content-Length
			}
		}, max: 1024, want: ports.ErrProtocol},
		{name: "exactly at the limit", h: answer(200, scimJSON, rawUser), max: int64(len(rawUser))},
		{name: "server error", h: answer(503, scimJSON, `{}`), want: ports.ErrUnavailable, status: 503},
		{name: "too many requests", h: answer(429, "", ``), want: ports.ErrUnavailable, status: 429},
		{name: "forbidden", h: answer(403, scimJSON, `{}`), want: ports.ErrUnavailable, status: 403},
		{name: "bad request", h: answer(400, scimJSON, `{}`), want: ports.ErrProtocol, status: 400},
		{name: "redirect", h: func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://elsewhere.example/Users/u1", http.StatusFound)
		}, want: ports.ErrProtocol, status: 302},
		{name: "created", h: answer(201, scimJSON, rawUser), want: ports.ErrProtocol, status: 201},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			cfg := fakeDirectory(t, tc.h)
			cfg.MaxResponseBytes = tc.max
			u, err := open(t, cfg).User(t.Context(), "u1")
			if tc.want == nil {
				is.NoErr(err)
				is.Equal(u.ID, "u1")
				return
			}
			is.True(errors.Is(err, tc.want)) // the wanted port error
			var se *scim.StatusError
			is.Equal(errors.As(err, &se), tc.status != 0) // a *StatusError when the status decides
			if tc.status != 0 {
				is.Equal(se.Status, tc.status)
			}
		})
	}
}

// TestListResponses: the answers to a filter look-up.
func TestListResponses(t *testing.T) {
	const list = `{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],`
	for _, tc := range []struct {
		name, body string
		want       error
	}{
		{"one", list + `"totalResults":1,"Resources":[` + strings.Replace(rawUser, `"x"`, `"lo\"gin"`, 1) + `]}`, nil},
		{"none", list + `"totalResults":0,"Resources":[]}`, ports.ErrNotFound},
		{"none, no Resources", list + `"totalResults":0}`, ports.ErrNotFound},
		{"two", list + `"totalResults":2,"Resources":[` + rawUser + `,` + rawUser + `]}`, ports.ErrProtocol},
		{"more than announced", list + `"totalResults":1,"Resources":[` + rawUser + `,` + rawUser + `]}`, ports.ErrProtocol},
		{"announced, not sent", list + `"totalResults":1,"Resources":[]}`, ports.ErrProtocol},
		{"no totalResults", list + `"Resources":[]}`, ports.ErrProtocol},
		{"negative totalResults", list + `"totalResults":-1}`, ports.ErrProtocol},
		{"not a list", rawUser, ports.ErrProtocol},
		{"resource not a user", list + `"totalResults":1,"Resources":[{"id":"u1"}]}`, ports.ErrProtocol},
		{"resource not an object", list + `"totalResults":1,"Resources":[1]}`, ports.ErrProtocol},
		{"filter ignored: another user", list + `"totalResults":1,"Resources":[` + rawUser + `]}`, ports.ErrProtocol},
		{"key in another case", list + `"totalResults":1,"Resources":[` + strings.Replace(rawUser, `"x"`, `"LO\"GIN"`, 1) + `]}`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			var gotFilter string
			cfg := fakeDirectory(t, func(w http.ResponseWriter, r *http.Request) {
				gotFilter = r.URL.Query().Get("filter")
				answer(200, "application/scim+json", tc.body)(w, r)
			})
			cfg.KeyAttribute = scim.KeyUserName
			u, err := open(t, cfg).User(t.Context(), `lo"gin`)
			is.Equal(gotFilter, `userName eq "lo\"gin"`) // the id is a quoted, escaped string
			if tc.want == nil {
				is.NoErr(err)
				is.Equal(u.ID, `lo"gin`)
				return
			}
			is.True(errors.Is(err, tc.want)) // the wanted port error
		})
	}
}

// TestKeyMatches: the user a filter look-up returns must carry the key, wherever the key
// attribute lives.
func TestKeyMatches(t *testing.T) {
	const user = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"u1","userName":"x",
		"emails":[{"value":"a@example.com"},{"value":"b@example.com","primary":true}],
		"name":{"givenName":"G"},
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"42"}}`
	for _, tc := range []struct {
		key, id string
		want    error
	}{
		{"emails.value", "b@example.com", nil},
		{"emails.value", "c@example.com", ports.ErrProtocol},
		{"name.givenName", "g", nil},
		{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "42", nil},
		{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "43", ports.ErrProtocol},
		{"externalId", "x", ports.ErrProtocol}, // absent
	} {
		t.Run(tc.key+" "+tc.id, func(t *testing.T) {
			is := is.New(t)
			cfg := fakeDirectory(t, answer(200, "application/scim+json",
				`{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":1,"Resources":[`+user+`]}`))
			cfg.KeyAttribute = tc.key
			_, err := open(t, cfg).User(t.Context(), tc.id)
			if tc.want == nil {
				is.NoErr(err)
				return
			}
			is.True(errors.Is(err, tc.want))
		})
	}
}

// TestBearerToken: every SCIM request carries the token and asks for SCIM JSON.
func TestBearerToken(t *testing.T) {
	is := is.New(t)
	var auth, accept, path string
	cfg := fakeDirectory(t, func(w http.ResponseWriter, r *http.Request) {
		auth, accept, path = r.Header.Get("Authorization"), r.Header.Get("Accept"), r.URL.EscapedPath()
		answer(200, "application/scim+json", strings.Replace(rawUser, `"u1"`, `"a/b c"`, 1))(w, r)
	})
	_, err := open(t, cfg).User(t.Context(), "a/b c")
	is.NoErr(err)
	is.Equal(auth, "Bearer "+scimtest.Token)
	is.True(strings.Contains(accept, "application/scim+json"))
	is.Equal(path, "/scim/v2/Users/a%2Fb%20c") // the id is one path segment
}

// TestSlowDirectory: a directory that does not answer, or stops sending halfway, is
// unavailable after Config.Timeout; the caller's own cancellation ends the call too. Each case
// runs under a watchdog of its own.
func TestSlowDirectory(t *testing.T) {
	const timeout = 100 * time.Millisecond
	arrived := make(chan struct{}, 1) // the request of "caller cancels" reached the directory
	for _, tc := range []struct {
		name    string
		h       func(release <-chan struct{}) http.HandlerFunc
		cancel  bool // the caller cancels instead of the timeout
		wantCtx error
	}{
		{name: "no headers", h: func(release <-chan struct{}) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-r.Context().Done():
				case <-release:
				}
			}
		}, wantCtx: context.DeadlineExceeded},
		{name: "half a body", h: func(release <-chan struct{}) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/scim+json")
				w.Header().Set("Content-Length", strconv.Itoa(len(rawUser)))
				_, _ = w.Write([]byte(rawUser[:10]))
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
				case <-release:
				}
			}
		}, wantCtx: context.DeadlineExceeded},
		{name: "caller cancels", cancel: true, h: func(release <-chan struct{}) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				arrived <- struct{}{}
				select {
				case <-r.Context().Done():
				case <-release:
				}
			}
		}, wantCtx: context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			release := make(chan struct{})
			cfg := fakeDirectory(t, tc.h(release))
			t.Cleanup(func() { close(release) }) // runs before the server's Close
			cfg.Timeout = timeout
			if tc.cancel {
				cfg.Timeout = time.Hour
			}
			dir := open(t, cfg)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var err error
			within(t, 40*timeout, func() {
				if tc.cancel {
					go func() {
						<-arrived // the request is in flight
						cancel()
					}()
				}
				_, err = dir.User(ctx, "u1")
			})
			is.True(errors.Is(err, ports.ErrUnavailable))
			is.True(errors.Is(err, tc.wantCtx)) // the context's error is wrapped
		})
	}
}
