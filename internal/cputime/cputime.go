// Package cputime reads the CPU time the process has used, for benchmarks that report CPU per
// operation beside wall-clock figures (on a shared machine the CPU figure is the stable one).
package cputime

import "time"

// Process returns the user and system CPU time the process has used so far; 0 where the
// platform does not say.
func Process() time.Duration { return process() }
