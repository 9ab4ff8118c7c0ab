package scim_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/matryer/is"

	"github.com/cardsaddon/extprod/adapters/scim"
	"github.com/cardsaddon/extprod/adapters/scim/scimtest"
	"github.com/cardsaddon/extprod/ports"
)

// TestUserMapping reads realistic users from a real SCIM server (elimity-com/scim, with the
// enterprise extension) by id and checks every mapped field.
func TestUserMapping(t *testing.T) {
	d := scimtest.New(t)
	ids := map[string]string{
		"ada":      d.Create(resource(withOrigin(d, adaMembers))),
		"grace":    d.Create(resource(withOrigin(d, graceMembers))),
		"linus":    d.Create(resource(linusMembers)),
		"margaret": d.Create(resource(margaretMembers)),
	}
	dir := open(t, config(d))

	for _, tc := range []struct {
		name string
		want ports.User
	}{
		{"ada", ports.User{
			// active; the primary email (not the first); the enterprise extension; the primary
			// photo (not the thumbnail); the work address (not the primary home one), its
			// street's second line as AddressTwo and its country upper-cased.
			ID: ids["ada"], State: ports.UserActive, GivenName: "Ada", FamilyName: "Lovelace",
			Email: "ada.lovelace@example.com", UPN: adaUserName,
			Organisation: "Babbage & Co", Department: "Analysis", EmployeeNumber: "1815", CostCentre: "CC-4711",
			DeliveryAddress: &ports.Address{
				Recipient: "Ada King, Countess of Lovelace", AddressOne: "Analytical Engine Works", AddressTwo: "Floor 2",
				PostalCode: "EC1A 1BB", City: "London", CountryCode: "GB",
			},
			PhotoURL: d.Origin + "/photos/ada.jpg",
			Attributes: map[string]string{
				"scimId": ids["ada"], "userName": adaUserName, "externalId": "E-1815",
				"displayName": "Ada Lovelace", "title": "Analyst", "division": "Engines",
			},
		}},
		{"grace", ports.User{
			// no primary email: the work one; a thumbnail only: no photo; a work address
			// without a country: none.
			ID: ids["grace"], State: ports.UserActive, GivenName: "Grace", FamilyName: "Hopper",
			Email: "grace.hopper@example.com", UPN: graceUserName,
			Department: "Compilers", EmployeeNumber: "1906", CostCentre: "CC-4711",
			Attributes: map[string]string{"scimId": ids["grace"], "userName": graceUserName},
		}},
		{"linus", ports.User{
			// inactive; no primary email: the work one, though not first; no extension.
			ID: ids["linus"], State: ports.UserInactive, GivenName: "Linus", FamilyName: "Torvalds",
			Email: "linus@example.com", UPN: linusUserName,
			DeliveryAddress: &ports.Address{
				Recipient: "Linus Torvalds", AddressOne: "Kernel Street 1", PostalCode: "97201", City: "Portland", CountryCode: "US",
			},
			Attributes: map[string]string{"scimId": ids["linus"], "userName": linusUserName},
		}},
		{"margaret", ports.User{
			// no "active": inactive by default; one untyped email: that one; a primary photo on
			// another origin is still named (Photo refuses it).
			ID: ids["margaret"], State: ports.UserInactive, GivenName: "Margaret", FamilyName: "Hamilton",
			Email: "margaret@apollo.example", UPN: margaretUserName,
			PhotoURL:   "https://cdn.elsewhere.example/margaret.jpg",
			Attributes: map[string]string{"scimId": ids["margaret"], "userName": margaretUserName},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			got, err := dir.User(t.Context(), ids[tc.name])
			is.NoErr(err)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("user (-want +got):\n%s", diff)
			}
		})
	}
}

// TestActiveWhenAbsent: a host whose directory omits "active" can count such users as active;
// an explicit false stays inactive.
func TestActiveWhenAbsent(t *testing.T) {
	d := scimtest.New(t)
	margaret := d.Create(resource(margaretMembers))
	linus := d.Create(resource(linusMembers))
	cfg := config(d)
	cfg.ActiveWhenAbsent = true
	dir := open(t, cfg)
	for _, tc := range []struct {
		id   string
		want ports.UserState
	}{{margaret, ports.UserActive}, {linus, ports.UserInactive}} {
		is := is.New(t)
		u, err := dir.User(t.Context(), tc.id)
		is.NoErr(err)
		is.Equal(u.State, tc.want)
	}
}

// TestUPNAttribute: the host names another attribute as the UPN.
func TestUPNAttribute(t *testing.T) {
	d := scimtest.New(t)
	ada := d.Create(resource(withOrigin(d, adaMembers)))
	for _, tc := range []struct {
		attr, want string
	}{
		{"", adaUserName},
		{"userName", adaUserName},
		{"externalId", "E-1815"},
		{"displayName", "Ada Lovelace"},
		{"name.givenName", "Ada"},
		{"NAME.FAMILYNAME", "Lovelace"}, // attribute names are case-insensitive
		{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "1815"},
		{"nickName", ""}, // absent
	} {
		t.Run(tc.attr, func(t *testing.T) {
			is := is.New(t)
			cfg := config(d)
			cfg.UPNAttribute = tc.attr
			u, err := open(t, cfg).User(t.Context(), ada)
			is.NoErr(err)
			is.Equal(u.UPN, tc.want)
		})
	}
	t.Run("not a string", func(t *testing.T) {
		is := is.New(t)
		cfg := config(d)
		cfg.UPNAttribute = "emails"
		_, err := open(t, cfg).User(t.Context(), ada)
		is.True(errors.Is(err, ports.ErrProtocol))
	})
}

// TestUserByKeyAttribute: a host that keys users by login finds them with a filter; the
// returned user carries the host's key as its ID.
func TestUserByKeyAttribute(t *testing.T) {
	d := scimtest.New(t)
	ada := d.Create(resource(withOrigin(d, adaMembers)))
	d.Create(resource(withOrigin(d, graceMembers)))
	d.Create(resource(linusMembers))

	for _, tc := range []struct {
		name, key, id string
		want          error
		wantSCIMID    string
	}{
		{name: "login", key: scim.KeyUserName, id: adaUserName, wantSCIMID: ada},
		{name: "login in another case", key: scim.KeyUserName, id: "Ada.Lovelace@Example.com", wantSCIMID: ada},
		{name: "unknown login", key: scim.KeyUserName, id: "nobody@example.com", want: ports.ErrNotFound},
		{name: "filter injection", key: scim.KeyUserName, id: `x" or userName pr or userName eq "y`, want: ports.ErrNotFound},
		{name: "backslash and quote", key: scim.KeyUserName, id: `a\"b`, want: ports.ErrNotFound},
		{name: "externalId", key: "externalId", id: "E-1815", wantSCIMID: ada},
		{name: "employee number", key: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", id: "1815", wantSCIMID: ada},
		{name: "ambiguous", key: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter", id: "CC-4711", want: ports.ErrProtocol},
		{name: "empty", key: scim.KeyUserName, id: "", want: ports.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			cfg := config(d)
			cfg.KeyAttribute = tc.key
			u, err := open(t, cfg).User(t.Context(), tc.id)
			if tc.want != nil {
				is.True(errors.Is(err, tc.want)) // the wanted error
				return
			}
			is.NoErr(err)
			is.Equal(u.ID, tc.id)
			is.Equal(u.Attributes["scimId"], tc.wantSCIMID)
			is.Equal(u.GivenName, "Ada")
		})
	}
}

// TestUserDeletedBetweenReads: without a cache every read asks the directory, so a user
// deleted after a first read is not found by the second, and a changed one reads changed.
func TestUserDeletedBetweenReads(t *testing.T) {
	for _, key := range []string{scim.KeyID, scim.KeyUserName} {
		t.Run(key, func(t *testing.T) {
			is := is.New(t)
			d := scimtest.New(t)
			id := d.Create(resource(withOrigin(d, adaMembers)))
			cfg := config(d)
			cfg.KeyAttribute = key
			dir := open(t, cfg)
			asked := map[string]string{scim.KeyID: id, scim.KeyUserName: adaUserName}[key]

			u, err := dir.User(t.Context(), asked)
			is.NoErr(err)
			is.Equal(u.State, ports.UserActive)

			d.Replace(id, resource(`"userName":"ada.lovelace@example.com","active":false`))
			u, err = dir.User(t.Context(), asked)
			is.NoErr(err)
			is.Equal(u.State, ports.UserInactive) // the change is seen at once

			d.Delete(id)
			_, err = dir.User(t.Context(), asked)
			is.True(errors.Is(err, ports.ErrNotFound))
		})
	}
}

// TestOddIDs: ids that would change the request path are escaped or refused, never sent as a
// path of their own.
func TestOddIDs(t *testing.T) {
	d := scimtest.New(t)
	dir := open(t, config(d))
	for _, id := range []string{"", ".", "..", "../Users", "a/b", "?filter=x", "%2e%2e", "#x", "Schemas"} {
		t.Run(id, func(t *testing.T) {
			is := is.New(t)
			_, err := dir.User(t.Context(), id)
			is.True(errors.Is(err, ports.ErrNotFound)) // an unknown user, nothing else
		})
	}
}

// TestRefusedToken: a directory that refuses the token is unavailable (a 503 for the host's
// caller, not "no such user"), with the status in a *StatusError.
func TestRefusedToken(t *testing.T) {
	is := is.New(t)
	d := scimtest.New(t)
	id := d.Create(resource(linusMembers))
	cfg := config(d)
	cfg.Token = "wrong"
	_, err := open(t, cfg).User(t.Context(), id)
	is.True(errors.Is(err, ports.ErrUnavailable))
	var se *scim.StatusError
	is.True(errors.As(err, &se))
	is.Equal(se.Status, 401)
}
