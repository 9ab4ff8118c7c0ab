package scim

import (
	"errors"
	"strings"
	"testing"

	"github.com/cardsaddon/extprod/ports"
)

// fuzzSeeds are SCIM answers a directory may give, well-formed and not; they run as plain tests.
var fuzzSeeds = []string{
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"u1","userName":"x","active":true}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
	  "id":"2819c223","userName":"bjensen@example.com","active":true,
	  "name":{"formatted":"Ms. Barbara J Jensen III","familyName":"Jensen","givenName":"Barbara"},
	  "emails":[{"value":"bjensen@example.com","type":"work","primary":true},{"value":"babs@jensen.org","type":"home"}],
	  "addresses":[{"type":"work","streetAddress":"100 Universal City Plaza\nSuite 1","locality":"Hollywood","region":"CA",
	    "postalCode":"91608","country":"USA","primary":true},{"type":"home","streetAddress":"456 Hollywood Blvd","country":"US"}],
	  "photos":[{"value":"https://photos.example.com/profilephoto/72930000000Ccne/F","type":"photo"},
	    {"value":"https://photos.example.com/profilephoto/72930000000Ccne/T","type":"thumbnail"}],
	  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"701984","costCenter":"4130",
	    "organization":"Universal Studios","division":"Theme Park","department":"Tour Operations",
	    "manager":{"value":"26118915-6090-4610-87e4-49d8ca9f808d","displayName":"John Smith"}}}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"u1","active":"true"}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"u1","emails":{"value":"x"}}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"u1","emails":[null,{"primary":true}]}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"u1","addresses":[{"type":"work","streetAddress":"\n\n"}]}`,
	`{"schemas":"urn:ietf:params:scim:schemas:core:2.0:User","id":"u1"}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":1,"Resources":[{"id":"u1"}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":1e400}`,
	`{"id":"u1"}{"id":"u2"}`,
	`[]`, `null`, `"x"`, `{`, ``, "\xff\xfe",
}

// FuzzDecodeUser: the decoder of SCIM answers (a user resource or a list response) never
// panics, fails only with ports.ErrProtocol, and maps what it accepts to a valid user.
func FuzzDecodeUser(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s), "userName")
	}
	f.Add([]byte(fuzzSeeds[1]), "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName")
	f.Add([]byte(fuzzSeeds[1]), "name.formatted")
	f.Add([]byte(fuzzSeeds[1]), "emails.value")
	f.Fuzz(func(t *testing.T, body []byte, upnAttr string) {
		if !attrPathRe.MatchString(upnAttr) {
			upnAttr = "userName"
		}
		check := func(err error) {
			if err != nil && !errors.Is(err, ports.ErrProtocol) {
				t.Fatalf("untyped error: %v", err)
			}
		}
		if _, resources, err := decodeList(body); err != nil {
			check(err)
		} else {
			for _, r := range resources {
				_, _, err := decodeUser(r)
				check(err)
			}
		}
		su, raw, err := decodeUser(body)
		if err != nil {
			check(err)
			return
		}
		_, err = keyMatches(raw, upnAttr, "k")
		check(err)
		u, err := mapping{upnAttribute: upnAttr}.toUser("k", su, raw)
		if err != nil {
			check(err)
			return
		}
		if u.ID != "k" || (u.State != ports.UserActive && u.State != ports.UserInactive) {
			t.Fatalf("invalid user: id %q, state %q", u.ID, u.State)
		}
		if a := u.DeliveryAddress; a != nil && (a.AddressOne == "" || a.City == "" || a.PostalCode == "" || len(a.CountryCode) != 2 || strings.Contains(a.AddressOne, "\n")) {
			t.Fatalf("incomplete address mapped: %+v", *a)
		}
	})
}
