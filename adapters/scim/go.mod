module github.com/cardsaddon/extprod/adapters/scim

go 1.26.0

require (
	github.com/cardsaddon/extprod v0.0.0-00010101000000-000000000000
	github.com/elimity-com/scim v0.0.0-20260728105928-2641426a1539
	github.com/google/go-cmp v0.7.0
	github.com/matryer/is v1.4.1
)

require (
	github.com/q-uint/parser v0.3.1 // indirect
	github.com/q-uint/xsd-datetime v1.0.0 // indirect
	github.com/scim2/filter-parser/v2 v2.3.1 // indirect
)

replace github.com/cardsaddon/extprod => ../..
