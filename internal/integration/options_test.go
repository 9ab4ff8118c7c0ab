package integration

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/matryer/is"

	"github.com/cardsaddon/extprod/adapters/memory"
	"github.com/cardsaddon/extprod/cardorder"
	"github.com/cardsaddon/extprod/options"
	"github.com/cardsaddon/extprod/ports"
)

var admin = ports.Actor{ID: "ad-1", Roles: []ports.Role{ports.RoleAdmin}}

// enabledScript is the default script with the use case on, plus extra source.
func enabledScript(extra string) string {
	return strings.Replace(options.DefaultSource(), "enabled: false", "enabled: true", 1) + extra
}

func scriptService(t testing.TB, src string) (*cardorder.Service, *options.Engine) {
	t.Helper()
	scripts := &memory.Scripts{}
	eng, err := options.NewEngine(context.Background(), scripts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if src != "" {
		if _, err := eng.Install(context.Background(), src, ""); err != nil {
			t.Fatal(err)
		}
	}
	store := memory.NewStore()
	svc, err := cardorder.New(cardorder.Ports{
		Users: everyone{}, Store: store, Provider: memory.NewBureau(), Options: eng,
	}, &cardorder.Config{IDs: memory.NewIDs("c")})
	if err != nil {
		t.Fatal(err)
	}
	return svc, eng
}

// TestScriptDecidesTheOrder: the installed script's options (and its version) decide each order;
// a script that fails at order time refuses the order with script_failed.
func TestScriptDecidesTheOrder(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	svc, eng := scriptService(t, "")
	_, err := svc.OrderCard(ctx, "u1", &cardorder.OrderOptions{Actor: operator})
	is.Equal(cardorder.CodeOf(err), cardorder.CodeUseCaseDisabled) // the default script: disabled

	src := enabledScript(`
function resolve(ctx) {
  if (ctx.user !== null && ctx.user.id === "u-vip") return Object.assign({}, options, { approvalStep: true });
  if (ctx.user !== null && ctx.user.id === "u-bad") throw new Error("no such rule");
  return options;
}
function mapUserToCard(user) { return { commonName: user.familyName + ", " + user.givenName }; }`)
	_, current := eng.Current(ctx)
	version, err := eng.Install(ctx, src, current)
	is.NoErr(err)

	c, err := svc.OrderCard(ctx, "u1", &cardorder.OrderOptions{Actor: operator})
	is.NoErr(err)
	is.Equal(c.State, ports.StateProcessing)
	is.Equal(c.CommonName, "Lovelace, Ada")
	is.Equal(c.ScriptVersion, version)
	c, err = svc.OrderCard(ctx, "u-vip", &cardorder.OrderOptions{Actor: operator})
	is.NoErr(err)
	is.Equal(c.State, ports.StateRequested)
	_, err = svc.OrderCard(ctx, "u-bad", &cardorder.OrderOptions{Actor: operator})
	is.Equal(cardorder.CodeOf(err), cardorder.CodeScriptFailed)
	page, _ := svc.Cards(ctx, operator, ports.CardFilter{UserID: "u-bad"})
	is.Equal(len(page.Cards), 0) // nothing created
}

// TestDryRunACandidateScript: an administrator tests a script before installing it.
func TestDryRunACandidateScript(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	svc, eng := scriptService(t, "")
	candidate, err := options.Load(enabledScript(""), options.Limits{})
	is.NoErr(err)
	pv, err := svc.DryRun(ctx, admin, cardorder.DryRun{Source: candidate, UserID: "u1", Actor: operator, Channel: ports.ChannelOperator})
	is.NoErr(err)
	is.NoErr(pv.Refusal)
	is.Equal(pv.Card.CommonName, "Ada Lovelace")
	is.True(pv.Options.Enabled)
	_, installed := eng.Current(ctx)
	is.Equal(installed, options.MustLoad(options.DefaultSource(), options.Limits{}).Version()) // nothing installed
}

// BenchmarkOrderCardWithDefaultScript: OrderCard with the option engine serving the default
// script (enabled), next to one isolated evaluation of that script, in the same run.
func BenchmarkOrderCardWithDefaultScript(b *testing.B) {
	src := enabledScript("")
	b.Run("isolated-resolve", func(b *testing.B) {
		s := options.MustLoad(src, options.Limits{})
		req := ports.OptionsRequest{User: &ports.User{ID: "u1"}, Actor: operator, Channel: ports.ChannelOperator}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Resolve(context.Background(), req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("isolated-load", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := options.Load(src, options.Limits{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("order", func(b *testing.B) {
		svc, _ := scriptService(b, src)
		var n atomic.Int64
		opts := &cardorder.OrderOptions{Actor: operator}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := svc.OrderCard(context.Background(), "u"+strconv.FormatInt(n.Add(1), 10), opts); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "orders/s")
	})
}
