package main

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/cardsaddon/extprod/adapters/httpapi"
	"github.com/cardsaddon/extprod/ports"
)

// demoSeed is the built-in seed: a few users (one inactive; two of organisation Finance, whose
// orders need approval under the demo options) and one token per role.
//
//go:embed seed.json
var demoSeed []byte

// seed is the users and tokens a host starts with (docs/http-api.md "The example host").
type seed struct {
	Users  []ports.User `json:"users"`
	Actors []seedActor  `json:"actors"`
}

type seedActor struct {
	Token string       `json:"token"`
	ID    string       `json:"id"`
	Roles []ports.Role `json:"roles"`
}

// parseSeed decodes and checks a seed file strictly.
func parseSeed(b []byte) (seed, error) {
	var s seed
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return seed{}, fmt.Errorf("seed: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return seed{}, errors.New("seed: unexpected data after the JSON object")
	}
	users := map[string]bool{}
	for i, u := range s.Users {
		if u.ID == "" || users[u.ID] {
			return seed{}, fmt.Errorf("seed: users[%d]: empty or duplicate id", i)
		}
		users[u.ID] = true
	}
	tokens := map[string]bool{}
	for i, a := range s.Actors {
		if a.Token == "" || a.ID == "" || tokens[a.Token] {
			return seed{}, fmt.Errorf("seed: actors[%d]: a token and an id are required, and tokens must be unique", i)
		}
		tokens[a.Token] = true
		for _, r := range a.Roles {
			switch r {
			case ports.RoleOperator, ports.RoleApprover, ports.RoleAdmin, ports.RoleSelfService:
			default:
				return seed{}, fmt.Errorf("seed: actors[%d]: unknown role %q", i, r)
			}
		}
	}
	return s, nil
}

// tokens returns the seed's token → actor map.
func (s seed) tokens() httpapi.StaticTokens {
	t := make(httpapi.StaticTokens, len(s.Actors))
	for _, a := range s.Actors {
		t[a.Token] = ports.Actor{ID: a.ID, Roles: a.Roles}
	}
	return t
}
