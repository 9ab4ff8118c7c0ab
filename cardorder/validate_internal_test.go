package cardorder

import (
	"strings"
	"testing"

	"github.com/matryer/is"
)

// The hand check of the card data (plainlyValid, plainEmail) only decides that validator need
// not run: whatever it accepts, validator must accept too, or an order the tags refuse would go
// through. These tests hold it to that; what it rejects is left to validator.

var emailSamples = []string{
	"ada@example.com", "a.b-c_d+e@mail.corp-1.example", "x@y.co", "1@2.de", "ada@example", "ada@@example.com",
	"@example.com", "ada@", "ada@.example.com", "ada@example.com.", "ada@example..com", ".ada@example.com",
	"ada.@example.com", "a..b@example.com", "ada@-example.com", "ada@example-.com", "ada@example.c0m",
	"ada@example.c", "ada@example.1", "ada@exa_mple.com", "ada lovelace@example.com", "ada@example.com ",
	"Ada <ada@example.com>", `"ada"@example.com`, "ada@[127.0.0.1]", "ada(c)@example.com", "ada@xn--bcher-kva.example",
	"ädä@example.com", "ada@exämple.com", "a~b@example.com", "a!b#c$d%e&f'g*h/i=j?k^l`m{n|o}p@example.com",
	"ada@example.com\n", "ada@example.co~m", "ada@ex~ample.com", strings.Repeat("a", 300) + "@example.com",
}

func TestPlainEmailPassesValidator(t *testing.T) {
	is := is.New(t)
	v := newValidator()
	plain := 0
	for _, s := range emailSamples {
		if !plainEmail(s) {
			continue
		}
		plain++
		is.NoErr(v.Var(s, "email")) // plainEmail accepted what validator refuses
	}
	is.True(plain >= 6) // the samples exercise the accepting side
}

func FuzzPlainEmail(f *testing.F) {
	for _, s := range emailSamples {
		f.Add(s)
	}
	v := newValidator()
	f.Fuzz(func(t *testing.T, s string) {
		if plainEmail(s) && v.Var(s, "email") != nil {
			t.Fatalf("plainEmail(%q) is true, validator refuses it", s)
		}
	})
}

func FuzzPlainlyValid(f *testing.F) {
	f.Add("Ada", "Lovelace", "Ada Lovelace", "ada@corp.example", "ada@example.com")
	f.Add("", "Lovelace", "Ada Lovelace", "ada@corp.example", "")
	f.Add(strings.Repeat("ä", 64), strings.Repeat("ö", 65), strings.Repeat("x", 64), strings.Repeat("u", 256), "a@b.cd")
	f.Add("Ada", "Lovelace", "Ada Lovelace", strings.Repeat("ü", 257), strings.Repeat("e", 250)+"@b.cd")
	v := newValidator()
	f.Fuzz(func(t *testing.T, given, family, common, upn, email string) {
		c := cardFields{GivenName: given, FamilyName: family, CommonName: common, UPN: upn, Email: email}
		if c.plainlyValid() {
			if err := v.Struct(c); err != nil {
				t.Fatalf("plainlyValid(%+v) is true, validator says %v", c, err)
			}
		}
	})
}
