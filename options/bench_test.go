package options

import (
	"context"
	"testing"
)

var benchScript = DefaultSource() + `
function resolve(ctx) {
  if (ctx.user !== null && ctx.user.organisation === "Research") {
    return Object.assign({}, options, { approvalStep: true });
  }
  return options;
}
function mapUserToCard(user) {
  return { commonName: user.familyName + ", " + user.givenName, elements: { DEPARTMENT: user.department.toUpperCase() } };
}`

// BenchmarkResolveDefault: the default script's per-order cost (no JavaScript runs).
func BenchmarkResolveDefault(b *testing.B) {
	s := MustLoad(DefaultSource(), Limits{})
	ctx, req := context.Background(), operatorRequest()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Resolve(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEngineResolveDefault: the same through an Engine (atomic load + refresh check).
func BenchmarkEngineResolveDefault(b *testing.B) {
	e, err := NewEngine(context.Background(), &fakeStore{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx, req := context.Background(), operatorRequest()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := e.Resolve(ctx, req); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkResolveWithScript: a script with resolve and mapUserToCard, one evaluation per order
// in a pooled, hardened runtime (see BENCHMARKS.md for figures).
func BenchmarkResolveWithScript(b *testing.B) {
	s := MustLoad(benchScript, Limits{})
	ctx, req := context.Background(), operatorRequest()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Resolve(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNewSandbox: the cost of building one hardened runtime (prelude, guards, freezing),
// paid once per pool slot: about 20 ms and 4 MB on 2 cores (BENCHMARKS.md).
func BenchmarkNewSandbox(b *testing.B) {
	lim := Limits{}.WithDefaults()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := newSandbox(lim); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoad: compile and validate the script with resolve and mapUserToCard (five runs).
func BenchmarkLoad(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load(benchScript, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}
