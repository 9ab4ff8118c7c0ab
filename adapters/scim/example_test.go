package scim_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/cardsaddon/extprod/adapters/scim"
	"github.com/cardsaddon/extprod/ports"
)

// A host that keys its users by login reads them from its SCIM directory; the photo is a
// capability found by type assertion, as the domain does.
func Example() {
	// A stand-in for the host's SCIM service.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/scim+json")
		if r.URL.Query().Get("filter") != `userName eq "bjensen"` {
			fmt.Fprint(w, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0}`)
			return
		}
		fmt.Fprint(w, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":1,"Resources":[
		  {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"2819c223","userName":"bjensen","active":true,
		   "name":{"givenName":"Barbara","familyName":"Jensen"},
		   "emails":[{"value":"babs@jensen.example","type":"home"},{"value":"bjensen@example.com","type":"work","primary":true}],
		   "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"costCenter":"4130","department":"Tour Operations"}}]}`)
	}))
	defer srv.Close()

	dir, err := scim.New(scim.Config{
		BaseURL:      srv.URL + "/scim/v2",
		Token:        "token",
		KeyAttribute: scim.KeyUserName,
	})
	if err != nil {
		panic(err)
	}
	var users ports.UserStore = dir
	u, err := users.User(context.Background(), "bjensen")
	if err != nil {
		panic(err)
	}
	fmt.Println(u.ID, u.State, u.GivenName, u.FamilyName, u.Email, u.CostCentre, u.Department)

	_, err = users.User(context.Background(), "nobody")
	fmt.Println(errors.Is(err, ports.ErrNotFound))

	if photos, ok := users.(ports.PhotoSource); ok {
		_, _, err = photos.Photo(context.Background(), u)
		fmt.Println(errors.Is(err, ports.ErrNotFound)) // this user has no photo
	}
	// Output:
	// bjensen active Barbara Jensen bjensen@example.com 4130 Tour Operations
	// true
	// true
}
