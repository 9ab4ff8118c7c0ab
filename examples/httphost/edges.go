package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/cardsaddon/extprod/adapters/memory"
	"github.com/cardsaddon/extprod/adapters/oidc"
	"github.com/cardsaddon/extprod/adapters/scim"
	"github.com/cardsaddon/extprod/adapters/smtp"
	"github.com/cardsaddon/extprod/ports"
)

// users is the user directory: the SCIM service of -scim-url, else the seed's users.
func users(f flags, sd seed, log *slog.Logger) (ports.UserStore, string, error) {
	if f.scimURL == "" {
		return memory.NewUsers(sd.Users...), "seed", nil
	}
	d, err := scim.New(scim.Config{BaseURL: f.scimURL, Token: f.scimToken, Logger: log})
	if err != nil {
		return nil, "", fmt.Errorf("-scim-url: %w", err)
	}
	return d, "scim", nil
}

// mailer sends the notifications through the SMTP relay of -smtp-addr, else logs them.
func mailer(f flags, dir ports.UserStore, log *slog.Logger) (ports.Mailer, string, error) {
	if f.smtpAddr == "" {
		return logMailer{log}, "log", nil
	}
	host, port, err := smtpHostPort(f.smtpAddr)
	if err != nil {
		return nil, "", err
	}
	mode, err := smtpTLSMode(f.smtpTLS)
	if err != nil {
		return nil, "", err
	}
	m, err := smtp.New(dir, smtp.Config{
		Host: host, Port: port, TLS: mode, Username: f.smtpUser, Password: f.smtpPassword,
		From: f.smtpFrom, Approvers: splitList(f.approvers), Logger: log,
	})
	if err != nil {
		return nil, "", fmt.Errorf("-smtp-addr: %w", err)
	}
	return m, "smtp", nil
}

// smtpTLSMode maps -smtp-tls.
func smtpTLSMode(s string) (smtp.TLSMode, error) {
	switch s {
	case "", "starttls":
		return smtp.StartTLS, nil
	case "tls":
		return smtp.ImplicitTLS, nil
	case "none":
		return smtp.NoTLS, nil
	}
	return 0, fmt.Errorf("-smtp-tls: want starttls, tls or none, not %q", s)
}

// authenticator signs callers in with the OpenID Connect provider of -oidc-issuer, else with
// the seed's static tokens.
func authenticator(ctx context.Context, f flags, sd seed, log *slog.Logger) (ports.Authenticator, string, error) {
	if f.oidcIssuer == "" {
		return sd.tokens(), "static tokens", nil
	}
	claim := f.oidcRolesClaim
	switch claim {
	case "keycloak":
		claim = oidc.RolesKeycloak
	case "zitadel":
		claim = oidc.RolesZitadel
	case "plain":
		claim = oidc.RolesPlain
	}
	a, err := oidc.New(oidc.Config{Issuer: f.oidcIssuer, Audience: f.oidcAudience, RolesClaim: claim})
	if err != nil {
		return nil, "", fmt.Errorf("-oidc-issuer: %w", err)
	}
	// The provider may be down at start: the host still starts, and sign-in answers
	// auth_unavailable until it is back.
	if err := a.Discover(ctx); err != nil {
		log.Warn("the OpenID Connect provider does not answer yet; sign-in fails until it does", "err", err)
	}
	return a, "oidc", nil
}

// logMailer "sends" notifications by logging their kind, card and recipient id (never an
// address or a name).
type logMailer struct{ log *slog.Logger }

// Send implements ports.Mailer.
func (m logMailer) Send(ctx context.Context, n ports.Notification) error {
	m.log.InfoContext(ctx, "email", "kind", string(n.Kind), "card", n.CardID, "to_user", n.To.UserID, "to_approvers", n.To.Approvers, "id", n.ID)
	return nil
}
