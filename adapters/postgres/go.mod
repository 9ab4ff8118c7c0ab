module github.com/cardsaddon/extprod/adapters/postgres

go 1.26.0

require (
	github.com/cardsaddon/extprod v0.0.0-00010101000000-000000000000
	github.com/jackc/pgx/v5 v5.12.0
	github.com/matryer/is v1.4.1
	golang.org/x/sync v0.25.0
)

require (
	github.com/google/go-cmp v0.7.0 // indirect
	github.com/jackc/pgpassfile v1.0.0 // indirect
	github.com/jackc/pgservicefile v0.0.0-20240606120523-5a60cdf6a761 // indirect
	github.com/jackc/puddle/v2 v2.2.3 // indirect
	golang.org/x/text v0.43.0 // indirect
)

replace github.com/cardsaddon/extprod => ../..
