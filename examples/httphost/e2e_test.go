package main

// An end-to-end run of the example host against real peers, the adapters' own test peers: a
// SCIM service (elimity-com/scim, package scimtest) with the enterprise extension and photos on
// its own origin, an SMTP relay (emersion/go-smtp, package smtptest) and an OpenID provider
// (zitadel/oidc's op package, package oidctest) that issues the callers' access tokens. The
// bureau is the host's in-process fake, whose recorded orders the test reads.

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/matryer/is"

	"github.com/cardsaddon/extprod/adapters/gocards/gocardsfake"
	"github.com/cardsaddon/extprod/adapters/httpapi"
	"github.com/cardsaddon/extprod/adapters/oidc/oidctest"
	"github.com/cardsaddon/extprod/adapters/scim/scimtest"
	"github.com/cardsaddon/extprod/adapters/smtp/smtptest"
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
	dir := scimtest.New(t)
	dir.SetPhoto("/photos/grace.png", photo)
	userID := dir.Create(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
		"userName":"grace@corp.example","active":true,
		"name":{"givenName":"Grace","familyName":"Brewster"},
		"emails":[{"value":"grace.b@corp.example","type":"work","primary":true}],
		"addresses":[{"type":"work","primary":true,"streetAddress":"1 Harbour Road","locality":"Arlington","postalCode":"22201","country":"US"}],
		"photos":[{"value":"` + dir.Origin + `/photos/grace.png","type":"photo","primary":true}],
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"costCenter":"CC-4711","organization":"Navy","department":"Research"}}`)

	relay := startRelay(t)
	idp := oidctest.New(t)
	selfToken := idp.Issue(t, userID, map[string]any{"roles": []string{"selfservice"}})
	approverToken := idp.Issue(t, "approver-1", map[string]any{"roles": []string{"approver"}})
	adminToken := idp.Issue(t, "admin-1", map[string]any{"roles": []string{"admin"}})

	script := filepath.Join(t.TempDir(), "options.js")
	is.NoErr(os.WriteFile(script, []byte(e2eScript), 0o600))

	s, stop := startStoppable(t, hooks{}, "-dispatch-interval", "0", "-metrics", "-script", script,
		"-scim-url", dir.BaseURL(), "-scim-token", scimtest.Token,
		"-smtp-addr", relay.Addr, "-smtp-from", "cards@example.org", "-smtp-tls", "none", "-approvers", "approvers@example.org",
		"-oidc-issuer", idp.Issuer, "-oidc-audience", oidctest.Audience)
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
	is.Equal(dir.PhotoFetches(), 1)

	// The "card ordered" mail arrives; once the host has stopped, no second one came.
	wait, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var mails []smtptest.Mail
	for arrived := false; !arrived; {
		select {
		case m := <-relay.Got:
			mails = append(mails, m)
			arrived = slicesEqual(m.Rcpts, []string{"grace.b@corp.example"}) && strings.Contains(string(m.Data), "Your card has been ordered")
		case <-wait.Done():
			t.Fatal("no \"card ordered\" mail reached the relay")
		}
	}
	is.NoErr(stop())
	for _, pii := range []string{"Grace", "Brewster", "grace.b@corp.example", "grace@corp.example", "Harbour"} {
		is.True(!strings.Contains(s.logs.String(), pii)) // no personal data in the host's logs
	}
	ordered, approval := 0, 0
	for _, m := range append(mails, relay.Delivered()...) { // the host has stopped: all it sent
		switch {
		case slicesEqual(m.Rcpts, []string{"grace.b@corp.example"}) && strings.Contains(string(m.Data), "Your card has been ordered"):
			ordered++
			is.True(strings.Contains(string(m.Data), c.ID)) // the mail is about this card
		case slicesEqual(m.Rcpts, []string{"approvers@example.org"}):
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
	return s.metric("extprod_queue_depth", "")
}

// metric scrapes the host's /metrics (Prometheus text) and returns the value of the series named
// name whose labels contain label (any series of the name when label is ""); the test fails if
// the scrape lacks it.
func (s *started) metric(name, label string) float64 {
	s.t.Helper()
	r := s.call("GET", "/metrics", "", "")
	r.want(s.t, 200)
	for line := range strings.SplitSeq(string(r.body), "\n") {
		series, rest, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		if series != name && !strings.HasPrefix(series, name+"{") || !strings.Contains(series, label) {
			continue
		}
		v, err := strconv.ParseFloat(strings.Fields(rest)[0], 64)
		if err != nil {
			s.t.Fatalf("%s: %q: %v", name, line, err)
		}
		return v
	}
	s.t.Fatalf("/metrics has no %s with %s:\n%s", name, label, r.body)
	return 0
}

// TestFailedLoginCountedOnce: a request whose credentials are refused counts once in
// extprod.auth.failures (the HTTP API reports it to the Observer; the host does not count it
// again).
func TestFailedLoginCountedOnce(t *testing.T) {
	is := is.New(t)
	s := start(t, "-dispatch-interval", "0", "-metrics")
	s.call("POST", "/v1/users/u1/card-orders", "not-a-token", "").want(t, 401)
	is.Equal(s.metric("extprod_auth_failures_total", `error_type="unauthenticated"`), 1.0)
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

// startRelay runs the adapters' test relay without TLS, as the host's "-smtp-tls none" wants it.
func startRelay(t *testing.T) *smtptest.Relay {
	t.Helper()
	r := &smtptest.Relay{NoTLS: true, Got: make(chan smtptest.Mail, 64)}
	r.Start(t, smtptest.PKI{}, "127.0.0.1:0")
	return r
}
