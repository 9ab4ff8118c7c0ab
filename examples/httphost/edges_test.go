package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/matryer/is"

	"github.com/cardsaddon/extprod/adapters/httpapi"
	"github.com/cardsaddon/extprod/ports"
)

// Secrets and the store come from the environment when their flag is empty; a flag wins.
func TestFlagsFromEnvironment(t *testing.T) {
	is := is.New(t)
	env := map[string]string{
		envStore: "postgres://app:env-pw@db.example/cards", envGocardsSecret: "env-cs", envEventsSecret: "env-es",
		envSCIMToken: "env-scim", envSMTPPassword: "env-smtp",
	}
	f, err := parseFlags([]string{"-gocards-url", "http://b.example", "-gocards-client-id", "id", "-gocards-org", "o",
		"-scim-url", "http://dir.example", "-smtp-addr", "mail.example", "-smtp-from", "a@example.org", "-smtp-user", "u",
		"-gocards-events-secret", "flag-es"}, io.Discard, func(k string) string { return env[k] })
	is.NoErr(err)
	is.Equal(f.store, env[envStore])
	is.Equal(f.gocardsSecret, "env-cs")
	is.Equal(f.eventsSecret, "flag-es") // the flag wins
	is.Equal(f.scimToken, "env-scim")
	is.Equal(f.smtpPassword, "env-smtp")

	// A bureau secret from the environment without -gocards-url is refused like the flag.
	_, err = parseFlags(nil, io.Discard, func(k string) string { return map[string]string{envGocardsSecret: "x"}[k] })
	is.True(err != nil && strings.Contains(err.Error(), "need -gocards-url"))
}

// A store URL's password appears in no log and no error.
func TestStorePasswordRedacted(t *testing.T) {
	is := is.New(t)
	for _, dsn := range []string{
		"postgres://app:hunter2@db.example/cards",
		"postgres://app@db.example/cards?password=hunter2&sslmode=disable",
	} {
		spec, err := parseStore(dsn)
		is.NoErr(err)
		is.True(!strings.Contains(spec.String(), "hunter2"))
		is.True(strings.Contains(spec.String(), "db.example"))
	}
	// A store that cannot be reached: the error names it without the password.
	var out bytes.Buffer
	logs := &watchLog{}
	err := runWith(t.Context(), []string{"-addr", "127.0.0.1:0", "-store", "postgres://app:hunter2@127.0.0.1:1/cards?connect_timeout=2&sslmode=disable"},
		&out, logs, hooks{})
	is.True(err != nil)
	t.Log(err)
	is.True(!strings.Contains(err.Error(), "hunter2"))
	is.True(strings.Contains(err.Error(), "-store"))
	is.True(!strings.Contains(logs.String(), "hunter2"))
	_, err = parseStore("postgres://app:hunter2@[::1")
	is.True(err != nil && !strings.Contains(err.Error(), "hunter2"))
}

// With -scim-url the users come from the SCIM directory (the seed's tokens still apply).
func TestSCIMUsers(t *testing.T) {
	is := is.New(t)
	var sawToken sync.Map
	dir := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sawToken.Store(r.Header.Get("Authorization"), true)
		if r.URL.Path != "/scim/v2/Users/s-1" {
			w.Header().Set("Content-Type", "application/scim+json")
			w.WriteHeader(404)
			fmt.Fprint(w, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"404"}`)
			return
		}
		w.Header().Set("Content-Type", "application/scim+json")
		fmt.Fprint(w, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"s-1","userName":"grace@corp.example",
			"active":true,"name":{"givenName":"Grace","familyName":"Hopper"},"emails":[{"value":"grace@example.com","primary":true}]}`)
	}))
	s := start(t, "-dispatch-interval", "0", "-scim-url", dir+"/scim/v2", "-scim-token", "scim-secret")
	is.True(strings.Contains(s.logs.String(), "users=scim"))
	var c httpapi.Card
	s.call("POST", "/v1/users/s-1/card-orders", op, "").want(t, 201, &c)
	is.Equal(c.UserID, "s-1")
	s.call("POST", "/v1/users/u1/card-orders", op, "").want(t, 404, "user_not_found") // not the seed's users
	_, ok := sawToken.Load("Bearer scim-secret")
	is.True(ok)
	is.True(!strings.Contains(s.logs.String(), "scim-secret"))
}

// With -oidc-issuer the seed's static tokens no longer sign in; a provider that does not answer
// makes sign-in answer auth_unavailable, and the host still starts.
func TestOIDCSignIn(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	is.New(t).NoErr(err)
	issuer := "http://" + ln.Addr().String()
	ln.Close() // nothing answers there
	s := start(t, "-dispatch-interval", "0", "-oidc-issuer", issuer, "-oidc-audience", "cards", "-oidc-roles-claim", "keycloak")
	is.New(t).True(strings.Contains(s.logs.String(), "auth=oidc"))
	s.call("GET", "/v1/cards", op, "").want(t, 503, "auth_unavailable")
}

// With -smtp-addr the notifications go through the relay: the "card ordered" mail reaches the
// user's address.
func TestSMTPMail(t *testing.T) {
	is := is.New(t)
	relay := startRelay(t)
	afterPass, passed := passes()
	s := startWith(t, hooks{afterPass: afterPass}, "-dispatch-interval", "10ms",
		"-smtp-addr", relay.Addr, "-smtp-from", "cards@example.org", "-smtp-tls", "none", "-approvers", "approvers@example.org")
	is.True(strings.Contains(s.logs.String(), "mail=smtp"))
	var c httpapi.Card
	s.call("POST", "/v1/users/u1/card-orders", op, "").want(t, 201, &c)
	s.waitState(c.ID, ports.StateOrdered, passed)
	m := <-relay.Got
	is.Equal(m.Rcpts, []string{"ada@example.com"})
	is.True(strings.Contains(string(m.Data), c.ID))
	// An order that needs approval mails the approvers.
	s.call("POST", "/v1/users/u4/card-orders", op, "").want(t, 201)
	m = <-relay.Got
	is.Equal(m.Rcpts, []string{"approvers@example.org"})
}

// -log-format json writes one JSON object per line, naming the store.
func TestJSONLogs(t *testing.T) {
	is := is.New(t)
	s := start(t, "-dispatch-interval", "0", "-log-format", "json")
	s.call("POST", "/v1/users/u1/card-orders", op, "").want(t, 201)
	serving := false
	for line := range strings.SplitSeq(strings.TrimSpace(s.logs.String()), "\n") {
		var rec map[string]any
		is.NoErr(json.Unmarshal([]byte(line), &rec))
		if rec["msg"] == "serving" {
			serving = true
			is.Equal(rec["store"], "memory")
		}
	}
	is.True(serving)
}
