package options

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/matryer/is"

	"github.com/cardsaddon/extprod/ports"
)

// memoScript decides by coarse fields (channel, organisation, roles, an attribute and the
// attribute names) and maps by the department.
var memoScript = enabledDefault() + `
function resolve(ctx) {
  var o = Object.assign({}, options);
  if (ctx.channel === "temporary") o.defaultProductionType = "standard";
  if (ctx.user !== null && ctx.user.organisation === "Finance") o.approvalStep = true;
  if (ctx.actor.roles.indexOf("operator") < 0) o.queueCards = false;
  if (ctx.user !== null && ctx.user.attributes.site === "north") o.sendCardOrderedEmail = false;
  if (ctx.user !== null && Object.keys(ctx.user.attributes).length > 1) o.allowMultipleCardOrders = true;
  return o;
}
function mapUserToCard(user) {
  var department = user.department; // (not a template: the memo answers it, not Go)
  return { elements: { DEPARTMENT: department.toUpperCase() } };
}`

func enabledDefault() string {
	return strings.Replace(DefaultSource(), "enabled: false", "enabled: true", 1)
}

// randomRequest draws an order from a small space, so that many orders read alike.
func randomRequest(rng *rand.Rand) ports.OptionsRequest {
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	u := &ports.User{ID: fmt.Sprint("u-", rng.IntN(1000)), State: ports.UserActive, GivenName: "Ada", FamilyName: "Lovelace",
		Organisation: pick("Finance", "Research", ""), Department: pick("Sales", "Labs"),
		Attributes: map[string]string{"site": pick("north", "south")}}
	if rng.IntN(2) == 0 {
		u.Attributes["floor"] = pick("1", "2")
	}
	ch := ports.Channel(pick(string(ports.ChannelOperator), string(ports.ChannelSelfService), string(ports.ChannelBatch), string(ports.ChannelTemporary)))
	roles := []ports.Role{ports.RoleOperator}
	if ch == ports.ChannelSelfService {
		roles = []ports.Role{ports.RoleSelfService}
	}
	if ch == ports.ChannelTemporary {
		u = nil
	}
	return ports.OptionsRequest{User: u, Actor: ports.Actor{ID: "a", Roles: roles}, Channel: ch}
}

// TestMemoAnswersAsAFreshEvaluation: orders drawn from a small space are answered by one script
// (whose memos fill and then answer most of them) exactly as a script loaded afresh for each
// order answers them, and the memos did answer.
func TestMemoAnswersAsAFreshEvaluation(t *testing.T) {
	is := is.New(t)
	s, err := Load(memoScript, Limits{})
	is.NoErr(err)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 300; i++ {
		req := randomRequest(rng)
		got, err := s.Resolve(context.Background(), req)
		is.NoErr(err)
		fresh, err := Load(memoScript, Limits{})
		is.NoErr(err)
		want, err := fresh.Resolve(context.Background(), req)
		is.NoErr(err)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("order %d (%+v): memoized answer differs (-fresh +memo):\n%s", i, req, diff)
		}
	}
	is.True(s.resolveMemo.results > 0 && s.resolveMemo.results < 100) // a few dozen ways to read
	is.True(s.mapMemo.results == 2)                                   // Sales, Labs
	is.True(!s.resolveMemo.off && !s.mapMemo.off)
}

// TestMemoAnswerIsACopy: a caller changing what it got does not change the next answer.
func TestMemoAnswerIsACopy(t *testing.T) {
	is := is.New(t)
	s, err := Load(memoScript, Limits{})
	is.NoErr(err)
	req := operatorRequest()
	first, err := s.Resolve(context.Background(), req)
	is.NoErr(err)
	first.Options.ProductionTypes[0].ID = "changed"
	first.Overrides.Elements["DEPARTMENT"] = "changed"
	second, err := s.Resolve(context.Background(), req)
	is.NoErr(err)
	is.Equal(s.resolveMemo.results, 1)
	is.Equal(second.Options.ProductionTypes[0].ID, "standard")
	is.Equal(second.Overrides.Elements["DEPARTMENT"], "ENGINES")
}

// TestMemoLeavesOutImpureCalls: a call that asks for the time or a random number is never
// answered from the memo.
func TestMemoLeavesOutImpureCalls(t *testing.T) {
	for name, expr := range map[string]string{"Math.random": "Math.random() < 2", "Date.now": "Date.now() > 0",
		"new Date": "new Date().getTime() > 0", "Date()": "Date().length > 0"} {
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			for _, src := range []string{
				"\nfunction resolve(ctx) { return Object.assign({}, options, { approvalStep: " + expr + " }); }",
				"\nvar asked = " + expr + ";\nfunction resolve(ctx) { return Object.assign({}, options, { approvalStep: asked }); }", // by the top level
			} {
				s, err := Load(enabledDefault()+src, Limits{})
				is.NoErr(err)
				for i := 0; i < 3; i++ {
					r, err := s.Resolve(context.Background(), operatorRequest())
					is.NoErr(err)
					is.True(r.Options.ApprovalStep)
				}
				is.Equal(s.resolveMemo.results, 0)
			}
		})
	}
}

// TestCallsDoNotShareATopLevel: resolve and mapUserToCard each run on a top level of their own,
// so a value resolve leaves in a top-level variable is not seen by mapUserToCard — whether
// resolve ran for this order or was answered from its memo.
func TestCallsDoNotShareATopLevel(t *testing.T) {
	is := is.New(t)
	s, err := Load(enabledDefault()+`
var seen = "nothing";
function resolve(ctx) { seen = ctx.actor.id; return options; }
function mapUserToCard(user) { return { commonName: seen }; }`, Limits{})
	is.NoErr(err)
	for i := 0; i < 3; i++ {
		r, err := s.Resolve(context.Background(), operatorRequest())
		is.NoErr(err)
		is.Equal(*r.Overrides.CommonName, "nothing")
	}
}

// TestMemoTurnsOffOnDisagreement: two calls that read alike but then read differently, or one
// that ends where the other read on, mean the function is not one of its reads: the memo stops.
func TestMemoTurnsOffOnDisagreement(t *testing.T) {
	is := is.New(t)
	a := step{access{viewCtx, opGet, "channel"}, text("operator")}
	b := step{access{viewCtx, opGet, "user"}, seen{kind: seenObject}}
	c := step{access{viewCtx, opGet, "actor"}, seen{kind: seenObject}}

	var m memo
	m.add([]step{a, b}, 1)
	m.add([]step{a, c}, 2) // after the same answer to a, another read
	is.True(m.off)
	_, ok := m.lookup(operatorReq())
	is.True(!ok)

	var n memo
	n.add([]step{a}, 1)
	n.add([]step{a, b}, 2) // read on where the other was done
	is.True(n.off)

	var o memo
	o.add([]step{a, b}, 1)
	o.add([]step{a}, 2) // done where the other read on
	is.True(o.off)
}

func operatorReq() *ports.OptionsRequest {
	r := operatorRequest()
	return &r
}

// TestMemoIsBounded: a function that reads something unique to each order fills its memo up to
// maxMemoResults and no further.
func TestMemoIsBounded(t *testing.T) {
	is := is.New(t)
	var m memo
	for i := 0; i < maxMemoResults+10; i++ {
		m.add([]step{{access{viewActor, opGet, "id"}, text(fmt.Sprint(i))}}, i)
	}
	is.Equal(m.results, maxMemoResults)
	is.True(!m.accepting())
	r := operatorRequest()
	r.Actor.ID = "7"
	v, ok := m.lookup(&r)
	is.True(ok)
	is.Equal(v, 7)
}

// TestKeyListsDoNotCollide: attribute names are the directory's; no two different lists of
// names read the same.
func TestKeyListsDoNotCollide(t *testing.T) {
	is := is.New(t)
	lists := [][]string{nil, {""}, {"a"}, {"a", "b"}, {"a\x00b"}, {"1:a"}, {"1", "a"}, {"a:b"}, {"", ""}}
	got := map[seen][]string{}
	for _, l := range lists {
		k := keysOf(l)
		if prev, dup := got[k]; dup {
			t.Fatalf("%q and %q read the same", prev, l)
		}
		got[k] = l
		is.Equal(keyList(k.text), l)
	}
}

// TestPlainlyValidIsTheValidatorsVerdict: the hand check of a mapping says yes exactly when
// validator/v10 does (for mappings without an address, which always go to the validator), over
// strings around every length bound, in one- and multi-byte characters, and blank names.
func TestPlainlyValidIsTheValidatorsVerdict(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	str := func(bound int) *string {
		if rng.IntN(4) == 0 {
			return nil
		}
		s := strings.Repeat([]string{"a", "é", " ", "\t"}[rng.IntN(4)], bound-1+rng.IntN(3))
		return &s
	}
	for i := 0; i < 5000; i++ {
		doc := overridesDoc{CommonName: str(256), UPN: str(256), Email: str(256), CostCentre: str(64)}
		if n := rng.IntN(3); n > 0 {
			doc.Elements = map[string]string{}
			many := n == 2 && rng.IntN(2) == 0 // 63 to 65 short, valid entries: the count decides
			for j := 0; j < []int{0, 3, 63 + rng.IntN(3)}[n]; j++ {
				if many {
					doc.Elements[fmt.Sprint("k", j)] = "v"
					continue
				}
				doc.Elements[*or(str([]int{8, 62}[rng.IntN(2)]), " ")+fmt.Sprint(j)] = *or(str(1024), "")
			}
			if rng.IntN(3) == 0 {
				doc.Elements[[]string{"", " ", "\t"}[rng.IntN(3)]] = "x"
			}
		}
		want := validate().Struct(doc) == nil
		if got := plainlyValid(&doc); got != want {
			t.Fatalf("mapping %d: hand check %v, validator %v", i, got, want)
		}
	}
}

func or(p *string, s string) *string {
	if p == nil {
		return &s
	}
	return p
}

// TestMemoBoundedWhenACallReadsInALoop: a call that reads the order's data in a loop is not
// written down past maxCallReads reads and not memoized, so neither a trace nor the memo keeps
// its reads; and the memo's nodes are bounded however long the paths.
func TestMemoBoundedWhenACallReadsInALoop(t *testing.T) {
	is := is.New(t)
	s, err := Load(enabledDefault()+`
function mapUserToCard(user) {
  var d = "";
  for (var i = 0; i < 5000; i++) d = user.department;
  return { commonName: user.id + d };
}`, Limits{TimeLimit: time.Second}) // (the race detector slows the loop)
	is.NoErr(err)
	live, _ := heapGrowth(func() {
		for i := 0; i < 20; i++ {
			u := *testUser
			u.ID = fmt.Sprint("u-", i)
			_, err := s.Resolve(context.Background(), ports.OptionsRequest{User: &u, Actor: operatorRequest().Actor, Channel: ports.ChannelOperator})
			is.NoErr(err)
		}
	})
	is.Equal(s.mapMemo.results, 0)
	is.True(live < 16<<20) // (written down, 20 calls of 60,000 reads kept about 460 MB)
	sb := <-s.pool.idle
	is.True(cap(sb.trace) < 2*maxCallReads) // the runtime's trace buffer did not grow with the loop
	s.pool.idle <- sb

	var m memo
	long := make([]step, maxCallReads)
	for i := range long {
		long[i] = step{access{viewUser, opGet, fmt.Sprint("k", i)}, text("v")}
	}
	for i := 0; i < maxMemoResults; i++ {
		long[0].seen = text(fmt.Sprint(i)) // a new path of maxCallReads nodes each time
		m.add(long, i)
	}
	is.True(m.nodes <= maxMemoNodes)
	is.True(m.results < maxMemoResults) // the nodes ran out first
}
