package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// flags are the command line of docs/http-api.md "The example host".
type flags struct {
	addr, seedFile, scriptFile                                           string
	gocardsURL, gocardsClientID, gocardsSecret, gocardsOrg, eventsSecret string
	dispatchInterval                                                     time.Duration
	store                                                                string

	scimURL, scimToken string

	smtpAddr, smtpFrom, smtpUser, smtpPassword, smtpTLS, approvers string

	oidcIssuer, oidcAudience, oidcRolesClaim string

	metrics     bool
	metricsAddr string
	logFormat   string
}

// The environment variables that stand in for a flag left empty, so no secret (and no store
// password) has to sit on a command line. A flag given wins.
const (
	envStore         = "EXTPROD_STORE"
	envGocardsSecret = "EXTPROD_GOCARDS_CLIENT_SECRET"
	envEventsSecret  = "EXTPROD_GOCARDS_EVENTS_SECRET"
	envSCIMToken     = "EXTPROD_SCIM_TOKEN"
	envSMTPPassword  = "EXTPROD_SMTP_PASSWORD"
)

// parseFlags parses args, fills empty flags from the environment (getenv) and checks the
// combination. Nothing is opened or reached here.
func parseFlags(args []string, stderr io.Writer, getenv func(string) string) (flags, error) {
	var f flags
	fs := flag.NewFlagSet("httphost", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8080", "listen address; 127.0.0.1:0 picks a free port")
	fs.StringVar(&f.seedFile, "seed", "", "seed file of users and tokens (default: the built-in demo seed)")
	fs.StringVar(&f.scriptFile, "script", "", "option script to install when the store holds none (default: the demo script)")
	fs.StringVar(&f.gocardsURL, "gocards-url", "", "GO Cards base URL (default: an in-process fake bureau)")
	fs.StringVar(&f.gocardsClientID, "gocards-client-id", "", "GO Cards client id")
	fs.StringVar(&f.gocardsSecret, "gocards-client-secret", "", "GO Cards client secret (or $"+envGocardsSecret+")")
	fs.StringVar(&f.gocardsOrg, "gocards-org", "", "GO Cards organisation id")
	fs.StringVar(&f.eventsSecret, "gocards-events-secret", "", "shared secret of the bureau's signed status events (or $"+envEventsSecret+")")
	fs.DurationVar(&f.dispatchInterval, "dispatch-interval", 5*time.Second, "background dispatch interval; 0 turns the dispatcher off")
	fs.StringVar(&f.store, "store", "", "memory, sqlite:PATH or a postgres:// URL (or $"+envStore+"); default SQLite in "+defaultDataDir+"/")
	fs.StringVar(&f.scimURL, "scim-url", "", "read users from this SCIM service (base URL) instead of the seed")
	fs.StringVar(&f.scimToken, "scim-token", "", "the SCIM service's bearer token (or $"+envSCIMToken+")")
	fs.StringVar(&f.smtpAddr, "smtp-addr", "", "send mail through this SMTP relay, HOST[:PORT] (default: log what would be sent)")
	fs.StringVar(&f.smtpFrom, "smtp-from", "", "the sender address of the mails")
	fs.StringVar(&f.smtpUser, "smtp-user", "", "the relay's user name (AUTH PLAIN, over TLS only)")
	fs.StringVar(&f.smtpPassword, "smtp-password", "", "the relay's password (or $"+envSMTPPassword+")")
	fs.StringVar(&f.smtpTLS, "smtp-tls", "", "starttls (default), tls or none (a relay on loopback only)")
	fs.StringVar(&f.approvers, "approvers", "", "comma-separated addresses of the approvers")
	fs.StringVar(&f.oidcIssuer, "oidc-issuer", "", "sign in with this OpenID Connect issuer instead of the seed's tokens")
	fs.StringVar(&f.oidcAudience, "oidc-audience", "", "the audience the access tokens must carry")
	fs.StringVar(&f.oidcRolesClaim, "oidc-roles-claim", "", "JSON Pointer to the roles, or keycloak, zitadel, plain (default /roles)")
	fs.BoolVar(&f.metrics, "metrics", false, "serve /metrics in the Prometheus format")
	fs.StringVar(&f.metricsAddr, "metrics-addr", "", "serve /metrics on this address instead of the API's (implies -metrics)")
	fs.StringVar(&f.logFormat, "log-format", "text", "text or json")
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	for _, e := range []struct {
		v   *string
		env string
	}{{&f.store, envStore}, {&f.gocardsSecret, envGocardsSecret}, {&f.eventsSecret, envEventsSecret},
		{&f.scimToken, envSCIMToken}, {&f.smtpPassword, envSMTPPassword}} {
		if *e.v == "" && getenv != nil {
			*e.v = getenv(e.env)
		}
	}
	if fs.NArg() > 0 {
		return f, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if _, err := parseStore(f.store); err != nil {
		return f, err
	}
	switch {
	case f.dispatchInterval < 0:
		return f, errors.New("-dispatch-interval must not be negative")
	case f.gocardsURL != "" && (f.gocardsClientID == "" || f.gocardsSecret == "" || f.gocardsOrg == ""):
		return f, errors.New("-gocards-url needs -gocards-client-id, -gocards-client-secret and -gocards-org")
	case f.gocardsURL == "" && (f.gocardsClientID != "" || f.gocardsSecret != "" || f.gocardsOrg != ""):
		// Without -gocards-url the host talks to its in-process fake with the fake's own
		// credentials; silently ignoring these would hide a forgotten -gocards-url.
		return f, errors.New("-gocards-client-id, -gocards-client-secret and -gocards-org need -gocards-url (without it the host uses an in-process fake bureau)")
	case (f.scimURL == "") != (f.scimToken == ""):
		return f, errors.New("-scim-url and -scim-token go together")
	case f.smtpAddr == "" && (f.smtpFrom != "" || f.smtpUser != "" || f.smtpPassword != "" || f.smtpTLS != "" || f.approvers != ""):
		return f, errors.New("-smtp-from, -smtp-user, -smtp-password, -smtp-tls and -approvers need -smtp-addr (without it mail is only logged)")
	case f.smtpAddr != "" && f.smtpFrom == "":
		return f, errors.New("-smtp-addr needs -smtp-from")
	case (f.smtpUser == "") != (f.smtpPassword == ""):
		return f, errors.New("-smtp-user and -smtp-password go together")
	case (f.oidcIssuer == "") != (f.oidcAudience == ""):
		return f, errors.New("-oidc-issuer and -oidc-audience go together")
	case f.oidcIssuer == "" && f.oidcRolesClaim != "":
		return f, errors.New("-oidc-roles-claim needs -oidc-issuer")
	case f.logFormat != "text" && f.logFormat != "json":
		return f, fmt.Errorf("-log-format: want text or json, not %q", f.logFormat)
	}
	if f.smtpAddr != "" {
		if _, _, err := smtpHostPort(f.smtpAddr); err != nil {
			return f, err
		}
		if _, err := smtpTLSMode(f.smtpTLS); err != nil {
			return f, err
		}
	}
	if f.metricsAddr != "" {
		f.metrics = true
	}
	return f, nil
}

// smtpHostPort splits -smtp-addr; a missing port is 0 (the TLS mode's default port).
func smtpHostPort(addr string) (string, int, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		if strings.Contains(addr, ":") {
			return "", 0, fmt.Errorf("-smtp-addr: want HOST or HOST:PORT: %w", err)
		}
		return addr, 0, nil
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port <= 0 || port > 65535 || host == "" {
		return "", 0, errors.New("-smtp-addr: want HOST or HOST:PORT with a port in 1..65535")
	}
	return host, port, nil
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for v := range strings.SplitSeq(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
