package options

import (
	"slices"

	"github.com/cardsaddon/extprod/ports"
	"github.com/dop251/goja"
)

// The ctx of resolve and its user are read-only views of the order's data (goja dynamic
// objects), made fresh for each evaluation: no property map is built per order, and a value is
// made only when the script reads it. Writes, deletes and new properties fail (a TypeError in
// strict mode); nothing a script does to them reaches the Go data or outlives the evaluation.
// (Object.freeze on them throws, as goja cannot make a dynamic object non-extensible; they are
// read-only already.)

var (
	ctxKeys     = []string{"user", "actor", "channel"}
	actorKeys   = []string{"id", "roles"}
	userKeys    = []string{"id", "state", "givenName", "familyName", "email", "upn", "organisation", "department", "employeeNumber", "costCentre", "deliveryAddress", "hasPhoto", "attributes"}
	addressKeys = []string{"recipient", "addressOne", "addressTwo", "postalCode", "city", "countryCode"}
)

// readOnly is the part of every view that refuses changes.
type readOnly struct{}

func (readOnly) Set(string, goja.Value) bool { return false }
func (readOnly) Delete(string) bool          { return false }

type ctxView struct {
	readOnly
	vm           *goja.Runtime
	user, actor  goja.Value
	channel      string
	channelValue goja.Value
}

func (c *ctxView) Get(key string) goja.Value {
	switch key {
	case "user":
		return c.user
	case "actor":
		return c.actor
	case "channel":
		if c.channelValue == nil {
			c.channelValue = c.vm.ToValue(c.channel)
		}
		return c.channelValue
	}
	return nil
}
func (c *ctxView) Has(key string) bool { return slices.Contains(ctxKeys, key) }
func (c *ctxView) Keys() []string      { return slices.Clone(ctxKeys) }

type actorView struct {
	readOnly
	vm    *goja.Runtime
	id    string
	roles goja.Value
}

func (a *actorView) Get(key string) goja.Value {
	switch key {
	case "id":
		return a.vm.ToValue(a.id)
	case "roles":
		return a.roles
	}
	return nil
}
func (a *actorView) Has(key string) bool { return slices.Contains(actorKeys, key) }
func (a *actorView) Keys() []string      { return slices.Clone(actorKeys) }

// rolesView is the read-only array of the actor's roles.
type rolesView struct {
	vm    *goja.Runtime
	roles []ports.Role
}

func (r *rolesView) Len() int { return len(r.roles) }
func (r *rolesView) Get(i int) goja.Value {
	if i < 0 || i >= len(r.roles) {
		return nil
	}
	return r.vm.ToValue(string(r.roles[i]))
}
func (r *rolesView) Set(int, goja.Value) bool { return false }
func (r *rolesView) SetLen(int) bool          { return false }

type userView struct {
	readOnly
	sb          *sandbox
	u           *ports.User
	attrs, addr goja.Value // made on first read, then the same object for the evaluation
}

func (v *userView) Get(key string) goja.Value {
	vm, u := v.sb.vm, v.u
	switch key {
	case "id":
		return vm.ToValue(u.ID)
	case "state":
		return vm.ToValue(string(u.State))
	case "givenName":
		return vm.ToValue(u.GivenName)
	case "familyName":
		return vm.ToValue(u.FamilyName)
	case "email":
		return vm.ToValue(u.Email)
	case "upn":
		return vm.ToValue(u.UPN)
	case "organisation":
		return vm.ToValue(u.Organisation)
	case "department":
		return vm.ToValue(u.Department)
	case "employeeNumber":
		return vm.ToValue(u.EmployeeNumber)
	case "costCentre":
		return vm.ToValue(u.CostCentre)
	case "hasPhoto":
		return vm.ToValue(u.PhotoURL != "") // whether there is a photo; never the photo
	case "deliveryAddress":
		if v.addr == nil {
			v.addr = goja.Null()
			if u.DeliveryAddress != nil {
				v.addr = vm.NewDynamicObject(&addressView{vm: vm, a: *u.DeliveryAddress})
			}
		}
		return v.addr
	case "attributes":
		if v.attrs == nil {
			v.attrs = vm.NewDynamicObject(&attrsView{vm: vm, m: u.Attributes})
		}
		return v.attrs
	}
	return nil
}
func (v *userView) Has(key string) bool { return slices.Contains(userKeys, key) }
func (v *userView) Keys() []string      { return slices.Clone(userKeys) }

type addressView struct {
	readOnly
	vm *goja.Runtime
	a  ports.Address
}

func (v *addressView) Get(key string) goja.Value {
	a := &v.a
	switch key {
	case "recipient":
		return v.vm.ToValue(a.Recipient)
	case "addressOne":
		return v.vm.ToValue(a.AddressOne)
	case "addressTwo":
		return v.vm.ToValue(a.AddressTwo)
	case "postalCode":
		return v.vm.ToValue(a.PostalCode)
	case "city":
		return v.vm.ToValue(a.City)
	case "countryCode":
		return v.vm.ToValue(a.CountryCode)
	}
	return nil
}
func (v *addressView) Has(key string) bool { return slices.Contains(addressKeys, key) }
func (v *addressView) Keys() []string      { return slices.Clone(addressKeys) }

// attrsView is the user's further attributes. The map is the order's copy (ports.OptionsRequest),
// only read here, during the evaluation.
type attrsView struct {
	readOnly
	vm *goja.Runtime
	m  map[string]string
}

func (v *attrsView) Get(key string) goja.Value {
	if s, ok := v.m[key]; ok {
		return v.vm.ToValue(s)
	}
	return nil
}
func (v *attrsView) Has(key string) bool { _, ok := v.m[key]; return ok }
func (v *attrsView) Keys() []string {
	keys := make([]string, 0, len(v.m))
	for k := range v.m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// request builds the read-only ctx object of resolve and its user (null for temporary cards).
func (sb *sandbox) request(r ports.OptionsRequest) (ctxObj, userObj goja.Value, err error) {
	vm := sb.vm
	userObj = goja.Null()
	if r.User != nil {
		userObj = vm.NewDynamicObject(&userView{sb: sb, u: r.User})
	}
	actor := vm.NewDynamicObject(&actorView{vm: vm, id: r.Actor.ID, roles: vm.NewDynamicArray(&rolesView{vm: vm, roles: r.Actor.Roles})})
	ctxObj = vm.NewDynamicObject(&ctxView{vm: vm, user: userObj, actor: actor, channel: string(r.Channel)})
	return ctxObj, userObj, nil
}
