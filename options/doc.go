// Package options loads, validates and runs the administrator's option script of the use case
// "Order card (external production)" (docs/use-case.md §3), and implements [ports.OptionsSource] with it.
//
// # The script
//
// One JavaScript script holds every option. [DefaultSource] returns the default script, with
// every option at its default (equal to [ports.DefaultOptions]) and a comment per option. A
// script defines the global options object and, optionally, resolve(ctx) (options per order)
// and mapUserToCard(user) (overrides of the user→card mapping). Scripts run in strict mode.
//
// [Load] compiles a script once, runs its top level, reads and validates options, and runs
// resolve for a sample context on every channel and mapUserToCard for a sample user. Options
// are complete and strictly typed: an unknown name, a missing option, a wrong type ("yes" for a
// boolean), undefined or null, an empty production-type list, duplicate or blank ids, or a
// default type that is not listed are errors ([ErrInvalidScript]), never silent defaults.
// Errors are [*ScriptError] values naming the line, column and option.
//
// [Script.Resolve] is the per-order call. Without resolve (and, for orders with a user, without
// mapUserToCard) it runs no JavaScript and returns the options computed at load (about 65 ns
// and one allocation: a fresh copy of the production types). Otherwise it evaluates the script
// in a fresh runtime; a failure is an [ErrScriptFailed] error, and order-time error texts never
// quote values (user data), see [ScriptError.Detail].
//
// [Engine] keeps the script in force in a [ports.ScriptStore] (the default script while the
// store has none), installs new scripts by compare-and-set on their version (the hex SHA-256
// of the source), and follows installs by other instances at most [DefaultRefreshInterval]
// late, or at once on [Engine.Refresh].
//
// # Sandbox
//
// Every evaluation gets a fresh goja runtime that is dropped afterwards, so nothing a script
// does to globals or prototypes in one order is seen by another. Before the script runs, a
// prelude (sandbox.js) prepares the runtime:
//
//   - There are no host objects: no require, console, process, timers or file system; the only
//     input is the frozen ctx (or user) argument, built from copies. eval, the Function
//     constructors (also of generators and async functions), Proxy, ArrayBuffer, DataView, the
//     typed arrays, WeakRef, FinalizationRegistry and String.raw are removed. Source-map
//     comments are ignored (goja would read the named file from the host).
//   - Time: each evaluation (top level + resolve + mapUserToCard) stops at [Limits.TimeLimit]
//     (default 50 ms) through vm.Interrupt, or when the caller's context ends. A script cannot
//     catch the interrupt. Recursion stops at [Limits.MaxCallDepth] (default 256) frames. Go
//     panics inside the engine are recovered into errors.
//   - Memory: goja has no memory limit, and vm.Interrupt does not stop a built-in that is
//     already running. So every built-in that allocates or loops by a number the script
//     chooses is capped at [Limits.MaxLength] (default 1,000,000 characters or elements; going
//     over throws an error the script may catch, the allocation never happens, uncaught it is
//     [ErrSizeLimit]): String.prototype.repeat, padStart, padEnd, split, concat, replace and
//     replaceAll with a string replacement (bounded by their worst-case result), the Array
//     constructor, Array.from, every
//     Array.prototype method (its array's length; generic calls on array-likes are refused),
//     join and toString (the result's length), concat, flat and flatMap,
//     Function.prototype.apply, Reflect.apply and Reflect.construct (argument lists), the
//     steps of built-in iterators (so a native spread ends), and the nesting depth of
//     JSON.stringify and JSON.parse (MaxCallDepth). Built-ins that make a value per element of
//     their argument take shorter inputs, since each value costs far more than a character:
//     Object.keys, values, entries, assign, getOwnPropertyNames, getOwnPropertyDescriptors,
//     fromEntries and Reflect.ownKeys take strings up to a hundredth and arrays up to a tenth
//     of MaxLength, and JSON.parse text up to a tenth.
//   - No regular expressions and no BigInt: goja runs some matches on a backtracking engine
//     nothing can interrupt, and BigInt operations allocate by a number the script chooses in
//     one step. Regular-expression and BigInt literals are refused at load (with their line),
//     the RegExp and BigInt globals are removed, and String.prototype.match, matchAll and search
//     throw a TypeError; replace, replaceAll and split take string patterns only.
//   - Nesting: goja parses and compiles recursively on the Go stack, whose overflow kills the
//     process. Before parsing, Load refuses brackets or template substitutions nested more than
//     256 deep and runs of more than 256 prefix operators (naming the line), and, counted on
//     the raw text whatever it means, more than 8,192 operators and brackets or more than 1,024
//     colons (nesting.go). Scripts are at most [MaxSourceSize] (256 KiB).
//   - Errors the sandbox throws (size limits, refused operations) are plain RangeError and
//     TypeError objects: no Go value is reachable from a script. Results are read as own data
//     properties only: a getter or setter, or a hole in the production-type list, is an error,
//     so reading a result never runs the script's code.
//
// # What remains trusted
//
// String growth by concatenation (+, +=, template literals) cannot be capped: each step is one
// native copy, so it is bounded by the time limit only. Measured on 2 cores with the default
// limits (TestConcatenationGrowth), a script that doubles a string in a loop grows the heap by
// 12 to 92 MiB and allocates at most about 120 MiB before it is stopped, released when the
// evaluation ends; because the last copy cannot be interrupted, such a run ends after 55 to
// 150 ms rather than 50. Concurrent evaluations add up. Single built-ins that grow a string by a
// bounded factor (toUpperCase, encodeURIComponent, normalize, a function replacer returning a
// large string per match) are likewise bounded only by the size a string can reach within the
// time limit. A host that cannot afford that per concurrent order should keep scripts without
// resolve and mapUserToCard (no JavaScript runs per order) or bound order concurrency.
//
// # Cost
//
// A fresh sandboxed runtime costs about 300 µs on 2 cores (about 280 KB and 3,750 allocations):
// goja builds each built-in only when first touched, and the sandbox has to touch (and so build)
// everything it removes or wraps. About half of that is this floor (the typed arrays and the other
// removed globals, Map, Set and their iterators, the wrapped methods themselves); the rest
// is the wrappers, the Array.prototype guards among them installed from Go (sandbox.go). A
// script with resolve and mapUserToCard costs about 400 µs per order; runtimes are never reused
// (top-level let and const bindings and closures cannot be frozen or reset). Scripts without
// resolve and mapUserToCard cost nothing per order. See the benchmarks in bench_test.go.
package options
