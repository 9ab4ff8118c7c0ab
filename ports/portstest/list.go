package portstest

import (
	"fmt"
	"slices"
	"strings"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sync/errgroup"

	"github.com/cardsaddon/extprod/ports"
)

var listTests = []storeTest{
	{"Empty", testListEmpty},
	{"OldestFirst", testListOldestFirst},
	{"Filters", testListFilters},
	{"Paging", testListPaging},
	{"PagingWhileAdding", testListPagingWhileAdding},
	{"CursorSurvivesUpdates", testListCursorSurvivesUpdates},
}

func testListEmpty(f *fixture) {
	p, err := f.s.List(f.ctx, ports.CardFilter{Limit: 10})
	if err != nil {
		f.t.Fatalf("List of an empty store: %v", err)
	}
	if len(p.Cards) != 0 || p.Next != 0 {
		f.t.Fatalf("List of an empty store = %d cards, Next %d; want none and 0", len(p.Cards), p.Next)
	}
}

// sixCards creates, one creation each, six cards of two users in several states; CreatedAt grows
// with creation order.
func (f *fixture) sixCards() (u1, u2 string, cards []ports.Card) {
	f.t.Helper()
	u1, u2 = f.id("user"), f.id("user")
	for i, spec := range []struct {
		user  string
		state ports.CardState
	}{
		{u1, ports.StateProduced},
		{u2, ports.StateProcessing},
		{u1, ports.StateFailed},
		{u2, ports.StateOrdered},
		{u1, ports.StateProcessing},
		{"", ports.StateOrdered},
	} {
		cards = append(cards, f.createOne(card(f.id("card"), spec.user, spec.state, at(i))))
	}
	return u1, u2, cards
}

func testListOldestFirst(f *fixture) {
	_, _, cards := f.sixCards()
	p, err := f.s.List(f.ctx, ports.CardFilter{Limit: 100})
	if err != nil {
		f.t.Fatalf("List: %v", err)
	}
	if d := cmp.Diff(cards, p.Cards, equateEmpty); d != "" {
		f.t.Fatalf("List of every card, oldest first (-want +got):\n%s", d)
	}
	if p.Next != 0 {
		f.t.Fatalf("List of every card in one page: Next = %d, want 0", p.Next)
	}
}

// pick returns the cards for which keep is true, in order.
func pick(cards []ports.Card, keep func(ports.Card) bool) []ports.Card {
	var out []ports.Card
	for _, c := range cards {
		if keep(c) {
			out = append(out, c)
		}
	}
	return out
}

func testListFilters(f *fixture) {
	u1, u2, cards := f.sixCards()
	in := func(states ...ports.CardState) func(ports.Card) bool {
		return func(c ports.Card) bool { return slices.Contains(states, c.State) }
	}
	for _, tc := range []struct {
		name   string
		filter ports.CardFilter
		want   []ports.Card
	}{
		{"user", ports.CardFilter{UserID: u1}, pick(cards, func(c ports.Card) bool { return c.UserID == u1 })},
		{"other user", ports.CardFilter{UserID: u2}, pick(cards, func(c ports.Card) bool { return c.UserID == u2 })},
		{"unknown user", ports.CardFilter{UserID: "no-such-user"}, nil},
		{"one state", ports.CardFilter{States: []ports.CardState{ports.StateProcessing}}, pick(cards, in(ports.StateProcessing))},
		{"two states", ports.CardFilter{States: []ports.CardState{ports.StateOrdered, ports.StateFailed}},
			pick(cards, in(ports.StateOrdered, ports.StateFailed))},
		{"state without cards", ports.CardFilter{States: []ports.CardState{ports.StateRejected}}, nil},
		{"user and state", ports.CardFilter{UserID: u1, States: []ports.CardState{ports.StateProcessing, ports.StateOrdered}},
			pick(cards, func(c ports.Card) bool {
				return c.UserID == u1 && in(ports.StateProcessing, ports.StateOrdered)(c)
			})},
	} {
		tc.filter.Limit = 100
		p, err := f.s.List(f.ctx, tc.filter)
		if err != nil {
			f.t.Fatalf("List(%s): %v", tc.name, err)
		}
		if d := cmp.Diff(tc.want, p.Cards, equateEmpty); d != "" {
			f.t.Fatalf("List(%s) (-want +got):\n%s", tc.name, d)
		}
		if p.Next != 0 {
			f.t.Fatalf("List(%s) in one page: Next = %d, want 0", tc.name, p.Next)
		}
	}
}

func testListPaging(f *fixture) {
	u1, u2 := f.id("user"), f.id("user")
	var cards []ports.Card
	for i := range 12 {
		u, state := u1, ports.StateOrdered
		if i%5 == 1 || i%5 == 3 {
			u = u2
		}
		if i%3 == 0 {
			state = ports.StateProcessing
		}
		cards = append(cards, f.createOne(card(f.id("card"), u, state, at(i))))
	}
	for _, tc := range []struct {
		name   string
		filter ports.CardFilter
		want   []ports.Card
	}{
		{"all by 1", ports.CardFilter{Limit: 1}, cards},
		{"all by 5", ports.CardFilter{Limit: 5}, cards},
		{"all by 3 (the last page is full)", ports.CardFilter{Limit: 3}, cards},
		{"user by 2", ports.CardFilter{UserID: u1, Limit: 2}, pick(cards, func(c ports.Card) bool { return c.UserID == u1 })},
		{"state by 3", ports.CardFilter{States: []ports.CardState{ports.StateProcessing}, Limit: 3},
			pick(cards, func(c ports.Card) bool { return c.State == ports.StateProcessing })},
		{"user and state by 1", ports.CardFilter{UserID: u2, States: []ports.CardState{ports.StateOrdered}, Limit: 1},
			pick(cards, func(c ports.Card) bool { return c.UserID == u2 && c.State == ports.StateOrdered })},
	} {
		got := f.listAll(tc.filter, len(cards)+2)
		if d := cmp.Diff(ids(tc.want), ids(got)); d != "" {
			f.t.Fatalf("paging %s: ids (-want +got):\n%s", tc.name, d)
		}
		if d := cmp.Diff(tc.want, got, equateEmpty); d != "" {
			f.t.Fatalf("paging %s (-want +got):\n%s", tc.name, d)
		}
	}

	// A page shorter than the limit because no more cards match is the last one.
	p, err := f.s.List(f.ctx, ports.CardFilter{UserID: u2, Limit: 100})
	if err != nil {
		f.t.Fatalf("List: %v", err)
	}
	if p.Next != 0 {
		f.t.Fatalf("List of every card of a user: Next = %d, want 0 on the last page", p.Next)
	}
}

func testListPagingWhileAdding(f *fixture) {
	t := f.t
	const before, during = 300, 300
	u := f.id("user")
	pre := make([]ports.Card, before)
	for i := range pre {
		user := u
		if i%2 == 1 {
			user = f.id("user")
		}
		pre[i] = card(f.id("card"), user, ports.StateOrdered, at(i))
	}
	f.createMany(pre)
	added := make([]ports.Card, during)
	for i := range added {
		added[i] = card(f.id("card"), u, ports.StateOrdered, at(before+i))
	}

	// One goroutine adds cards one by one while the test pages through every card.
	var g errgroup.Group
	started := make(chan struct{})
	g.Go(func() error {
		close(started)
		for _, c := range added {
			if _, err := f.s.Create(f.ctx, ports.Creation{Cards: []ports.Card{c}}); err != nil {
				return fmt.Errorf("Create while listing: %w", err)
			}
		}
		return nil
	})
	<-started
	var listed []string
	filter := ports.CardFilter{Limit: 7}
	for pages := 0; ; pages++ {
		if pages > before+during {
			t.Fatal("paging while cards are added did not end")
		}
		p, err := f.s.List(f.ctx, filter)
		if err != nil {
			t.Fatalf("List while cards are added: %v", err)
		}
		listed = append(listed, ids(p.Cards)...)
		if p.Next == 0 {
			break
		}
		filter.After = p.Next
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}

	// Every card created before the listing began, once, in order; then only added cards, in
	// the order they were added, without repeats.
	if len(listed) < before {
		t.Fatalf("paging while cards are added listed %d cards, fewer than the %d created before it began", len(listed), before)
	}
	if d := cmp.Diff(ids(pre), listed[:before]); d != "" {
		t.Fatalf("paging while cards are added: the cards created before the listing began (-want +got):\n%s", d)
	}
	last := -1
	for _, id := range listed[before:] {
		i := slices.Index(ids(added), id)
		if i <= last {
			t.Fatalf("paging while cards are added: %s listed out of order or twice (listed: %s)", id, strings.Join(listed[before:], " "))
		}
		last = i
	}
	t.Logf("listed %d of the %d cards added meanwhile", len(listed)-before, during)
}

func testListCursorSurvivesUpdates(f *fixture) {
	t := f.t
	var cards []ports.Card
	for i := range 10 {
		cards = append(cards, f.createOne(card(f.id("card"), f.id("user"), ports.StateOrdered, at(i))))
	}
	// A status sync pages through the ordered cards and moves each one it saw on: the cursor
	// must not depend on the cards it has passed still matching the filter.
	filter := ports.CardFilter{States: []ports.CardState{ports.StateOrdered, ports.StateInProduction}, Limit: 3}
	var listed []string
	for pages := 0; ; pages++ {
		if pages > len(cards)+2 {
			t.Fatal("paging did not end")
		}
		p, err := f.s.List(f.ctx, filter)
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		for i, c := range p.Cards {
			listed = append(listed, c.ID)
			to := ports.StateProduced // leaves the filter
			if i == 1 {
				to = ports.StateInProduction // stays in the filter, changed
			}
			f.update(c, to, nil)
		}
		if p.Next == 0 {
			break
		}
		filter.After = p.Next
	}
	if d := cmp.Diff(ids(cards), listed); d != "" {
		t.Fatalf("paging while the listed cards change state: ids (-want +got):\n%s", d)
	}
}
