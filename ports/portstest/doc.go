// Package portstest is the conformance suite of the ports: one exported Run function per port
// that an adapter — one of ours or a host's own — calls from its own tests to prove that it
// honours the contracts written on the interfaces of package [ports], including the concurrency
// guarantees (one open order per user, compare-and-set updates, claim-or-abort). It is a normal
// package, modelled on [testing/fstest.TestFS] and [testing/slogtest.Run]: a constructor argument
// and many subtests.
//
// # Running it
//
// A card store implements [ports.CardStore], [ports.Queue] and [ports.Outbox] over the same
// storage ([Store]). Its test calls [RunStore] with a constructor that returns a fresh, empty
// store for every subtest:
//
//	func TestMyStore(t *testing.T) {
//		portstest.RunStore(t, func(t *testing.T) portstest.Store {
//			s := mystore.New(...)
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// The same for the option script store and the bureau client:
//
//	func TestMyScriptStore(t *testing.T) {
//		portstest.RunScriptStore(t, func(t *testing.T) ports.ScriptStore { return myscripts.New(...) })
//	}
//
//	func TestMyBureauClient(t *testing.T) {
//		portstest.RunProvider(t,
//			func(t *testing.T) ports.Provider { return mybureau.NewClient(fakeServer(t).URL) },
//			func(i int) ports.ProviderOrder {
//				id := fmt.Sprintf("card-%d", i)
//				return ports.ProviderOrder{IdempotencyKey: id, ExternalReference: id, LayoutID: "L-100",
//					Elements: map[string]string{"FIRST_NAME": "Ada", "LAST_NAME": "Lovelace"}}
//			})
//	}
//
// The shared records of the HTTP API, the bureau events handler and the background jobs have
// their own suites, each taking a constructor of a new, empty value:
//
//	portstest.RunIdempotencyStore(t, func(t *testing.T) ports.IdempotencyStore { return mystore.Idempotency() })
//	portstest.RunEventDedup(t, func(t *testing.T) ports.EventDedup { return mystore.Dedup() })
//	portstest.RunJobLeases(t, func(t *testing.T) ports.JobLeases { return mystore.Leases() })
//
// Run it with the race detector (go test -race): several subtests race a thousand goroutines
// against one store and only show their full value under it. Every subtest has a stable name, so
// one can be selected with -run, for example -run 'TestMyStore/Queue/AbortClaimRace'.
//
// # What the suite assumes of a store
//
//   - The constructor returns a store that is empty (no cards, no pending events or
//     notifications) and that no other test writes to while the subtest runs. Release resources
//     with t.Cleanup.
//   - Ids are short ASCII strings ("card-00012"); times are whole seconds in UTC, so a store that
//     keeps times at second precision or finer round-trips them. Cards, events and notifications
//     are compared with [github.com/google/go-cmp/cmp], treating nil and empty maps and slices as
//     equal and times by [time.Time.Equal].
//   - Errors are compared with [errors.Is] against the sentinels of package ports, so they may be
//     wrapped.
//
// Three checks follow from the contracts rather than restating them, because the domain relies
// on them: Create refuses a card id that is already stored (Cards/CreateAllOrNone: a creation
// never overwrites); a card given to or read from a store is the caller's copy, maps and slices
// included (Cards/CardsAreCopies); and a List cursor stays correct while the cards already
// listed change state, as they do while a status sync pages through them
// (List/CursorSurvivesUpdates).
//
// The suite never sleeps: time-dependent behaviour (leases, back-off, notification retries) is
// driven by the now argument of [ports.Queue.Claim], [ports.Queue.Stats],
// [ports.Outbox.ClaimEvents], [ports.Outbox.ClaimNotifications] and the records' methods. To
// read the outbox, the suite claims at times far after every lease it took before.
package portstest
