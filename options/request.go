package options

import (
	"slices"
	"strconv"
	"strings"

	"github.com/cardsaddon/extprod/ports"
	"github.com/dop251/goja"
)

// The ctx of resolve and its user are read-only views of the order's data (goja dynamic
// objects), made fresh for each call: no property map is built per order, and a value is made
// only when the script reads it. Writes, deletes and new properties fail (a TypeError in strict
// mode); nothing a script does to them reaches the Go data or outlives the call. (Object.freeze
// on them throws, as goja cannot make a dynamic object non-extensible; they are read-only
// already.)
//
// Every read goes through one function, observe (valueOf), which can write down what the script
// read and what it got: the memo of results (memo.go) keys on exactly that.

var (
	ctxKeys     = []string{"user", "actor", "channel"}
	actorKeys   = []string{"id", "roles"}
	userKeys    = []string{"id", "state", "givenName", "familyName", "email", "upn", "organisation", "department", "employeeNumber", "costCentre", "deliveryAddress", "hasPhoto", "attributes"}
	addressKeys = []string{"recipient", "addressOne", "addressTwo", "postalCode", "city", "countryCode"}
)

// viewKind names one of the read-only objects a script is given.
type viewKind uint8

const (
	viewCtx viewKind = iota
	viewActor
	viewRoles
	viewUser
	viewAddress
	viewAttrs
)

// readOp is how a script reads a view: a property, whether it has one, its keys, its length.
type readOp uint8

const (
	opGet readOp = iota
	opHas
	opKeys
	opLen
)

// access is one read of the order's data: which view, how, which key.
type access struct {
	view viewKind
	op   readOp
	key  string
}

// seenKind is the type of what a read gave the script.
type seenKind uint8

const (
	seenAbsent seenKind = iota // no such property
	seenText                   // a string (or, for opLen, a number), in text
	seenTrue
	seenFalse
	seenObject // a nested view
	seenNull
)

// seen is what a read gave the script, in a comparable form.
type seen struct {
	kind seenKind
	text string
}

func text(s string) seen { return seen{kind: seenText, text: s} }

func truth(b bool) seen {
	if b {
		return seen{kind: seenTrue}
	}
	return seen{kind: seenFalse}
}

// objectOrNull is a nested view when present is true, else null.
func objectOrNull(present bool) seen {
	if present {
		return seen{kind: seenObject}
	}
	return seen{kind: seenNull}
}

// keysOf is a key list as seen by opKeys: each key with its length in front, so that no two
// lists read the same (attribute names are the directory's and may hold any character).
func keysOf(keys []string) seen {
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(strconv.Itoa(len(k)))
		b.WriteByte(':')
		b.WriteString(k)
	}
	return text(b.String())
}

// keyList reverses keysOf.
func keyList(s string) []string {
	var keys []string
	for s != "" {
		n, rest, _ := strings.Cut(s, ":")
		l, _ := strconv.Atoi(n)
		keys = append(keys, rest[:l])
		s = rest[l:]
	}
	return keys
}

// valueOf is what the script gets for a read of r's data. It depends on r only, so equal reads
// of equal data give equal answers (memo.go relies on it).
func valueOf(r *ports.OptionsRequest, a access) seen {
	switch a.view {
	case viewCtx:
		return fixedView(a, ctxKeys, func(key string) seen {
			switch key {
			case "user":
				return objectOrNull(r.User != nil)
			case "actor":
				return seen{kind: seenObject}
			default: // "channel"
				return text(string(r.Channel))
			}
		})
	case viewActor:
		return fixedView(a, actorKeys, func(key string) seen {
			if key == "id" {
				return text(r.Actor.ID)
			}
			return seen{kind: seenObject} // "roles"
		})
	case viewRoles:
		if a.op == opLen {
			return text(strconv.Itoa(len(r.Actor.Roles)))
		}
		i, err := strconv.Atoi(a.key)
		if err != nil || i < 0 || i >= len(r.Actor.Roles) {
			return seen{}
		}
		return text(string(r.Actor.Roles[i]))
	case viewUser:
		return fixedView(a, userKeys, func(key string) seen { return userField(r.User, key) })
	case viewAddress:
		return fixedView(a, addressKeys, func(key string) seen { return addressField(r.User.DeliveryAddress, key) })
	case viewAttrs:
		m := r.User.Attributes
		switch a.op {
		case opHas:
			_, ok := m[a.key]
			return truth(ok)
		case opKeys:
			keys := make([]string, 0, len(m))
			for k := range m {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			return keysOf(keys)
		}
		if s, ok := m[a.key]; ok {
			return text(s)
		}
		return seen{}
	}
	return seen{}
}

// fixedView answers a read of a view with a fixed list of keys; field gives a known key's value.
func fixedView(a access, keys []string, field func(string) seen) seen {
	switch a.op {
	case opHas:
		return truth(slices.Contains(keys, a.key))
	case opKeys:
		return keysOf(keys)
	}
	if !slices.Contains(keys, a.key) {
		return seen{}
	}
	return field(a.key)
}

func userField(u *ports.User, key string) seen {
	switch key {
	case "id":
		return text(u.ID)
	case "state":
		return text(string(u.State))
	case "givenName":
		return text(u.GivenName)
	case "familyName":
		return text(u.FamilyName)
	case "email":
		return text(u.Email)
	case "upn":
		return text(u.UPN)
	case "organisation":
		return text(u.Organisation)
	case "department":
		return text(u.Department)
	case "employeeNumber":
		return text(u.EmployeeNumber)
	case "costCentre":
		return text(u.CostCentre)
	case "hasPhoto":
		return truth(u.PhotoURL != "") // whether there is a photo; never the photo
	case "deliveryAddress":
		return objectOrNull(u.DeliveryAddress != nil)
	default: // "attributes"
		return seen{kind: seenObject}
	}
}

func addressField(a *ports.Address, key string) seen {
	switch key {
	case "recipient":
		return text(a.Recipient)
	case "addressOne":
		return text(a.AddressOne)
	case "addressTwo":
		return text(a.AddressTwo)
	case "postalCode":
		return text(a.PostalCode)
	case "city":
		return text(a.City)
	default: // "countryCode"
		return text(a.CountryCode)
	}
}

// step is one read and its answer, as written down for the memo.
type step struct {
	access
	seen
}

// maxCallReads is the most reads of one call that are written down: a call that reads more is
// not memoized (memo.go), so neither a trace nor the memo grows with a script's loops.
const maxCallReads = 256

// orderData is the order's data as one call of resolve or mapUserToCard sees it: the views, made
// on first read, and (when trace is not nil) the reads the call made, in order. tooMany is set
// when the call read more than maxCallReads times (its trace is then incomplete).
type orderData struct {
	vm      *goja.Runtime
	r       *ports.OptionsRequest
	trace   *[]step
	tooMany bool
	views   [viewAttrs + 1]goja.Value
}

// observe answers a read and writes it down.
func (d *orderData) observe(a access) seen {
	v := valueOf(d.r, a)
	if d.trace != nil {
		if len(*d.trace) == maxCallReads {
			d.trace, d.tooMany = nil, true
		} else {
			*d.trace = append(*d.trace, step{a, v})
		}
	}
	return v
}

// view returns the view of kind k (made on first use: one object per call, so a script sees
// the same object each time it reads the same property).
func (d *orderData) view(k viewKind) goja.Value {
	if d.views[k] == nil {
		if k == viewRoles {
			d.views[k] = d.vm.NewDynamicArray(&rolesView{d: d})
		} else {
			d.views[k] = d.vm.NewDynamicObject(&objectView{d: d, kind: k})
		}
	}
	return d.views[k]
}

// ctx returns the ctx of resolve.
func (d *orderData) ctx() goja.Value { return d.view(viewCtx) }

// user returns the user view (the argument of mapUserToCard), or null for temporary cards.
func (d *orderData) user() goja.Value {
	if d.r.User == nil {
		return goja.Null()
	}
	return d.view(viewUser)
}

// nested is the view a property of kind k leads to.
func nested(k viewKind, key string) viewKind {
	switch {
	case k == viewCtx && key == "user":
		return viewUser
	case k == viewCtx:
		return viewActor
	case k == viewActor:
		return viewRoles
	case key == "deliveryAddress":
		return viewAddress
	default:
		return viewAttrs
	}
}

// value turns an answer into what the script gets.
func (d *orderData) value(v seen, k viewKind, key string) goja.Value {
	switch v.kind {
	case seenText:
		return d.vm.ToValue(v.text)
	case seenTrue:
		return d.vm.ToValue(true)
	case seenFalse:
		return d.vm.ToValue(false)
	case seenNull:
		return goja.Null()
	case seenObject:
		return d.view(nested(k, key))
	}
	return nil
}

// objectView is every read-only object view but the roles array.
type objectView struct {
	d    *orderData
	kind viewKind
}

func (o *objectView) Get(key string) goja.Value {
	return o.d.value(o.d.observe(access{o.kind, opGet, key}), o.kind, key)
}
func (o *objectView) Has(key string) bool {
	return o.d.observe(access{o.kind, opHas, key}).kind == seenTrue
}
func (o *objectView) Keys() []string {
	return keyList(o.d.observe(access{o.kind, opKeys, ""}).text)
}
func (o *objectView) Set(string, goja.Value) bool { return false }
func (o *objectView) Delete(string) bool          { return false }

// rolesView is the read-only array of the actor's roles.
type rolesView struct{ d *orderData }

func (v *rolesView) Len() int {
	n, _ := strconv.Atoi(v.d.observe(access{viewRoles, opLen, ""}).text)
	return n
}
func (v *rolesView) Get(i int) goja.Value {
	return v.d.value(v.d.observe(access{viewRoles, opGet, strconv.Itoa(i)}), viewRoles, "")
}
func (v *rolesView) Set(int, goja.Value) bool { return false }
func (v *rolesView) SetLen(int) bool          { return false }
