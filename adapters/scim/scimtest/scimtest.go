// Package scimtest runs a real SCIM 2.0 service for tests: elimity-com/scim's server with the
// core User schema and the enterprise extension, over users held in memory, behind a
// bearer-token check, with photos on the same origin. Users are provisioned through the SCIM
// API itself, so the server validates every write as a real directory would.
//
// It is for tests only, the scim adapter's and a host's end-to-end tests: nothing in it is fit
// for production, and no production code should import it.
package scimtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	elimity "github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
)

// Token is the bearer token the service accepts.
const Token = "test-token-5f1c"

// Service is a running SCIM service: the SCIM API under Origin + "/scim" (the root is
// [Service.BaseURL]) and photos under Origin + "/photos/", which must be fetched without
// credentials.
type Service struct {
	// Origin is scheme://host[:port] of the service.
	Origin string
	// Client reaches the service, over the network or in process.
	Client *http.Client
	// Mux serves the origin; a test may add handlers of its own to it before the first request.
	Mux *http.ServeMux

	t        testing.TB
	requests atomic.Int64 // SCIM requests that passed the token check

	mu           sync.Mutex
	photos       map[string][]byte // by path
	photoFetches int
}

// New starts a service on a loopback port until the test ends.
func New(t testing.TB) *Service {
	t.Helper()
	s := newService(t)
	srv := httptest.NewServer(s.Mux)
	t.Cleanup(srv.Close)
	s.Origin = srv.URL
	s.Client = srv.Client()
	return s
}

// NewInProcess is the same service without a network, at the origin http://scim.test: its
// Client calls the handler directly, in the calling goroutine, so it runs inside a
// testing/synctest bubble, where time is fake.
func NewInProcess(t testing.TB) *Service {
	t.Helper()
	s := newService(t)
	s.Origin = "http://scim.test"
	s.Client = &http.Client{Transport: handlerTransport{s.Mux}}
	return s
}

// BaseURL is the SCIM root, Origin + "/scim/v2".
func (s *Service) BaseURL() string { return s.Origin + "/scim/v2" }

// Requests counts the SCIM requests that passed the token check.
func (s *Service) Requests() int64 { return s.requests.Load() }

// SetPhoto serves data (as application/octet-stream) at path, which starts with "/photos/".
func (s *Service) SetPhoto(path string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.photos[path] = data
}

// PhotoFetches counts the requests under /photos/, found or not.
func (s *Service) PhotoFetches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.photoFetches
}

// Create provisions a user the way a provisioning client would: POST /Users, validated by the
// server against the core User schema and the enterprise extension. It returns the new id.
func (s *Service) Create(resource string) string {
	s.t.Helper()
	body := s.do(http.MethodPost, "/Users", resource, http.StatusCreated)
	var out struct{ ID string }
	if err := json.Unmarshal(body, &out); err != nil {
		s.t.Fatal(err)
	}
	return out.ID
}

// Replace replaces a user: PUT /Users/{id}.
func (s *Service) Replace(id, resource string) {
	s.t.Helper()
	s.do(http.MethodPut, "/Users/"+id, resource, http.StatusOK)
}

// Delete removes a user: DELETE /Users/{id}.
func (s *Service) Delete(id string) {
	s.t.Helper()
	s.do(http.MethodDelete, "/Users/"+id, "", http.StatusNoContent)
}

// do sends a SCIM request with the token and fails the test unless the answer has status want.
func (s *Service) do(method, path, body string, want int) []byte {
	s.t.Helper()
	req, err := http.NewRequest(method, s.BaseURL()+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+Token)
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := s.Client.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	if resp.StatusCode != want {
		s.t.Fatalf("%s %s: status %d: %s", method, path, resp.StatusCode, b)
	}
	return b
}

func newService(t testing.TB) *Service {
	t.Helper()
	h := &userHandler{users: map[string]elimity.ResourceAttributes{}}
	server, err := elimity.NewServer(&elimity.ServerArgs{
		ServiceProviderConfig: &elimity.ServiceProviderConfig{
			SupportFiltering: true,
			AuthenticationSchemes: []elimity.AuthenticationScheme{{
				Type: elimity.AuthenticationTypeOauthBearerToken, Name: "OAuth Bearer Token",
				Description: "Authentication scheme using the OAuth Bearer Token Standard", Primary: true,
			}},
		},
		ResourceTypes: []elimity.ResourceType{{
			ID:          optional.NewString("User"),
			Name:        "User",
			Endpoint:    "/Users",
			Description: optional.NewString("User Account"),
			Schema:      schema.CoreUserSchema(),
			SchemaExtensions: []elimity.SchemaExtension{
				{Schema: schema.ExtensionEnterpriseUser()},
			},
			Handler: h,
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	s := &Service{Mux: http.NewServeMux(), t: t, photos: map[string][]byte{}}
	s.Mux.Handle("/scim/", http.StripPrefix("/scim", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+Token {
			w.Header().Set("Content-Type", "application/scim+json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"401"}`))
			return
		}
		s.requests.Add(1)
		server.ServeHTTP(w, r)
	})))
	s.Mux.HandleFunc("/photos/", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			t.Errorf("the photo request carries credentials")
		}
		s.mu.Lock()
		s.photoFetches++
		p, ok := s.photos[r.URL.Path]
		s.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(p)
	})
	return s
}

// handlerTransport serves a request with a handler in the calling goroutine.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	resp := rec.Result()
	resp.Request = r
	return resp, nil
}

// userHandler is an in-memory elimity ResourceHandler for Users: what a host's SCIM service
// would do, with the library's own schema validation on every write.
type userHandler struct {
	mu    sync.Mutex
	next  int
	users map[string]elimity.ResourceAttributes
}

func (h *userHandler) Create(_ *http.Request, attrs elimity.ResourceAttributes) (elimity.Resource, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.next++
	id := fmt.Sprintf("2819c223-7f76-453a-919d-%012d", h.next)
	h.users[id] = attrs
	return elimity.Resource{ID: id, Attributes: attrs}, nil
}

func (h *userHandler) Get(_ *http.Request, id string) (elimity.Resource, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	attrs, ok := h.users[id]
	if !ok {
		return elimity.Resource{}, scimerrors.ScimErrorResourceNotFound(id)
	}
	return elimity.Resource{ID: id, Attributes: attrs}, nil
}

func (h *userHandler) GetAll(_ *http.Request, p elimity.ListRequestParams) (elimity.Page, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var match []elimity.Resource
	for id, attrs := range h.users {
		if p.FilterValidator != nil {
			withID := map[string]any{"id": id}
			for k, v := range attrs {
				withID[k] = v
				// The validator finds an extension's attribute under "<schema URN>:<name>".
				if ext, ok := v.(map[string]any); ok && strings.HasPrefix(k, "urn:") {
					for name, ev := range ext {
						withID[k+":"+name] = ev
					}
				}
			}
			if p.FilterValidator.PassesFilter(withID) != nil {
				continue
			}
		}
		match = append(match, elimity.Resource{ID: id, Attributes: attrs})
	}
	page := elimity.Page{TotalResults: len(match), Resources: []elimity.Resource{}}
	start := max(p.StartIndex, 1) - 1
	for i := start; i < len(match) && len(page.Resources) < p.Count; i++ {
		page.Resources = append(page.Resources, match[i])
	}
	return page, nil
}

func (h *userHandler) Replace(_ *http.Request, id string, attrs elimity.ResourceAttributes) (elimity.Resource, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.users[id]; !ok {
		return elimity.Resource{}, scimerrors.ScimErrorResourceNotFound(id)
	}
	h.users[id] = attrs
	return elimity.Resource{ID: id, Attributes: attrs}, nil
}

func (h *userHandler) Delete(_ *http.Request, id string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.users[id]; !ok {
		return scimerrors.ScimErrorResourceNotFound(id)
	}
	delete(h.users, id)
	return nil
}

func (h *userHandler) Patch(*http.Request, string, []elimity.PatchOperation) (elimity.Resource, error) {
	return elimity.Resource{}, scimerrors.ScimError{Status: http.StatusNotImplemented}
}
