package scim_test

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cardsaddon/extprod/adapters/scim"
	"github.com/cardsaddon/extprod/adapters/scim/scimtest"
)

// The realistic users of the tests, as a provisioning client would send them. Every string a
// person could be recognised by is listed in personal, so the privacy test can look for it.
const (
	adaUserName = "ada.lovelace@example.com"
	adaMembers  = `"userName":"ada.lovelace@example.com",
		"externalId":"E-1815",
		"name":{"formatted":"Ada King, Countess of Lovelace","givenName":"Ada","familyName":"Lovelace"},
		"displayName":"Ada Lovelace",
		"title":"Analyst",
		"active":true,
		"emails":[
			{"value":"ada@home.example","type":"home"},
			{"value":"ada.lovelace@example.com","type":"work","primary":true}],
		"photos":[
			{"value":"ORIGIN/photos/ada-thumb.png","type":"thumbnail"},
			{"value":"ORIGIN/photos/ada.jpg","type":"photo","primary":true}],
		"addresses":[
			{"type":"home","streetAddress":"12 St James's Square","locality":"London","postalCode":"SW1Y 4JH","country":"GB","primary":true},
			{"type":"work","streetAddress":"Analytical Engine Works\nFloor 2","locality":"London","postalCode":"EC1A 1BB","country":"gb"}],
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{
			"employeeNumber":"1815","costCenter":"CC-4711","organization":"Babbage & Co",
			"division":"Engines","department":"Analysis"}`

	graceUserName = "grace.hopper@example.com"
	graceMembers  = `"userName":"grace.hopper@example.com",
		"name":{"givenName":"Grace","familyName":"Hopper"},
		"active":true,
		"emails":[
			{"value":"grace@home.example","type":"home"},
			{"value":"grace.hopper@example.com","type":"work"}],
		"photos":[{"value":"ORIGIN/photos/grace-thumb.png","type":"thumbnail"}],
		"addresses":[{"type":"work","streetAddress":"1 Navy Yard","locality":"Arlington","postalCode":"22202"}],
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{
			"employeeNumber":"1906","costCenter":"CC-4711","department":"Compilers"}`

	linusUserName = "linus@example.com"
	linusMembers  = `"userName":"linus@example.com",
		"name":{"givenName":"Linus","familyName":"Torvalds"},
		"active":false,
		"emails":[{"value":"linus@other.example","type":"other"},{"value":"linus@example.com","type":"work"}],
		"addresses":[{"type":"work","streetAddress":"Kernel Street 1","locality":"Portland","postalCode":"97201","country":"US","primary":true}]`

	margaretUserName = "margaret.hamilton@example.com"
	margaretMembers  = `"userName":"margaret.hamilton@example.com",
		"name":{"givenName":"Margaret","familyName":"Hamilton"},
		"emails":[{"value":"margaret@apollo.example"}],
		"photos":[{"value":"https://cdn.elsewhere.example/margaret.jpg","primary":true}]`
)

// personal lists what must never appear in an error or a log.
var personal = []string{
	"ada", "lovelace", "countess", "E-1815", "1815", "4711", "babbage", "analysis", "analytical", "james",
	"grace", "hopper", "1906", "compilers", "navy", "linus", "torvalds", "kernel", "margaret", "hamilton",
	"apollo", "elsewhere", "photos/",
}

// resource renders a User resource with the given JSON members (a realistic set follows).
func resource(members ...string) string {
	return `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],` +
		strings.Join(members, ",") + `}`
}

// withOrigin puts the service's origin into a fixture's photo URLs.
func withOrigin(d *scimtest.Service, members string) string {
	return strings.ReplaceAll(members, "ORIGIN", d.Origin)
}

// config is a working configuration for d.
func config(d *scimtest.Service) scim.Config {
	return scim.Config{BaseURL: d.BaseURL(), Token: scimtest.Token, HTTPClient: d.Client}
}

// open returns a Directory for cfg, failing the test on an invalid config.
func open(t *testing.T, cfg scim.Config) *scim.Directory {
	t.Helper()
	dir, err := scim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// within fails the test unless f returns before the watchdog d: a test of a limit must end
// even when the limit is broken. d is generous (20× the limit or more).
func within(t *testing.T, d time.Duration, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("still running after the watchdog's %s", d)
	}
}

// logBuffer collects log output at every level; safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// testJPEG and testPNG are small real images.
func testJPEG(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, testImage(), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func testPNG(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, testImage()); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func testImage() image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for i := range 8 {
		img.Set(i, i, color.RGBA{R: 200, A: 255})
	}
	return img
}
