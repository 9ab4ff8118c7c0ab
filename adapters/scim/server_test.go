package scim_test

import (
	"bytes"
	"encoding/json"
	"fmt"
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

// testToken is the bearer token the test directory accepts.
const testToken = "test-token-5f1c"

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

func (h *userHandler) Replace(r *http.Request, id string, attrs elimity.ResourceAttributes) (elimity.Resource, error) {
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

// directory is a running SCIM service: the elimity server behind a bearer-token check, plus
// photos under /photos/ on the same origin.
type directory struct {
	handler  http.Handler
	srv      *httptest.Server // nil in process
	origin   string           // scheme://host[:port]
	client   *http.Client     // reaches the service, over the network or in process
	requests atomic.Int64     // SCIM requests that passed the token check
	photos   map[string][]byte
	t        *testing.T
}

// newDirectory starts a SCIM service on the loopback at <origin>/scim/v2.
func newDirectory(t *testing.T) *directory {
	t.Helper()
	d := newService(t)
	d.srv = httptest.NewServer(d.handler)
	t.Cleanup(d.srv.Close)
	d.origin = d.srv.URL
	d.client = d.srv.Client()
	return d
}

// newInProcessDirectory is the same service without a network: its client calls the handler
// directly, so it runs inside a testing/synctest bubble, where time is fake.
func newInProcessDirectory(t *testing.T) *directory {
	t.Helper()
	d := newService(t)
	d.origin = "http://scim.test"
	d.client = &http.Client{Transport: handlerTransport{d.handler}}
	return d
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

func newService(t *testing.T) *directory {
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
	d := &directory{photos: map[string][]byte{}, t: t}
	mux := http.NewServeMux()
	mux.Handle("/scim/", http.StripPrefix("/scim", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+testToken {
			w.Header().Set("Content-Type", "application/scim+json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"401"}`))
			return
		}
		d.requests.Add(1)
		server.ServeHTTP(w, r)
	})))
	mux.HandleFunc("/photos/", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			t.Errorf("the photo request carries credentials")
		}
		p, ok := d.photos[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(p)
	})
	d.handler = mux
	return d
}

// baseURL is the SCIM root.
func (d *directory) baseURL() string { return d.origin + "/scim/v2" }

// create provisions a user the way a provisioning client would: POST /Users, validated by the
// server against the core User schema and the enterprise extension. It returns the new id.
func (d *directory) create(resource string) string {
	d.t.Helper()
	resp := d.do(http.MethodPost, "/Users", resource)
	if resp.StatusCode != http.StatusCreated {
		d.t.Fatalf("create user: status %d", resp.StatusCode)
	}
	var out struct{ ID string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		d.t.Fatal(err)
	}
	return out.ID
}

// delete removes a user: DELETE /Users/{id}.
func (d *directory) delete(id string) {
	d.t.Helper()
	if resp := d.do(http.MethodDelete, "/Users/"+id, ""); resp.StatusCode != http.StatusNoContent {
		d.t.Fatalf("delete user: status %d", resp.StatusCode)
	}
}

// replace replaces a user: PUT /Users/{id}.
func (d *directory) replace(id, resource string) {
	d.t.Helper()
	if resp := d.do(http.MethodPut, "/Users/"+id, resource); resp.StatusCode != http.StatusOK {
		d.t.Fatalf("replace user: status %d", resp.StatusCode)
	}
}

func (d *directory) do(method, path, body string) *http.Response {
	d.t.Helper()
	req, err := http.NewRequest(method, d.baseURL()+path, bytes.NewBufferString(body))
	if err != nil {
		d.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := d.client.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// resource renders a User resource with the given JSON members (a realistic set follows).
func resource(members ...string) string {
	return `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],` +
		strings.Join(members, ",") + `}`
}
