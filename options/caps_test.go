package options

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// slowBuiltins are the slowest single built-in calls on inputs at the cap that were found (n is
// the cap): setup builds the inputs, call is the one call that is timed. The package doc's table
// of caps comes from TestMeasureCaps.
var slowBuiltins = []struct{ name, setup, call string }{
	{"normalize NFD, non-ASCII", `var s = "\u00e9".repeat(n);`, `s.normalize("NFD")`},
	{"normalize NFKC, non-ASCII", `var s = "\u00e9\u0301".repeat(n / 2);`, `s.normalize("NFKC")`},
	{"localeCompare", `var s = "\u00e9".repeat(n), t = "\u00e9".repeat(n - 1) + "f";`, `s.localeCompare(t)`},
	{"toUpperCase, non-ASCII", `var s = "\u00e9".repeat(n);`, `s.toUpperCase()`},
	{"toLocaleLowerCase, non-ASCII", `var s = "\u00c9".repeat(n);`, `s.toLocaleLowerCase()`},
	{"encodeURIComponent, non-ASCII", `var s = "\u00e9".repeat(n);`, `encodeURIComponent(s)`},
	{"escape, non-ASCII", `var s = "\u00e9".repeat(n);`, `escape(s)`},
	{"split into characters", `var s = "x".repeat(n);`, `s.split("")`},
	{"trim", `var s = " ".repeat(n);`, `s.trim()`},
	{"Number of blanks", `var s = " ".repeat(n - 1) + "1";`, `Number(s)`},
	{"padEnd, non-ASCII filler", ``, `"x".padEnd(n, "\u00e9")`},
	{"repeat", ``, `"x".repeat(n)`},
	{"Array(n).fill", ``, `Array(n).fill(0)`},
	{"sort numbers, default order", `var a = Array(n).fill(0).map(function (_, i) { return (i * 7919) % n; });`, `a.sort()`},
	{"sort strings, default order", `var a = Array(n).fill(0).map(function (_, i) { return "k" + ((i * 7919) % n); });`, `a.sort()`},
	{"reverse", `var a = Array(n).fill(1);`, `a.reverse()`},
	{"indexOf, missing", `var a = Array(n).fill(1);`, `a.indexOf(2)`},
	{"slice", `var a = Array(n).fill(1);`, `a.slice()`},
	{"toString, n/2 elements", `var a = Array(n / 2).fill(1);`, `a.toString()`},
	{"JSON.parse, a tenth", `var t = "[" + Array(n / 20 - 1).fill("1").join(",") + "]";`, `JSON.parse(t)`},
	{"Object.entries, a tenth", `var a = Array(n / 10).fill(1);`, `Object.entries(a)`},
	{"Object.getOwnPropertyDescriptors, a hundredth", `var s = "x".repeat(n / 100);`, `Object.getOwnPropertyDescriptors(s)`},
	{"string indexOf, non-ASCII", `var s = "\u00e9".repeat(n), t = "\u00e9".repeat(n / 2) + "f";`, `s.indexOf(t)`},
}

// TestMeasureCaps times each of slowBuiltins at the default cap and prints the table of the
// package doc. It measures, asserts nothing, and runs only with OPTIONS_MEASURE=1 (or a cap,
// OPTIONS_MEASURE=20000).
func TestMeasureCaps(t *testing.T) {
	env := os.Getenv("OPTIONS_MEASURE")
	if env == "" {
		t.Skip("set OPTIONS_MEASURE=1 (or a cap) to measure")
	}
	n := DefaultMaxLength
	if v, err := strconv.Atoi(env); err == nil && v > 1 {
		n = v
	}
	re := regexp.MustCompile(`ms=(\d+)`)
	var b strings.Builder
	fmt.Fprintf(&b, "cap %d:\n", n)
	for _, c := range slowBuiltins {
		src := fmt.Sprintf("var n = %d;\n%s\nvar best = Infinity;\nfor (var k = 0; k < 3; k++) { var t0 = Date.now(); %s; var d = Date.now() - t0; if (d < best) best = d; }\nthrow new Error(\"ms=\" + best);", n, c.setup, c.call)
		_, err := Load(src, Limits{TimeLimit: time.Minute, MaxLength: n})
		m := re.FindStringSubmatch(fmt.Sprint(err))
		if m == nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		fmt.Fprintf(&b, "  %-45s %5s ms\n", c.name, m[1])
	}
	t.Log(b.String())
}
