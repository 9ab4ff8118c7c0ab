// Package options loads, validates and runs the administrator's option script of the use case
// "Order card (external production)" (docs/use-case.md §3, docs/option-script.md), and
// implements [ports.OptionsSource] and [ports.ScriptAdmin] with it.
//
// # The script
//
// One JavaScript script holds every option. [DefaultSource] returns the default script, with
// every option at its default (equal to [ports.DefaultOptions]) and a comment per option. A
// script declares the options object at its top level and, optionally, resolve(ctx) (options
// per order) and mapUserToCard(user) (overrides of the user→card mapping). Scripts run in strict
// mode.
//
// [Load] compiles a script once, runs its top level, reads and validates options, and runs
// resolve for a sample context on every channel and mapUserToCard for a sample user. Options are
// strictly typed: an unknown name, a wrong type ("yes" for a boolean), undefined or null, an
// empty production-type list, duplicate or blank ids, or a default type that is not listed are
// errors ([ErrInvalidScript]), never silent defaults. Errors are [*ScriptError] values naming
// the line, column and option.
//
// # Options
//
// One table ([Table]) drives decoding, the default script, this list and the dry run:
//
//   - enabled (boolean, default false): the use case is available at all.
//   - approvalStep (boolean, default false): orders wait in "requested" for an approver.
//   - productionTypes (list of { id, layoutId, label }, default one "standard" type on layout
//     L-100): what can be produced.
//   - defaultProductionType (string, default "standard"): one of the ids above.
//   - selectProductionType (boolean, default false): the operator must choose a type.
//   - queueCards (boolean, default true): "processing" and dispatch later, else order directly.
//   - allowMultipleCardOrders (boolean, default false): several open orders per user.
//   - sendCardOrderedEmail (boolean, default true): the "Card ordered" email.
//
// These eight are required in every script. An option a later release adds is optional: a
// script that leaves it out (one installed before the upgrade) keeps loading and the option
// takes its default; [Script.DefaultsUsed] names the defaults a script relies on, for the dry
// run. Unknown names and wrong types stay errors.
//
// # Per order
//
// [Script.Resolve] is the per-order call. Without resolve (and, for orders with a user, without
// mapUserToCard) it runs no JavaScript and returns the options computed at load (about 65 ns).
// Otherwise it evaluates the script in a pooled, hardened runtime (below); a failure is an
// [ErrScriptFailed] error, and order-time error texts never quote values (user data), see
// [ScriptError.Detail].
//
// [Engine] keeps the script in force in a [ports.ScriptStore] (the default script while the
// store has none), installs new scripts by compare-and-set on their version (the hex SHA-256 of
// the source; an empty ifMatch installs unconditionally, retried), follows installs by other
// instances at most [DefaultRefreshInterval] late, and is itself the [ports.ScriptAdmin] of the
// HTTP API's script endpoints. A stored script that no longer loads (say, after an upgrade
// tightened a limit) does not stop the host (docs/use-case.md §8): [NewEngine] starts, orders
// fail with [ErrScriptFailed], and [Engine.Healthy] — for a readiness probe — says why, until an
// administrator installs a script that loads.
//
// # Sandbox
//
// Evaluations run in hardened runtimes that are built once and reused (pool.go, harden.js):
//
//   - Isolation. Each call of resolve or mapUserToCard runs on a top level of its own: the
//     script's top level runs inside a function called afresh for the call, so its var, let,
//     const and function declarations, and every closure, belong to that one call (resolve and
//     mapUserToCard cannot pass values to each other either). Everything else a script can
//     reach — the global object, every built-in, the prototypes, the iterator and generator
//     prototypes — is deeply frozen, the Symbol.for registry and WeakMap/WeakSet are removed,
//     Math.random draws from the process's generator, and queued promise jobs run before the
//     evaluation ends. Consequences for administrators: top-level this is undefined;
//     globalThis cannot be written; assigning a method that a built-in prototype has
//     (o.toString = ...) to a plain object throws in strict mode — use an object literal
//     ({ toString: function () {...} }) or a class instead. A script must stand alone: it may
//     not close the function its top level runs in. A runtime is replaced after a stopped run,
//     an engine failure, 10,000 evaluations of a script with a "#" (private class fields can be
//     added to frozen objects: a bound on memory) or a million of any script.
//
//   - A shared top level (shared.go). A script whose top level only declares — data written as
//     literals, and functions — and whose functions never assign to a top-level name (nor use
//     try, async functions, promises, Reflect or isFrozen and kin) runs its top level once per
//     runtime; everything that made is frozen, and every call uses it. Nothing older than a call
//     is then writable, and a call that writes to one of those frozen objects (through another
//     name: options.x = ... directly makes the script not share) is run again on a fresh top
//     level, with a time limit of its own, so it gets the result it would have had anyway; the
//     script then runs a fresh top level for every call. A script that probes whether its
//     objects are frozen by names made at run time can tell the two apart.
//
//   - A memo of results (memo.go). A call's result depends only on what it reads of the
//     order's data (the views of ctx and user note every read) unless it asks for the time or a
//     random number. So each function's results are kept in a tree keyed by its reads, and an
//     order that reads like an earlier one is answered from there, running no JavaScript: a
//     resolve that decides by channel, organisation and role runs a few times in all. Up to
//     1,024 results per function and installed script; a call that asked for the time or a
//     random number is not kept.
//
//   - Templates (template.go). A mapUserToCard whose body is one return of an object literal
//     of strings built from the user's text fields, literals and template literals with +, ||,
//     toUpperCase, toLowerCase and trim (in a script whose top level is shared) is compiled at
//     load and answered in Go, running no JavaScript; where Go could answer otherwise than
//     JavaScript (case or white space beyond ASCII, a built-in's text over MaxLength, text that
//     is not valid UTF-8, a result the hand check refuses) the call runs in JavaScript.
//     FuzzMapTemplate compares the two.
//
//   - No host objects: no require, console, process, timers or file system; the only input is
//     the read-only ctx (or user) argument, a view of the order's data made for this
//     evaluation (writes throw a TypeError; Object.freeze on it throws too). eval, the Function constructors
//     (also of generators and async functions), Proxy, ArrayBuffer, DataView, the typed arrays,
//     WeakRef, FinalizationRegistry and String.raw are removed. Source-map comments are ignored.
//
//   - Time: each call of resolve or mapUserToCard (with its top level), and each sample run at
//     load, stops at [Limits.TimeLimit] (default 50 ms) or when the caller's context ends; a
//     script cannot catch it. An evaluation first runs on the wall clock (no system call). On
//     Linux one still running when the limit has passed is stopped and run once more on another
//     runtime, where the limit counts the CPU time of the OS thread the evaluation holds for its
//     whole run (runtime.LockOSThread and the thread's CPU-time clock): a busy machine that kept
//     the thread waiting for a CPU does not push an honest script past its limit, and a script
//     that computes stops there too. In that run the wall clock is the hard bound: TimeLimit
//     plus [WallSlack] (1 s) stops any evaluation, however little CPU it got. Elsewhere the
//     limit is wall-clock only. A stopped runtime is not used again, so a script that computes
//     costs its order about twice the limit and one or two runtimes built anew (below, "Cost").
//     goja checks the limit only while script code runs, so every native function a script can
//     reach sits behind a guard that refuses to start once the evaluation is over its limit: a
//     built-in handed to another built-in as a callback, or called through call, bind or apply,
//     stops as surely as a loop. The limit counts from the moment the evaluation holds its slot
//     and its runtime. Recursion stops at [Limits.MaxCallDepth] (default 256) frames. Go panics
//     are recovered into errors.
//
//   - Concurrency: at most [Limits.MaxConcurrent] evaluations run at once (default: the number
//     of CPUs; per Engine, or per Script loaded alone). Further orders wait for a slot as long
//     as their context lets them.
//
//   - Memory and slow built-ins: goja has no memory limit, and nothing interrupts a built-in
//     already running. So no built-in accepts a string longer than [Limits.MaxLength] (default
//     20,000 characters), and every built-in that allocates or loops by a number the script
//     chooses is capped at MaxLength characters or elements (going over throws a RangeError the
//     script may catch; uncaught it is [ErrSizeLimit]): repeat, padStart, padEnd, split, concat,
//     replace and replaceAll (a function replacer's results add up to the cap), the Array
//     constructor, Array.from, every Array.prototype method (its array's length; generic calls
//     on array-likes are refused), join and toString, flat and flatMap, apply, Reflect.apply and
//     Reflect.construct (argument lists), the steps of built-in iterators, and the nesting of
//     JSON.stringify and JSON.parse (MaxCallDepth). Object.keys, values, entries, assign,
//     getOwnPropertyNames, getOwnPropertyDescriptors, fromEntries and Reflect.ownKeys take
//     strings up to a hundredth and arrays up to a tenth of MaxLength, JSON.parse text up to a
//     tenth. The cap is chosen so that the slowest single built-in call on capped inputs ends
//     well within the default time limit; measured by TestMeasureCaps (OPTIONS_MEASURE=1 go
//     test -run TestMeasureCaps ./options) on 2 vCPU AMD EPYC, Go 1.26.8, a shared machine
//     (load 7–11), 2026-12-01, best of three calls, two runs:
//
//     built-in call at the cap (20,000)                ms
//     localeCompare of two non-ASCII strings      12–25
//     Array(n).fill                                4–22
//     slice of an n-element array                  4–13
//     normalize NFD / NFKC, non-ASCII              3–12
//     sort of n numbers or strings, default order   1–4
//     split into characters                         0–2
//     Object.entries of n/10 elements               2
//     toUpperCase, toLocaleLowerCase, non-ASCII     1–2
//     encodeURIComponent, escape, trim, Number,
//     padEnd, repeat, indexOf, JSON.parse (n/10)    < 1
//
//     (At 100,000 the same calls took up to 55 ms, and at 1,000,000 up to 0.5 s.)
//
//   - No arguments inside arrow functions: goja's compiler reads it from a stale stack slot
//     there (values of earlier calls, the sandbox's captured originals), so such a script is
//     refused at load (literals.go).
//
//   - No regular expressions and no BigInt: goja runs some matches on a backtracking engine
//     nothing can interrupt, and BigInt operations allocate by a number the script chooses in
//     one step. Their literals are refused at load (with their line), the RegExp and BigInt
//     globals are removed, and match, matchAll and search throw a TypeError; replace,
//     replaceAll and split take string patterns only.
//
//   - Nesting: goja parses and compiles recursively on the Go stack, whose overflow kills the
//     process. Before parsing, Load refuses brackets or template substitutions nested more than
//     256 deep and runs of more than 256 prefix operators (naming the line), and, counted on the
//     raw text, more than 8,192 operators and brackets or more than 1,024 colons (nesting.go).
//     Scripts are at most [MaxSourceSize] (256 KiB).
//
//   - Go work for a script is linear or under the limit: results are read inside the
//     evaluation, as own data properties only (a getter or setter, or a hole in the
//     production-type list, is an error), and the position of an unknown option in the source is
//     found in linear time (locate.go).
//
//   - Errors the sandbox throws are plain RangeError and TypeError objects: no Go value is
//     reachable from a script.
//
// # What remains trusted
//
// String growth by concatenation (+, +=, template literals) cannot be capped: each step is one
// native copy, bounded by the time limit only (TestConcatenationGrowth: tens of MiB, released
// when the evaluation ends). Such strings go into no built-in. Concurrent evaluations add up,
// up to MaxConcurrent of them.
//
// # Cost
//
// A hardened runtime costs about 20–55 ms and 4 MB to build (BenchmarkNewSandbox), once per
// slot. A call of mapUserToCard on a shared top level then costs under ten microseconds of CPU,
// an answer from a memo or a template about one; see BENCHMARKS.md (BenchmarkOrderCard in
// internal/integration) for figures.
package options
