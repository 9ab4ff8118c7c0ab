// Package oidc is a [ports.Authenticator] for the operator HTTP API: it verifies the JWT access
// tokens an OpenID Connect provider (Keycloak, Zitadel, Entra ID, Okta, Dex, …) issues and
// turns them into a [ports.Actor] with the library's roles.
//
// # Why go-oidc
//
// Discovery and verification come from github.com/coreos/go-oidc/v3, the maintained, widely
// used library that does exactly this and no more: it reads the provider's discovery document,
// refuses any algorithm not on the allowed list before it looks at a signature (so "alg: none"
// and HS256 with the public key as secret never pass), and checks the issuer, the audience and
// the expiry. It pulls in go-jose and x/oauth2 only. The signing keys are fetched by this
// package's own key set, which go-oidc's verifier calls: it fetches the provider's jwks_uri
// again when a token names a key it has not seen (key rotation), tells a provider that cannot
// be reached from a forged signature, and does not hand out stale keys right after a fetch as
// go-oidc's RemoteKeySet can.
//
// # Configuration
//
// [Config] holds everything; its zero fields are documented defaults ([Config.WithDefaults]):
//
//   - Issuer (required): the provider's issuer URL, exactly as it appears in its tokens.
//   - Audience (required): what the token's "aud" must contain: the API's client or resource
//     id at the provider. Keycloak puts it there with an audience mapper, Zitadel with the
//     project id (the "aud" of its access tokens), Entra ID as the application id URI.
//   - Algorithms: the allowed signing algorithms; default RS256 and ES256.
//   - ClockSkew: how long after "exp" a token still counts; default one minute.
//   - ActorClaim: the string claim that becomes the actor's id; default "sub".
//   - RolesClaim: a JSON Pointer (RFC 6901) to the roles, which may be an array of names, an
//     object whose keys are names, or one name. Presets: [RolesKeycloak] (realm_access.roles),
//     [RolesZitadel] (urn:zitadel:iam:org:project:roles) and [RolesPlain] (a top-level
//     "roles" array, the default). Any other path works, for example Keycloak client roles at
//     "/resource_access/<client id>/roles"; a "/" inside a claim name is written "~1".
//   - RoleMap: the provider's role names mapped to the library's roles; default each role
//     under its own name (operator, approver, admin, selfservice). Names it lacks are ignored.
//   - Timeout, HTTPClient, Clock: how the provider is reached and what time it is.
//
// New does not reach the provider, so a host starts while its provider is down; the first
// calls then answer [ports.ErrUnavailable]. [Authenticator.Discover] checks the provider
// early, for a start-up or readiness check.
//
// # Errors
//
// Authenticate answers an error wrapping [ports.ErrUnauthenticated] with the reason (the
// token is malformed, forged, expired, for another audience or issuer, signed with an
// algorithm not allowed, or lacks the actor claim) and one wrapping [ports.ErrUnavailable]
// when the provider's discovery document or keys cannot be fetched in time, so the HTTP API
// answers 401 to the first and 503 to the second. No error contains the token.
//
// # Self-service users: the actor id is the directory's user id
//
// A self-service actor may only order and read its own card, and the library recognises "its
// own" by equality: the actor's id must be the user's id in the host's directory
// ([ports.User.ID], docs/use-case.md §1). A provider's "sub" is often its own opaque id, not
// the directory's. A host makes them agree in one of three ways:
//
//  1. A claim that carries the directory id. Most providers can add a user attribute to
//     access tokens (a Keycloak user-attribute mapper, a Zitadel action or metadata claim, an
//     Entra ID optional claim such as employeeid or an extension attribute); set ActorClaim to
//     that claim's name. When the directory is the provider's own source (LDAP or SCIM
//     federation), the directory id is usually already an attribute there.
//  2. A directory keyed by the provider's subject: the host's [ports.UserStore] looks users up
//     by the id the provider gives them (for example a SCIM directory whose user id, or
//     externalId, the provisioning sets to the provider's subject).
//  3. A lookup in the host: wrap this Authenticator in the host's own [ports.Authenticator]
//     that maps the returned actor's id (the subject) to the directory id before returning it.
//
// Operators, approvers and administrators need no such mapping: their id only names who acted
// in the audit trail, though using the same claim for everyone keeps the trail consistent.
package oidc
