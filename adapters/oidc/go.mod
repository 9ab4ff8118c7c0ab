module github.com/cardsaddon/extprod/adapters/oidc

go 1.26.0

require (
	github.com/cardsaddon/extprod v0.0.0-00010101000000-000000000000
	github.com/coreos/go-oidc/v3 v3.21.0
)

require (
	github.com/go-jose/go-jose/v4 v4.1.9 // indirect
	golang.org/x/oauth2 v0.38.0 // indirect
)

replace github.com/cardsaddon/extprod => ../..
