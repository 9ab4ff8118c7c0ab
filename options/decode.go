package options

import (
	"fmt"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/cardsaddon/extprod/ports"
	"github.com/dop251/goja"
	"github.com/go-playground/validator/v10"
)

// Results of the script are read strictly: goja's ExportTo coerces loosely ("yes" → true,
// undefined → zero struct) and drops unknown keys, so types and keys are checked here first,
// then the values with validator/v10.

// fieldErr is an invalid option or field of a script's result.
type fieldErr struct {
	path string // "queueCards", "productionTypes[1].id"
	msg  string
	// name is a key the script chose (an unknown option); it is left out of order-time errors.
	name string
}

func (e *fieldErr) Error() string { return e.path + ": " + e.msg }

var productionTypeNames = []string{"id", "layoutId", "label"}

var overrideNames = []string{"commonName", "upn", "email", "elements", "costCentre", "deliveryAddress"}

var addressNames = []string{"recipient", "addressOne", "addressTwo", "postalCode", "city", "countryCode"}

// photoNames are result names that would set the card's photo: mapUserToCard may not (the photo
// is the directory's, docs/option-script.md).
var photoNames = []string{"photo", "photoUrl", "photoURL", "hasPhoto", "picture", "image"}

// Bounds checked before reading arrays and maps; validator/v10 checks the same again.
const (
	maxProductionTypes = 100
	maxElements        = 64
)

type productionTypeDoc struct {
	ID       string `json:"id" validate:"notblank,max=64"`
	LayoutID string `json:"layoutId" validate:"notblank,max=128"`
	Label    string `json:"label" validate:"notblank,max=256"`
}

type optionsDoc struct {
	ProductionTypes       []productionTypeDoc `json:"productionTypes" validate:"min=1,max=100,unique=ID,dive"`
	DefaultProductionType string              `json:"defaultProductionType" validate:"notblank,max=64"`
}

type overridesDoc struct {
	CommonName *string           `json:"commonName" validate:"omitnil,max=256"`
	UPN        *string           `json:"upn" validate:"omitnil,max=256"`
	Email      *string           `json:"email" validate:"omitnil,max=256"`
	Elements   map[string]string `json:"elements" validate:"max=64,dive,keys,notblank,max=64,endkeys,max=1024"`
	CostCentre *string           `json:"costCentre" validate:"omitnil,max=64"`
	// DeliveryAddress is validated as addressDoc.
	DeliveryAddress *addressDoc `json:"deliveryAddress" validate:"omitnil"`
}

type addressDoc struct {
	Recipient   string `json:"recipient" validate:"max=256"`
	AddressOne  string `json:"addressOne" validate:"notblank,max=256"`
	AddressTwo  string `json:"addressTwo" validate:"max=256"`
	PostalCode  string `json:"postalCode" validate:"notblank,max=32"`
	City        string `json:"city" validate:"notblank,max=128"`
	CountryCode string `json:"countryCode" validate:"len=2,alpha,uppercase"`
}

// validate is the package's one validator instance, built on first use.
var validate = sync.OnceValue(func() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			return ""
		}
		return name
	})
	if err := v.RegisterValidation("notblank", func(fl validator.FieldLevel) bool {
		return strings.TrimSpace(fl.Field().String()) != ""
	}); err != nil {
		panic(err)
	}
	return v
})

// validationErr turns the first validator error into a fieldErr naming the JSON path.
func validationErr(err error, prefix string) *fieldErr {
	verrs, ok := err.(validator.ValidationErrors)
	if !ok || len(verrs) == 0 {
		return &fieldErr{path: prefix, msg: "invalid"}
	}
	fe := verrs[0]
	path := fe.Namespace()
	if _, rest, ok := strings.Cut(path, "."); ok {
		path = rest
	}
	path = prefix + path
	var msg string
	switch fe.Tag() {
	case "notblank":
		msg = "must not be empty or blank"
	case "max":
		if fe.Kind() == reflect.String {
			msg = "must have at most " + fe.Param() + " characters"
		} else {
			msg = "must have at most " + fe.Param() + " entries"
		}
	case "min":
		msg = "must have at least " + fe.Param() + " entry"
	case "unique":
		msg = "ids must be unique"
	default:
		msg = "fails the " + fe.Tag() + " rule"
	}
	return &fieldErr{path: path, msg: msg}
}

// kindOf names a JavaScript value's type for messages (never its content).
func kindOf(v goja.Value) string {
	switch {
	case v == nil || goja.IsUndefined(v):
		return "undefined"
	case goja.IsNull(v):
		return "null"
	}
	switch v := v.(type) {
	case *goja.Object:
		switch v.ClassName() {
		case "Array":
			return "array"
		case "Function":
			return "function"
		}
		return "object"
	case *goja.Symbol:
		return "symbol"
	}
	switch t := v.ExportType(); {
	case t == nil:
		return "unknown"
	case t.Kind() == reflect.Bool:
		return "boolean"
	case t.Kind() == reflect.String:
		return "string"
	case t == reflect.TypeOf((*big.Int)(nil)):
		return "bigint"
	case t.Kind() == reflect.Int64 || t.Kind() == reflect.Float64:
		return "number"
	}
	return "unknown"
}

// fieldSet is the set of known names an object has (plainObject): a bit per name of known.
type fieldSet struct {
	known []string
	bits  uint64
}

// has reports whether the object has the known name.
func (f fieldSet) has(name string) bool {
	for i, k := range f.known {
		if k == name {
			return f.bits&(1<<i) != 0
		}
	}
	return false
}

// plainObject checks v is an object (not an array or function) and that its own enumerable keys
// are exactly known (all required) or a subset of known (required == false). known has at most
// 64 names.
func plainObject(v goja.Value, path string, known []string, required bool, what string) (*goja.Object, fieldSet, *fieldErr) {
	have := fieldSet{known: known}
	if k := kindOf(v); k != "object" {
		return nil, have, &fieldErr{path: path, msg: "must be an object, got " + k}
	}
	o := v.(*goja.Object)
	for _, k := range o.Keys() {
		i := slices.Index(known, k)
		if i < 0 || i >= 64 {
			msg := "unknown " + what
			if s := suggest(k, known); s != "" {
				msg += " (did you mean " + s + "?)"
			}
			msg += "; known: " + strings.Join(known, ", ")
			return nil, have, &fieldErr{path: join(path, k), msg: msg, name: k}
		}
		have.bits |= 1 << i
	}
	if required {
		for i, k := range known {
			if have.bits&(1<<i) == 0 {
				return nil, have, &fieldErr{path: join(path, k), msg: "missing " + what + " (every " + what + " must be given)"}
			}
		}
	}
	return o, have, nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// field reads o's own property key, which the caller knows to be there (from the object's own
// enumerable keys). No object a script makes has an accessor property (literals.go, sandbox.js),
// so reading runs none of the script's code and allocates nothing.
func (sb *sandbox) field(o *goja.Object, _, key string) (goja.Value, *fieldErr) {
	return o.Get(key), nil
}

// ownElement reads element i of arr, and reports whether it is arr's own (not a hole, which
// would be looked up on the prototype chain).
func (sb *sandbox) ownElement(arr *goja.Object, i int) (goja.Value, bool) {
	key := strconv.Itoa(i)
	has, err := sb.hasOwn(arr, sb.vm.ToValue(key))
	if err != nil || !has.ToBoolean() {
		return goja.Undefined(), false
	}
	return arr.Get(key), true
}

func (sb *sandbox) boolField(o *goja.Object, path, key string) (bool, *fieldErr) {
	v, fe := sb.field(o, path, key)
	if fe != nil {
		return false, fe
	}
	if k := kindOf(v); k != "boolean" {
		return false, &fieldErr{path: join(path, key), msg: "must be true or false, got " + k}
	}
	return v.ToBoolean(), nil
}

func (sb *sandbox) stringField(o *goja.Object, path, key string) (string, *fieldErr) {
	v, fe := sb.field(o, path, key)
	if fe != nil {
		return "", fe
	}
	if k := kindOf(v); k != "string" {
		return "", &fieldErr{path: join(path, key), msg: "must be a string, got " + k}
	}
	return v.String(), nil
}

// decodeOptions reads and validates an options object against the table tbl (table.go): every
// required option must be there, an optional one left out takes its default (its name is in
// defaulted), unknown names and wrong types are errors.
//
// valid is a list of production types validated before (the script's options at load), or nil:
// a result with the same list needs only its default type checked against it.
func (sb *sandbox) decodeOptions(v goja.Value, tbl []Option, tblNames []string, valid []ports.ProductionType) (o ports.Options, defaulted []string, fe *fieldErr) {
	obj, have, fe := plainObject(v, "", tblNames, false, "option")
	if fe != nil {
		if fe.path == "" {
			fe.path = "options"
		}
		return o, nil, fe
	}
	for _, opt := range tbl {
		if !have.has(opt.Name) && opt.Required {
			return o, nil, &fieldErr{path: opt.Name, msg: "missing option (every option must be given)"}
		}
	}
	for _, opt := range tbl {
		var val any
		if !have.has(opt.Name) {
			val = opt.Default
			if pts, ok := val.([]ports.ProductionType); ok {
				val = slices.Clone(pts)
			}
			defaulted = append(defaulted, opt.Name)
		} else {
			switch opt.Kind {
			case KindBool:
				val, fe = sb.boolField(obj, "", opt.Name)
			case KindString:
				val, fe = sb.stringField(obj, "", opt.Name)
			case KindProductionTypes:
				val, fe = sb.productionTypes(obj)
			default:
				fe = &fieldErr{path: opt.Name, msg: "has an unknown kind " + string(opt.Kind)}
			}
			if fe != nil {
				return o, nil, fe
			}
		}
		if opt.set != nil {
			opt.set(&o, val)
		}
	}
	if valid != nil && slices.Equal(o.ProductionTypes, valid) {
		if _, ok := o.ProductionType(o.DefaultProductionType); !ok {
			return o, nil, &fieldErr{path: "defaultProductionType", msg: "must be one of the ids in productionTypes"}
		}
		return o, defaulted, nil
	}
	return o, defaulted, validateOptions(o)
}

// productionTypes reads the list of production types.
func (sb *sandbox) productionTypes(obj *goja.Object) ([]ports.ProductionType, *fieldErr) {
	pts, fe := sb.field(obj, "", "productionTypes")
	if fe != nil {
		return nil, fe
	}
	if k := kindOf(pts); k != "array" {
		return nil, &fieldErr{path: "productionTypes", msg: "must be a list of production types, got " + k}
	}
	arr := pts.(*goja.Object)
	n := arr.Get("length").ToInteger()
	if n > maxProductionTypes {
		return nil, &fieldErr{path: "productionTypes", msg: fmt.Sprintf("must have at most %d entries", maxProductionTypes)}
	}
	out := make([]ports.ProductionType, n)
	for i := range out {
		path := "productionTypes[" + strconv.Itoa(i) + "]"
		ev, own := sb.ownElement(arr, i)
		if !own {
			return nil, &fieldErr{path: path, msg: "is missing (a hole in the list)"}
		}
		pt, _, fe := plainObject(ev, path, productionTypeNames, true, "field")
		if fe != nil {
			return nil, fe
		}
		p := &out[i]
		for _, f := range []struct {
			key string
			dst *string
		}{{"id", &p.ID}, {"layoutId", &p.LayoutID}, {"label", &p.Label}} {
			if *f.dst, fe = sb.stringField(pt, path, f.key); fe != nil {
				return nil, fe
			}
		}
	}
	return out, nil
}

// validateOptions checks the values of complete options.
func validateOptions(o ports.Options) *fieldErr {
	doc := optionsDoc{DefaultProductionType: o.DefaultProductionType}
	for _, pt := range o.ProductionTypes {
		doc.ProductionTypes = append(doc.ProductionTypes, productionTypeDoc(pt))
	}
	if err := validate().Struct(doc); err != nil {
		return validationErr(err, "")
	}
	if _, ok := o.ProductionType(o.DefaultProductionType); !ok {
		return &fieldErr{path: "defaultProductionType", msg: "must be one of the ids in productionTypes"}
	}
	return nil
}

// decodeOverrides reads and validates what mapUserToCard returned.
func (sb *sandbox) decodeOverrides(v goja.Value) (*ports.CardOverrides, *fieldErr) {
	const path = "mapUserToCard()"
	obj, have, fe := plainObject(v, path, overrideNames, false, "field")
	if fe != nil {
		if slices.Contains(photoNames, fe.name) {
			fe.msg = "mapUserToCard may not set the photo (the card carries the directory's photo)"
		}
		return nil, fe
	}
	var doc overridesDoc
	for _, f := range []struct {
		key string
		dst **string
	}{{"commonName", &doc.CommonName}, {"upn", &doc.UPN}, {"email", &doc.Email}, {"costCentre", &doc.CostCentre}} {
		if !have.has(f.key) {
			continue
		}
		s, fe := sb.stringField(obj, path, f.key)
		if fe != nil {
			return nil, fe
		}
		*f.dst = &s
	}
	if have.has("elements") {
		ev, fe := sb.field(obj, path, "elements")
		if fe != nil {
			return nil, fe
		}
		if k := kindOf(ev); k != "object" {
			return nil, &fieldErr{path: path + ".elements", msg: "must be an object of names to strings, got " + k}
		}
		eo := ev.(*goja.Object)
		keys := eo.Keys()
		if len(keys) > maxElements {
			return nil, &fieldErr{path: path + ".elements", msg: fmt.Sprintf("must have at most %d entries", maxElements)}
		}
		doc.Elements = make(map[string]string, len(keys))
		for _, k := range keys {
			s, fe := sb.stringField(eo, path+".elements", k)
			if fe != nil {
				fe.name = k
				return nil, fe
			}
			doc.Elements[k] = s
		}
	}
	if have.has("deliveryAddress") {
		av, _ := sb.field(obj, path, "deliveryAddress")
		ap := path + ".deliveryAddress"
		ao, haveA, fe := plainObject(av, ap, addressNames, false, "address field")
		if fe != nil {
			return nil, fe
		}
		a := &addressDoc{}
		for _, f := range []struct {
			key string
			dst *string
		}{{"recipient", &a.Recipient}, {"addressOne", &a.AddressOne}, {"addressTwo", &a.AddressTwo},
			{"postalCode", &a.PostalCode}, {"city", &a.City}, {"countryCode", &a.CountryCode}} {
			if !haveA.has(f.key) {
				continue
			}
			s, fe := sb.stringField(ao, ap, f.key)
			if fe != nil {
				return nil, fe
			}
			*f.dst = s
		}
		doc.DeliveryAddress = a
	}
	if plainlyValid(&doc) {
		return doc.overrides(), nil
	}
	if err := validate().Struct(doc); err != nil {
		fe := validationErr(err, path+".")
		if i := strings.Index(fe.path, ".elements["); i >= 0 {
			fe.path = fe.path[:i] + ".elements" // element names are data: keep them out of the path
		}
		return nil, fe
	}
	return doc.overrides(), nil
}

func (doc *overridesDoc) overrides() *ports.CardOverrides {
	ov := &ports.CardOverrides{CommonName: doc.CommonName, UPN: doc.UPN, Email: doc.Email, Elements: doc.Elements, CostCentre: doc.CostCentre}
	if a := doc.DeliveryAddress; a != nil {
		ov.DeliveryAddress = &ports.Address{Recipient: a.Recipient, AddressOne: a.AddressOne, AddressTwo: a.AddressTwo,
			PostalCode: a.PostalCode, City: a.City, CountryCode: a.CountryCode}
	}
	return ov
}

// plainlyValid is the validator's verdict on a mapping without a delivery address, checked by
// hand (validator/v10 costs about a fifth of a live evaluation): the same rules as the tags of
// overridesDoc. It only says yes when the validator would; a mapping it refuses, or one with an
// address, goes to the validator, which names the field.
func plainlyValid(doc *overridesDoc) bool {
	within := func(p *string, n int) bool { return p == nil || utf8.RuneCountInString(*p) <= n }
	if doc.DeliveryAddress != nil || !within(doc.CommonName, 256) || !within(doc.UPN, 256) ||
		!within(doc.Email, 256) || !within(doc.CostCentre, 64) || len(doc.Elements) > maxElements {
		return false
	}
	for k, v := range doc.Elements {
		if strings.TrimSpace(k) == "" || utf8.RuneCountInString(k) > 64 || utf8.RuneCountInString(v) > 1024 {
			return false
		}
	}
	return true
}

// suggest returns the known name closest to s, if it is close (a typo).
func suggest(s string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := distance(strings.ToLower(s), strings.ToLower(k)); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// distance is the Levenshtein distance (short strings only).
func distance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
