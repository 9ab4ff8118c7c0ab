package gocardsfake

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// What the fake checks in a placed order before it accepts it.

// validate checks an order against its layout, and its photo, delivery address and cost
// centre; s.mu is held. It returns 0 and the decoded photo for a valid order.
func (s *Server) validate(req *orderRequest) (int, string, map[string]string, []byte) {
	if req.ExternalReference == "" {
		return http.StatusBadRequest, "externalReference is required", nil, nil
	}
	if req.LayoutID == "" {
		return http.StatusBadRequest, "layoutId is required", nil, nil
	}
	var lay *Layout
	for i := range s.layouts {
		if s.layouts[i].ID == req.LayoutID {
			lay = &s.layouts[i]
		}
	}
	if lay == nil {
		return http.StatusUnprocessableEntity, "unknown layout", map[string]string{"layoutId": "unknown layout " + req.LayoutID}, nil
	}
	fields := map[string]string{}
	photo := s.checkPhoto(req.Photo, fields)
	checkAddress(req.DeliveryAddress, fields)
	if utf8.RuneCountInString(req.CostCentre) > s.cfg.MaxCostCentre {
		fields["costCentre"] = "too long"
	}
	for _, f := range lay.Fields {
		if f.Name == PhotoField {
			if f.Required && photo == nil && fields["photo"] == "" {
				fields["photo"] = "required"
			}
			continue
		}
		v, ok := req.CardElements[f.Name]
		switch {
		case f.Required && (!ok || strings.TrimSpace(v) == ""):
			fields[f.Name] = "required"
		case f.MaxLength > 0 && utf8.RuneCountInString(v) > f.MaxLength:
			fields[f.Name] = "too long"
		}
	}
	if len(fields) > 0 {
		return http.StatusUnprocessableEntity, "invalid card data", fields, nil
	}
	return 0, "", nil, photo
}

// checkPhoto decodes an order's photo (standard base64) and checks that it is a JPEG or a PNG
// of at most Config.MaxPhotoBytes; nil when there is none or it is bad (fields says why).
func (s *Server) checkPhoto(b64 string, fields map[string]string) []byte {
	if b64 == "" {
		return nil
	}
	if base64.StdEncoding.DecodedLen(len(b64)) > s.cfg.MaxPhotoBytes+2 {
		fields["photo"] = "larger than " + strconv.Itoa(s.cfg.MaxPhotoBytes) + " bytes"
		return nil
	}
	photo, err := base64.StdEncoding.DecodeString(b64)
	switch {
	case err != nil:
		fields["photo"] = "not base64"
	case len(photo) > s.cfg.MaxPhotoBytes:
		fields["photo"] = "larger than " + strconv.Itoa(s.cfg.MaxPhotoBytes) + " bytes"
	case !bytes.HasPrefix(photo, []byte{0xFF, 0xD8, 0xFF}) && !bytes.HasPrefix(photo, []byte("\x89PNG\r\n\x1a\n")):
		fields["photo"] = "not a JPEG or PNG"
	default:
		return photo
	}
	return nil
}

// checkAddress checks a delivery address: recipient, addressOne, postalCode and city present,
// a two-letter upper-case country code, every part within its limit.
func checkAddress(a *Address, fields map[string]string) {
	if a == nil {
		return
	}
	for _, f := range [...]struct {
		name     string
		v        string
		required bool
		max      int
	}{
		{"recipient", a.Recipient, true, MaxAddressLine},
		{"addressOne", a.AddressOne, true, MaxAddressLine},
		{"addressTwo", a.AddressTwo, false, MaxAddressLine},
		{"postalCode", a.PostalCode, true, MaxPostalCode},
		{"city", a.City, true, MaxCity},
	} {
		switch {
		case f.required && strings.TrimSpace(f.v) == "":
			fields["deliveryAddress."+f.name] = "required"
		case utf8.RuneCountInString(f.v) > f.max:
			fields["deliveryAddress."+f.name] = "too long"
		}
	}
	cc := a.CountryCode
	if len(cc) != 2 || cc[0] < 'A' || cc[0] > 'Z' || cc[1] < 'A' || cc[1] > 'Z' {
		fields["deliveryAddress.countryCode"] = "not a two-letter country code"
	}
}
