package main

// An end-to-end run of the example host against real peers: a SCIM service (elimity-com/scim)
// with the enterprise extension and photos on its own origin, an SMTP relay (emersion/go-smtp)
// and an OpenID provider (zitadel/oidc's op package) that issues the callers' access tokens.
// The bureau is the host's in-process fake, whose recorded orders the test reads.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	elimity "github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
	gosmtp "github.com/emersion/go-smtp"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"
	"github.com/matryer/is"
	"github.com/zitadel/oidc/v3/example/server/storage"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
	zop "github.com/zitadel/oidc/v3/pkg/op"

	"github.com/cardsaddon/extprod/adapters/gocards/gocardsfake"
	"github.com/cardsaddon/extprod/adapters/httpapi"
	"github.com/cardsaddon/extprod/ports"
)

// e2eScript is the demo's options with the approval step on for self-service orders.
const e2eScript = `var options = {
  enabled: true,
  approvalStep: false,
  productionTypes: [{ id: "standard", layoutId: "L-100", label: "Standard card" }],
  defaultProductionType: "standard",
  selectProductionType: false,
  queueCards: true,
  allowMultipleCardOrders: false,
  sendCardOrderedEmail: true
};
function resolve(ctx) {
  if (ctx.channel === "selfservice") {
    return Object.assign({}, options, { approvalStep: true });
  }
  return options;
}
`

// TestEndToEnd: a self-service user signed in at the OpenID provider orders a card; an approver
// approves it; the dispatcher orders it at the bureau with the SCIM directory's photo, work
// address and cost centre; the "card ordered" mail reaches the user's address exactly once.
func TestEndToEnd(t *testing.T) {
	is := is.New(t)

	photo := testPNG(t)
	dir := newSCIMService(t, photo)
	userID := dir.create(t, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
		"userName":"grace@corp.example","active":true,
		"name":{"givenName":"Grace","familyName":"Brewster"},
		"emails":[{"value":"grace.b@corp.example","type":"work","primary":true}],
		"addresses":[{"type":"work","primary":true,"streetAddress":"1 Harbour Road","locality":"Arlington","postalCode":"22201","country":"US"}],
		"photos":[{"value":"`+dir.origin+`/photos/grace.png","type":"photo","primary":true}],
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"costCenter":"CC-4711","organization":"Navy","department":"Research"}}`)

	relay := newMailRelay(t)
	idp := newIdentityProvider(t)
	selfToken := idp.issue(t, userID, []string{"selfservice"})
	approverToken := idp.issue(t, "approver-1", []string{"approver"})
	adminToken := idp.issue(t, "admin-1", []string{"admin"})

	script := filepath.Join(t.TempDir(), "options.js")
	is.NoErr(os.WriteFile(script, []byte(e2eScript), 0o600))

	s, stop := startStoppable(t, hooks{}, "-dispatch-interval", "0", "-metrics", "-script", script,
		"-scim-url", dir.origin+"/scim/v2", "-scim-token", scimToken,
		"-smtp-addr", relay.addr, "-smtp-from", "cards@example.org", "-smtp-tls", "none", "-approvers", "approvers@example.org",
		"-oidc-issuer", idp.issuer, "-oidc-audience", e2eAudience)
	t.Cleanup(func() { _ = stop() })
	for _, want := range []string{"users=scim", "mail=smtp", "auth=oidc"} {
		is.True(strings.Contains(s.logs.String(), want))
	}

	// The self-service user orders; the order waits for approval.
	var c httpapi.Card
	s.call("POST", "/v1/users/"+userID+"/card-orders", selfToken, "").want(t, 201, &c)
	is.Equal(c.State, ports.StateRequested)
	s.call("POST", "/v1/cards/"+c.ID+"/approve", approverToken, "").want(t, 200, &c)
	is.Equal(c.ApprovedBy, "approver-1")
	is.Equal(c.State, ports.StateProcessing) // queued for the dispatcher

	is.Equal(s.queueDepth(), 1.0) // /metrics sees the queued card

	// The dispatcher orders it at the bureau.
	var d struct{ Ordered, Failed, Remaining int }
	s.call("POST", "/v1/dispatch", adminToken, `{"max": 10}`).want(t, 200, &d)
	is.Equal(d.Ordered, 1)
	is.Equal(d.Remaining, 0)
	is.Equal(s.queueDepth(), 0.0)
	s.call("GET", "/v1/cards/"+c.ID, selfToken, "").want(t, 200, &c)
	is.Equal(c.State, ports.StateOrdered)
	o, ok := s.h.fake.Order(c.ProviderOrderID)
	is.True(ok)
	is.Equal(o.ExternalReference, c.ID)
	is.True(bytes.Equal(o.Photo, photo)) // the photo's bytes from the directory's origin
	is.Equal(o.CostCentre, "CC-4711")
	if diff := cmp.Diff(&gocardsfake.Address{Recipient: "Grace Brewster", AddressOne: "1 Harbour Road",
		PostalCode: "22201", City: "Arlington", CountryCode: "US"}, o.DeliveryAddress); diff != "" {
		t.Errorf("delivery address (-want +got):\n%s", diff)
	}
	is.Equal(dir.photoFetches(), 1)

	// The "card ordered" mail arrives; once the host has stopped, no second one came.
	wait, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	for arrived := false; !arrived; {
		select {
		case m := <-relay.mails:
			arrived = slicesEqual(m.rcpt, []string{"grace.b@corp.example"}) && strings.Contains(m.data, "Your card has been ordered")
		case <-wait.Done():
			t.Fatal("no \"card ordered\" mail reached the relay")
		}
	}
	is.NoErr(stop())
	for _, pii := range []string{"Grace", "Brewster", "grace.b@corp.example", "grace@corp.example", "Harbour"} {
		is.True(!strings.Contains(s.logs.String(), pii)) // no personal data in the host's logs
	}
	relay.close()
	ordered, approval := 0, 0
	for _, m := range relay.all() {
		switch {
		case slicesEqual(m.rcpt, []string{"grace.b@corp.example"}) && strings.Contains(m.data, "Your card has been ordered"):
			ordered++
			is.True(strings.Contains(m.data, c.ID)) // the mail is about this card
		case slicesEqual(m.rcpt, []string{"approvers@example.org"}):
			approval++
		}
	}
	is.Equal(ordered, 1)
	is.Equal(approval, 1)
}

// TestQueueDepthMetric scrapes /metrics while cards wait for the dispatcher (which is off) and
// again after POST /v1/dispatch: the queue-depth gauge counts the queued cards, then falls to 0.
func TestQueueDepthMetric(t *testing.T) {
	is := is.New(t)
	s := start(t, "-dispatch-interval", "0", "-metrics")
	is.Equal(s.queueDepth(), 0.0)
	for _, u := range []string{"u1", "u2"} {
		s.call("POST", "/v1/users/"+u+"/card-orders", op, "").want(t, 201)
	}
	s.call("POST", "/v1/users/u4/card-orders", op, "").want(t, 201) // Finance: waits for approval, not queued
	is.Equal(s.queueDepth(), 2.0)

	var d struct{ Ordered, Failed, Remaining int }
	s.call("POST", "/v1/dispatch", admin, `{"max": 10}`).want(t, 200, &d)
	is.Equal(d.Ordered, 2)
	is.Equal(s.queueDepth(), 0.0)
}

// queueDepth scrapes the host's /metrics (Prometheus text) and returns the extprod.queue.depth
// gauge (docs of adapters/otel); the test fails if the scrape lacks it.
func (s *started) queueDepth() float64 {
	s.t.Helper()
	r := s.call("GET", "/metrics", "", "")
	r.want(s.t, 200)
	for line := range strings.SplitSeq(string(r.body), "\n") {
		name, rest, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		if name != "extprod_queue_depth" && !strings.HasPrefix(name, "extprod_queue_depth{") {
			continue
		}
		v, err := strconv.ParseFloat(strings.Fields(rest)[0], 64)
		if err != nil {
			s.t.Fatalf("extprod_queue_depth: %q: %v", line, err)
		}
		return v
	}
	s.t.Fatalf("/metrics has no extprod_queue_depth:\n%s", r.body)
	return 0
}

func slicesEqual(a, b []string) bool { return cmp.Equal(a, b) }

// testPNG is a small real PNG.
func testPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for x := range 8 {
		for y := range 8 {
			img.Set(x, y, color.RGBA{uint8(x * 30), uint8(y * 30), 200, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// scimToken is the bearer token the test's SCIM service accepts.
const scimToken = "e2e-scim-token"

// scimService is a running SCIM service: elimity's server behind a bearer-token check, with a
// photo under /photos/ on the same origin.
type scimService struct {
	origin  string
	mu      sync.Mutex
	fetches int
}

func (d *scimService) photoFetches() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.fetches
}

func newSCIMService(t *testing.T, photo []byte) *scimService {
	t.Helper()
	h := &scimUsers{users: map[string]elimity.ResourceAttributes{}}
	server, err := elimity.NewServer(&elimity.ServerArgs{
		ServiceProviderConfig: &elimity.ServiceProviderConfig{
			SupportFiltering: true,
			AuthenticationSchemes: []elimity.AuthenticationScheme{{
				Type: elimity.AuthenticationTypeOauthBearerToken, Name: "OAuth Bearer Token",
				Description: "Authentication scheme using the OAuth Bearer Token Standard", Primary: true,
			}},
		},
		ResourceTypes: []elimity.ResourceType{{
			ID: optional.NewString("User"), Name: "User", Endpoint: "/Users",
			Description: optional.NewString("User Account"), Schema: schema.CoreUserSchema(),
			SchemaExtensions: []elimity.SchemaExtension{{Schema: schema.ExtensionEnterpriseUser()}},
			Handler:          h,
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	d := &scimService{}
	mux := http.NewServeMux()
	mux.Handle("/scim/", http.StripPrefix("/scim", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+scimToken {
			w.Header().Set("Content-Type", "application/scim+json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"401"}`))
			return
		}
		server.ServeHTTP(w, r)
	})))
	mux.HandleFunc("GET /photos/grace.png", func(w http.ResponseWriter, r *http.Request) {
		d.mu.Lock()
		d.fetches++
		d.mu.Unlock()
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(photo)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	d.origin = srv.URL
	return d
}

// create provisions a user through POST /Users (validated by elimity against the core schema and
// the enterprise extension) and returns its id.
func (d *scimService) create(t *testing.T, resource string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, d.origin+"/scim/v2/Users", strings.NewReader(resource))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+scimToken)
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create user: %d %s", resp.StatusCode, body)
	}
	var out struct{ ID string }
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	return out.ID
}

// scimUsers is an in-memory elimity ResourceHandler for Users.
type scimUsers struct {
	mu    sync.Mutex
	next  int
	users map[string]elimity.ResourceAttributes
}

func (h *scimUsers) Create(_ *http.Request, attrs elimity.ResourceAttributes) (elimity.Resource, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.next++
	id := fmt.Sprintf("e2e-user-%d", h.next)
	h.users[id] = attrs
	return elimity.Resource{ID: id, Attributes: attrs}, nil
}

func (h *scimUsers) Get(_ *http.Request, id string) (elimity.Resource, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	attrs, ok := h.users[id]
	if !ok {
		return elimity.Resource{}, scimerrors.ScimErrorResourceNotFound(id)
	}
	return elimity.Resource{ID: id, Attributes: attrs}, nil
}

func (h *scimUsers) GetAll(_ *http.Request, p elimity.ListRequestParams) (elimity.Page, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	page := elimity.Page{Resources: []elimity.Resource{}}
	for id, attrs := range h.users {
		if p.FilterValidator != nil && p.FilterValidator.PassesFilter(map[string]any(attrs)) != nil {
			continue
		}
		page.Resources = append(page.Resources, elimity.Resource{ID: id, Attributes: attrs})
	}
	page.TotalResults = len(page.Resources)
	return page, nil
}

func (h *scimUsers) Replace(*http.Request, string, elimity.ResourceAttributes) (elimity.Resource, error) {
	return elimity.Resource{}, scimerrors.ScimError{Status: http.StatusNotImplemented}
}

func (h *scimUsers) Delete(*http.Request, string) error {
	return scimerrors.ScimError{Status: http.StatusNotImplemented}
}

func (h *scimUsers) Patch(*http.Request, string, []elimity.PatchOperation) (elimity.Resource, error) {
	return elimity.Resource{}, scimerrors.ScimError{Status: http.StatusNotImplemented}
}

// mailRelay is a go-smtp server on loopback without TLS that accepts every mail.
type mailRelay struct {
	addr   string
	server *gosmtp.Server
	mails  chan mail // every mail, as it arrives (buffered)
	mu     sync.Mutex
	got    []mail
	closed bool
}

func newMailRelay(t *testing.T) *mailRelay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &mailRelay{addr: ln.Addr().String(), mails: make(chan mail, 64)}
	r.server = gosmtp.NewServer(gosmtp.BackendFunc(func(*gosmtp.Conn) (gosmtp.Session, error) {
		return &relaySession{r: r}, nil
	}))
	r.server.Domain = "relay.test"
	r.server.ErrorLog = log.New(io.Discard, "", 0)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = r.server.Serve(ln)
	}()
	t.Cleanup(func() { r.close(); <-done })
	return r
}

// close stops the relay; the mails it got stay readable through all.
func (r *mailRelay) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		r.closed = true
		_ = r.server.Close()
	}
}

func (r *mailRelay) all() []mail {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]mail(nil), r.got...)
}

type relaySession struct {
	r    *mailRelay
	rcpt []string
}

func (s *relaySession) Mail(string, *gosmtp.MailOptions) error { return nil }
func (s *relaySession) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	s.rcpt = append(s.rcpt, to)
	return nil
}
func (s *relaySession) Data(rd io.Reader) error {
	b, err := io.ReadAll(rd)
	if err != nil {
		return err
	}
	m := mail{rcpt: s.rcpt, data: string(b)}
	s.r.mu.Lock()
	s.r.got = append(s.r.got, m)
	s.r.mu.Unlock()
	select {
	case s.r.mails <- m:
	default:
	}
	return nil
}
func (s *relaySession) Reset()        { s.rcpt = nil }
func (s *relaySession) Logout() error { return nil }

// e2eAudience is the audience of the access tokens the provider issues for the host.
const e2eAudience = "extprod-api"

// identityProvider is zitadel's OpenID provider over its example storage, with client-credentials
// clients whose access tokens are JWTs carrying a roles claim; a client's id is its subject.
type identityProvider struct {
	issuer string
	store  *idpStorage
	client *http.Client
}

func newIdentityProvider(t *testing.T) *identityProvider {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	issuer := "http://" + srv.Listener.Addr().String()
	store := &idpStorage{
		Storage: storage.NewStorage(storage.NewUserStore(issuer)),
		key:     &idpKey{id: "key-1", key: key},
		clients: map[string]*idpClient{},
	}
	var cryptoKey [32]byte
	if _, err := rand.Read(cryptoKey[:]); err != nil {
		t.Fatal(err)
	}
	p, err := zop.NewProvider(&zop.Config{CryptoKey: cryptoKey}, store, zop.StaticIssuer(issuer), zop.WithAllowInsecure())
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = p
	srv.Start()
	t.Cleanup(srv.Close)
	return &identityProvider{issuer: issuer, store: store, client: srv.Client()}
}

// issue registers a client id with roles and has the provider issue it an access token.
func (p *identityProvider) issue(t *testing.T, id string, roles []string) string {
	t.Helper()
	c := &idpClient{id: id, secret: "secret-" + id, roles: roles}
	p.store.mu.Lock()
	p.store.clients[id] = c
	p.store.mu.Unlock()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"openid"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.issuer+"/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(c.id), url.QueryEscape(c.secret))
	resp, err := p.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || strings.Count(body.AccessToken, ".") != 2 {
		t.Fatalf("token endpoint: %s %s: no JWT access token", resp.Status, body.Error)
	}
	return body.AccessToken
}

type idpKey struct {
	id  string
	key *rsa.PrivateKey
}

func (k *idpKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k *idpKey) Key() any                                    { return k.key }
func (k *idpKey) ID() string                                  { return k.id }

type idpPublicKey struct{ k *idpKey }

func (p idpPublicKey) ID() string                         { return p.k.id }
func (p idpPublicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (p idpPublicKey) Use() string                        { return "sig" }
func (p idpPublicKey) Key() any                           { return &p.k.key.PublicKey }

type idpClient struct {
	id, secret string
	roles      []string
}

func (c *idpClient) GetID() string                        { return c.id }
func (c *idpClient) RedirectURIs() []string               { return nil }
func (c *idpClient) PostLogoutRedirectURIs() []string     { return nil }
func (c *idpClient) ApplicationType() zop.ApplicationType { return zop.ApplicationTypeWeb }
func (c *idpClient) AuthMethod() zoidc.AuthMethod         { return zoidc.AuthMethodBasic }
func (c *idpClient) ResponseTypes() []zoidc.ResponseType  { return nil }
func (c *idpClient) LoginURL(string) string               { return "" }
func (c *idpClient) AccessTokenType() zop.AccessTokenType { return zop.AccessTokenTypeJWT }
func (c *idpClient) IDTokenLifetime() time.Duration       { return time.Hour }
func (c *idpClient) DevMode() bool                        { return false }
func (c *idpClient) IsScopeAllowed(string) bool           { return true }
func (c *idpClient) IDTokenUserinfoClaimsAssertion() bool { return false }
func (c *idpClient) ClockSkew() time.Duration             { return 0 }
func (c *idpClient) GrantTypes() []zoidc.GrantType {
	return []zoidc.GrantType{zoidc.GrantTypeClientCredentials}
}
func (c *idpClient) RestrictAdditionalIdTokenScopes() func([]string) []string     { return keepAll }
func (c *idpClient) RestrictAdditionalAccessTokenScopes() func([]string) []string { return keepAll }

func keepAll(s []string) []string { return s }

type idpTokenRequest struct {
	client *idpClient
	scopes []string
}

func (r *idpTokenRequest) GetSubject() string    { return r.client.id }
func (r *idpTokenRequest) GetAudience() []string { return []string{e2eAudience} }
func (r *idpTokenRequest) GetScopes() []string   { return r.scopes }

// idpStorage is the example storage with the test's clients and signing key.
type idpStorage struct {
	*storage.Storage
	key     *idpKey
	mu      sync.Mutex
	clients map[string]*idpClient
	ids     int
}

func (s *idpStorage) SigningKey(context.Context) (zop.SigningKey, error) { return s.key, nil }
func (s *idpStorage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}
func (s *idpStorage) KeySet(context.Context) ([]zop.Key, error) {
	return []zop.Key{idpPublicKey{s.key}}, nil
}

func (s *idpStorage) ClientCredentials(_ context.Context, id, secret string) (zop.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	if !ok || c.secret != secret {
		return nil, errors.New("wrong client or secret")
	}
	return c, nil
}

func (s *idpStorage) ClientCredentialsTokenRequest(_ context.Context, id string, scopes []string) (zop.TokenRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	if !ok {
		return nil, errors.New("wrong client")
	}
	return &idpTokenRequest{client: c, scopes: scopes}, nil
}

func (s *idpStorage) CreateAccessToken(_ context.Context, req zop.TokenRequest) (string, time.Time, error) {
	if _, ok := req.(*idpTokenRequest); !ok {
		return "", time.Time{}, errors.New("only client credentials here")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ids++
	return "at-" + strconv.Itoa(s.ids), time.Now().Add(time.Hour), nil
}

func (s *idpStorage) GetPrivateClaimsFromScopes(_ context.Context, _, clientID string, _ []string) (map[string]any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[clientID]
	if !ok {
		return nil, nil
	}
	return map[string]any{"roles": c.roles}, nil
}
