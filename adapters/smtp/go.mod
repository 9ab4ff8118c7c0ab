module github.com/cardsaddon/extprod/adapters/smtp

go 1.26.0

require (
	github.com/cardsaddon/extprod v0.0.0-00010101000000-000000000000
	github.com/wneessen/go-mail v0.8.1
)

require (
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/text v0.43.0 // indirect
)

replace github.com/cardsaddon/extprod => ../..
