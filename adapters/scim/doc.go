// Package scim is a [ports.UserStore] over a SCIM 2.0 service provider (RFC 7643, RFC 7644): the
// host's identity directory, read-only. It is also a [ports.PhotoSource] for the photos the
// directory names (docs/use-case.md §3).
//
//	dir, err := scim.New(scim.Config{
//		BaseURL:      "https://idp.example/scim/v2",
//		Token:        token,            // sent as "Authorization: Bearer …"
//		KeyAttribute: scim.KeyUserName, // the host keys users by login
//	})
//
// The package imports [ports] only, never the domain.
//
// # Reading a user
//
// [Directory.User] reads GET {BaseURL}/Users/{id} when the host's user id is the SCIM id
// (Config.KeyAttribute "" or [KeyID]). A host that keys users by login sets
// Config.KeyAttribute to [KeyUserName] (or another attribute, e.g. "externalId" or an
// enterprise attribute by its full URN path); the user is then found with
// GET {BaseURL}/Users?filter=<attribute> eq "<id>", the id written as a quoted, escaped string so
// it can never change the filter. The filter must match exactly one user, and that user must
// carry the key (compared case-insensitively; for a multi-valued parent such as "emails.value",
// in any of its values), so a server that ignores the filter cannot hand out another user.
// Either way the
// returned [ports.User] has the host's id as its ID.
//
// # Mapping
//
//	SCIM attribute (RFC 7643)                           ports.User field
//	---------------------------------------------------------------------------------------------
//	active                                              State: UserActive when true; UserInactive
//	                                                    when false or absent (absent counts as
//	                                                    active with Config.ActiveWhenAbsent)
//	name.givenName, name.familyName                     GivenName, FamilyName
//	emails: the primary, else type "work", else first   Email
//	userName (or Config.UPNAttribute)                   UPN
//	enterprise extension organization                   Organisation
//	enterprise extension department                     Department
//	enterprise extension employeeNumber                 EmployeeNumber
//	enterprise extension costCenter                     CostCentre
//	photos: the primary, else the first of type "photo" PhotoURL (a thumbnail alone is none)
//	addresses: type "work" (a primary one first)        DeliveryAddress: streetAddress's first
//	                                                    line → AddressOne, further lines →
//	                                                    AddressTwo, postalCode, locality → City,
//	                                                    country (ISO 3166-1 alpha-2, upper-cased)
//	                                                    → CountryCode, name.formatted (else
//	                                                    given and family name) → Recipient; nil
//	                                                    when any of street, postal code, locality
//	                                                    or a two-letter country is missing
//	id, userName, externalId, displayName, title,       Attributes["scimId"], Attributes["userName"], …
//	userType, enterprise division                       (only those present)
//
// The enterprise extension is urn:ietf:params:scim:schemas:extension:enterprise:2.0:User. A home
// address is never used for delivery.
//
// # Configuration
//
// [Config] takes the base URL and the bearer token; every other field has a documented
// zero-value default: Timeout per request ([DefaultTimeout]), MaxResponseBytes
// ([DefaultMaxResponseBytes]), KeyAttribute ([KeyID]), UPNAttribute ("userName"),
// ActiveWhenAbsent (false), CacheTTL (0: no cache), CacheMaxEntries ([DefaultCacheMaxEntries]),
// MaxPhotoBytes ([DefaultMaxPhotoBytes], 1 MiB), SendTokenWithPhoto (false), HTTPClient, Logger
// and Now.
//
// # Cache
//
// Off by default. With Config.CacheTTL > 0, users found are kept in memory and served until
// CacheTTL after the request that read them began — never later, so a user deleted or
// deactivated in the directory is seen at most CacheTTL late. Users not found are not cached.
// Use it only for a directory too slow to ask on every order.
//
// # Errors
//
// Callers test errors with errors.Is and errors.As:
//
//   - [ports.ErrNotFound]: 404, or a filter that matches nobody; also a photo the user does not
//     have.
//   - [ports.ErrUnavailable]: the directory cannot be reached, does not answer within
//     Config.Timeout, or answers 401, 403, 408, 429 or 5xx (as a [*StatusError]). When the
//     caller's context ended, the error wraps its error too.
//   - [ports.ErrProtocol]: an answer SCIM does not allow: another status (a [*StatusError]), a
//     redirect, a content type other than application/scim+json or application/json, a body
//     over Config.MaxResponseBytes, malformed JSON, an attribute of the wrong JSON type, no core
//     User schema or id, another resource's id, a filter matching several users.
//   - [ports.ErrPhotoRefused]: a photo on another origin, too large, or not a JPEG or PNG.
//
// Decoding is strict in what the adapter reads and lenient in what may grow: unknown attributes
// are ignored, but a known one of the wrong type is a protocol error, never a panic or a
// silent default.
//
// Nothing personal reaches an error or a log: no ids (a key may be a login), names, emails,
// URLs (they name the user) or response bodies (a SCIM error's detail may quote the user). The
// Logger receives the operation, the status, the duration and the typed error.
//
// # Photos
//
// [Directory.Photo] fetches User.PhotoURL only when it is on the origin of Config.BaseURL
// (scheme, host and port; a relative URL is resolved against BaseURL); a URL elsewhere is
// refused before any request. Redirects are followed only within that origin. The bearer token
// is not sent unless Config.SendTokenWithPhoto. The body is capped at Config.MaxPhotoBytes and
// its type is sniffed from its bytes (http.DetectContentType): only image/jpeg and image/png
// pass.
//
// # Why these libraries
//
// The client is the standard library's net/http and encoding/json: a user store reads one
// resource per call, which needs no SCIM client library, and keeping the module's dependencies
// to [ports] means a host that wires this adapter pulls in nothing else. The tests run a real
// SCIM server, github.com/elimity-com/scim, in process (a test-only dependency): it validates
// every provisioned user against the core User schema and the enterprise extension and answers
// filters, so the adapter is proven against a server's real wire format rather than against its
// author's reading of the RFCs. An httptest server supplies what a real server will not send:
// malformed, oversized, slow and mistyped answers.
package scim
