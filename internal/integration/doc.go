// Package integration holds tests that wire the domain to the reference adapters over real
// loopback HTTP: the dispatcher against the GO Cards fake under faults. It has no API.
package integration
