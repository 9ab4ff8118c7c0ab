package scim

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/cardsaddon/extprod/ports"
)

// The schema URIs of RFC 7643 and RFC 7644 that a response must carry.
const (
	// SchemaUser is the core User schema (RFC 7643 §4.1).
	SchemaUser = "urn:ietf:params:scim:schemas:core:2.0:User"
	// SchemaEnterpriseUser is the enterprise User extension (RFC 7643 §4.3).
	SchemaEnterpriseUser = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	// SchemaListResponse is the list response message (RFC 7644 §3.4.2).
	SchemaListResponse = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
)

// scimUser is the part of a SCIM User resource the adapter maps. Members it does not know are
// ignored; a member it knows must have the type RFC 7643 gives it.
type scimUser struct {
	Schemas     []string       `json:"schemas"`
	ID          string         `json:"id"`
	ExternalID  string         `json:"externalId"`
	UserName    string         `json:"userName"`
	DisplayName string         `json:"displayName"`
	Title       string         `json:"title"`
	UserType    string         `json:"userType"`
	Active      *bool          `json:"active"`
	Name        *scimName      `json:"name"`
	Emails      []multiValue   `json:"emails"`
	Photos      []multiValue   `json:"photos"`
	Addresses   []scimAddress  `json:"addresses"`
	Enterprise  *scimEnterpris `json:"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"`
}

type scimName struct {
	Formatted  string `json:"formatted"`
	GivenName  string `json:"givenName"`
	FamilyName string `json:"familyName"`
}

// multiValue is an entry of a multi-valued attribute (RFC 7643 §2.4).
type multiValue struct {
	Value   string `json:"value"`
	Type    string `json:"type"`
	Primary bool   `json:"primary"`
}

type scimAddress struct {
	Type          string `json:"type"`
	Primary       bool   `json:"primary"`
	Formatted     string `json:"formatted"`
	StreetAddress string `json:"streetAddress"`
	Locality      string `json:"locality"`
	Region        string `json:"region"`
	PostalCode    string `json:"postalCode"`
	Country       string `json:"country"`
}

type scimEnterpris struct {
	EmployeeNumber string `json:"employeeNumber"`
	CostCenter     string `json:"costCenter"`
	Organization   string `json:"organization"`
	Division       string `json:"division"`
	Department     string `json:"department"`
}

// scimList is a list response (RFC 7644 §3.4.2). Resources stay raw until one is picked.
type scimList struct {
	Schemas      []string          `json:"schemas"`
	TotalResults *int              `json:"totalResults"`
	Resources    []json.RawMessage `json:"Resources"`
}

// decodeError says what is wrong with a response without quoting it: a SCIM resource is
// personal data, and encoding/json's messages may quote values.
func decodeError(what string, err error) error {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("scim: %s: malformed JSON at offset %d: %w", what, syn.Offset, ports.ErrProtocol)
	case errors.As(err, &typ):
		// Field is a JSON path of attribute names (schema, not data); Value is a JSON kind.
		return fmt.Errorf("scim: %s: attribute %q is a JSON %s: %w", what, typ.Field, typ.Value, ports.ErrProtocol)
	default:
		return fmt.Errorf("scim: %s: undecodable JSON: %w", what, ports.ErrProtocol)
	}
}

// decodeUser decodes one SCIM User resource strictly: valid JSON, a single object, the core
// User schema named, an id, and every attribute the adapter reads of its RFC 7643 type.
func decodeUser(body []byte) (scimUser, map[string]json.RawMessage, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return scimUser{}, nil, decodeError("user resource", err)
	}
	if raw == nil {
		return scimUser{}, nil, fmt.Errorf("scim: user resource: not a JSON object: %w", ports.ErrProtocol)
	}
	var u scimUser
	if err := json.Unmarshal(body, &u); err != nil {
		return scimUser{}, nil, decodeError("user resource", err)
	}
	if !hasSchema(u.Schemas, SchemaUser) {
		return scimUser{}, nil, fmt.Errorf("scim: user resource: schemas lack %s: %w", SchemaUser, ports.ErrProtocol)
	}
	if u.ID == "" {
		return scimUser{}, nil, fmt.Errorf("scim: user resource: no id: %w", ports.ErrProtocol)
	}
	return u, raw, nil
}

// decodeList decodes a list response strictly and returns its resources.
func decodeList(body []byte) (total int, resources []json.RawMessage, err error) {
	var l scimList
	if err := json.Unmarshal(body, &l); err != nil {
		return 0, nil, decodeError("list response", err)
	}
	if !hasSchema(l.Schemas, SchemaListResponse) {
		return 0, nil, fmt.Errorf("scim: list response: schemas lack %s: %w", SchemaListResponse, ports.ErrProtocol)
	}
	if l.TotalResults == nil || *l.TotalResults < 0 {
		return 0, nil, fmt.Errorf("scim: list response: no valid totalResults: %w", ports.ErrProtocol)
	}
	if len(l.Resources) > *l.TotalResults {
		return 0, nil, fmt.Errorf("scim: list response: %d resources but totalResults %d: %w", len(l.Resources), *l.TotalResults, ports.ErrProtocol)
	}
	return *l.TotalResults, l.Resources, nil
}

func hasSchema(schemas []string, want string) bool {
	for _, s := range schemas {
		// Schema URIs are case-insensitive (RFC 7643 §3).
		if strings.EqualFold(s, want) {
			return true
		}
	}
	return false
}

// mapping is what the mapping needs to know of the configuration.
type mapping struct {
	upnAttribute     string
	activeWhenAbsent bool
}

// toUser maps a decoded SCIM user to a ports.User whose ID is key (the id the host asked for).
func (m mapping) toUser(key string, u scimUser, raw map[string]json.RawMessage) (ports.User, error) {
	out := ports.User{ID: key, State: ports.UserInactive}
	switch {
	case u.Active != nil && *u.Active:
		out.State = ports.UserActive
	case u.Active == nil && m.activeWhenAbsent:
		out.State = ports.UserActive
	}
	if u.Name != nil {
		out.GivenName = u.Name.GivenName
		out.FamilyName = u.Name.FamilyName
	}
	out.Email = pick(u.Emails, "work").Value
	out.UPN = u.UserName
	if m.upnAttribute != "" && m.upnAttribute != "userName" {
		v, err := attributeString(raw, m.upnAttribute)
		if err != nil {
			return ports.User{}, err
		}
		out.UPN = v
	}
	if e := u.Enterprise; e != nil {
		out.Organisation = e.Organization
		out.Department = e.Department
		out.EmployeeNumber = e.EmployeeNumber
		out.CostCentre = e.CostCenter
	}
	out.PhotoURL = pickPhoto(u.Photos)
	out.DeliveryAddress = workAddress(u)

	attrs := map[string]string{"scimId": u.ID}
	for k, v := range map[string]string{
		"userName": u.UserName, "externalId": u.ExternalID, "displayName": u.DisplayName,
		"title": u.Title, "userType": u.UserType,
	} {
		if v != "" {
			attrs[k] = v
		}
	}
	if u.Enterprise != nil && u.Enterprise.Division != "" {
		attrs["division"] = u.Enterprise.Division
	}
	out.Attributes = attrs
	return out, nil
}

// pick returns the primary entry with a value, else the first of type typ, else the first with a
// value; the zero entry when there is none.
func pick(vs []multiValue, typ string) multiValue {
	for _, v := range vs {
		if v.Primary && v.Value != "" {
			return v
		}
	}
	for _, v := range vs {
		if strings.EqualFold(v.Type, typ) && v.Value != "" {
			return v
		}
	}
	for _, v := range vs {
		if v.Value != "" {
			return v
		}
	}
	return multiValue{}
}

// pickPhoto returns the primary photo, else the first of type "photo"; a thumbnail alone is no
// photo for a card.
func pickPhoto(vs []multiValue) string {
	for _, v := range vs {
		if v.Primary && v.Value != "" {
			return v.Value
		}
	}
	for _, v := range vs {
		if strings.EqualFold(v.Type, "photo") && v.Value != "" {
			return v.Value
		}
	}
	return ""
}

// workAddress maps the user's work address (the primary one of type work, else the first of
// type work). An address without street, postal code, locality or a two-letter country is
// incomplete and gives nil: the bureau account's default applies.
func workAddress(u scimUser) *ports.Address {
	var a *scimAddress
	for i := range u.Addresses {
		if strings.EqualFold(u.Addresses[i].Type, "work") && (a == nil || (u.Addresses[i].Primary && !a.Primary)) {
			a = &u.Addresses[i]
		}
	}
	if a == nil {
		return nil
	}
	lines := strings.Split(strings.ReplaceAll(a.StreetAddress, "\r\n", "\n"), "\n")
	one := strings.TrimSpace(lines[0])
	var two []string
	for _, l := range lines[1:] {
		if l = strings.TrimSpace(l); l != "" {
			two = append(two, l)
		}
	}
	country := strings.ToUpper(strings.TrimSpace(a.Country))
	if one == "" || a.PostalCode == "" || a.Locality == "" || !isAlpha2(country) {
		return nil
	}
	recipient := ""
	if u.Name != nil {
		recipient = u.Name.Formatted
		if recipient == "" {
			recipient = strings.TrimSpace(u.Name.GivenName + " " + u.Name.FamilyName)
		}
	}
	return &ports.Address{
		Recipient:   recipient,
		AddressOne:  one,
		AddressTwo:  strings.Join(two, ", "),
		PostalCode:  a.PostalCode,
		City:        a.Locality,
		CountryCode: country,
	}
}

func isAlpha2(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}

// attributeString reads a string attribute by its path: "name" (a top-level attribute),
// "parent.sub" (a sub-attribute of a single complex attribute), or "<schema URN>:name" (an
// attribute of an extension schema, e.g. the enterprise extension's employeeNumber). An absent
// attribute is the empty string; a present one of another type is a protocol error.
func attributeString(raw map[string]json.RawMessage, path string) (string, error) {
	var obj = raw
	name := path
	if i := strings.LastIndex(path, ":"); i >= 0 {
		var ext map[string]json.RawMessage
		msg, ok := lookupFold(raw, path[:i])
		if !ok {
			return "", nil
		}
		if err := json.Unmarshal(msg, &ext); err != nil {
			return "", fmt.Errorf("scim: user resource: extension of attribute %q is not an object: %w", path, ports.ErrProtocol)
		}
		obj, name = ext, path[i+1:]
	}
	if i := strings.Index(name, "."); i >= 0 {
		var sub map[string]json.RawMessage
		msg, ok := lookupFold(obj, name[:i])
		if !ok {
			return "", nil
		}
		if err := json.Unmarshal(msg, &sub); err != nil {
			return "", fmt.Errorf("scim: user resource: parent of attribute %q is not an object: %w", path, ports.ErrProtocol)
		}
		obj, name = sub, name[i+1:]
	}
	msg, ok := lookupFold(obj, name)
	if !ok || string(msg) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(msg, &s); err != nil {
		return "", fmt.Errorf("scim: user resource: attribute %q is not a string: %w", path, ports.ErrProtocol)
	}
	return s, nil
}

// lookupFold finds a member by name, exactly or else case-insensitively: SCIM attribute names
// are case-insensitive (RFC 7643 §2.1).
func lookupFold(obj map[string]json.RawMessage, name string) (json.RawMessage, bool) {
	if v, ok := obj[name]; ok {
		return v, true
	}
	for k, v := range obj {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return nil, false
}

// keyMatches reports whether the resource's attribute at path (the syntax of attributeString;
// for "parent.sub" the parent may also be multi-valued, as in "emails.value") equals key, case
// aside: the loosest match a filter "eq" may make (RFC 7644 §3.4.2.2).
func keyMatches(raw map[string]json.RawMessage, path, key string) (bool, error) {
	obj := raw
	name := path
	if i := strings.LastIndex(path, ":"); i >= 0 {
		msg, ok := lookupFold(raw, path[:i])
		if !ok {
			return false, nil
		}
		var ext map[string]json.RawMessage
		if err := json.Unmarshal(msg, &ext); err != nil {
			return false, fmt.Errorf("scim: user resource: extension of the key attribute is not an object: %w", ports.ErrProtocol)
		}
		obj, name = ext, path[i+1:]
	}
	parent, sub, multi := strings.Cut(name, ".")
	if multi {
		msg, ok := lookupFold(obj, parent)
		if !ok {
			return false, nil
		}
		var elems []map[string]json.RawMessage
		if err := json.Unmarshal(msg, &elems); err != nil {
			// a single complex attribute
			v, err := attributeString(obj, name)
			return err == nil && strings.EqualFold(v, key), err
		}
		for _, e := range elems {
			v, err := attributeString(e, sub)
			if err != nil {
				return false, err
			}
			if strings.EqualFold(v, key) {
				return true, nil
			}
		}
		return false, nil
	}
	v, err := attributeString(obj, name)
	return err == nil && strings.EqualFold(v, key), err
}
