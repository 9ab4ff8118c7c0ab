package options

import (
	"fmt"
	"time"
)

// Default limits; see [Limits].
const (
	DefaultTimeLimit    = 50 * time.Millisecond
	DefaultMaxCallDepth = 256
	DefaultMaxLength    = 20_000
)

// Limits bound every run of a script. The zero value is the documented default of each field.
type Limits struct {
	// TimeLimit bounds one call of resolve or mapUserToCard for an order (with the top level it
	// runs on; a call run again on a fresh top level gets the limit again), or one sample run
	// at load: first on the wall clock, and for an evaluation run again because it passed the
	// limit there, on the CPU clock (Linux; elsewhere wall clock only, with no second run:
	// docs/option-script.md, "Limits"). Zero means [DefaultTimeLimit] (50 ms).
	TimeLimit time.Duration
	// MaxCallDepth bounds the JavaScript call stack (recursion), and the nesting depth that
	// JSON.parse and JSON.stringify accept. Zero means [DefaultMaxCallDepth] (256).
	MaxCallDepth int
	// MaxLength caps the strings and arrays that built-ins allocate by a number the script
	// chooses (repeat, padStart, padEnd, Array(n), fill, join, split, concat, Array.from,
	// apply...) and the steps of one built-in iterator. Zero means [DefaultMaxLength]
	// (20,000 characters or elements).
	MaxLength int
	// MaxConcurrent bounds the evaluations of scripts running at once (per [Engine], or per
	// [Script] loaded on its own): further orders wait for a slot, as long as their context
	// allows, before their time limit starts. Zero means the number of CPUs.
	MaxConcurrent int
}

// WithDefaults returns l with every zero field set to its default.
func (l Limits) WithDefaults() Limits {
	if l.TimeLimit == 0 {
		l.TimeLimit = DefaultTimeLimit
	}
	if l.MaxCallDepth == 0 {
		l.MaxCallDepth = DefaultMaxCallDepth
	}
	if l.MaxLength == 0 {
		l.MaxLength = DefaultMaxLength
	}
	if l.MaxConcurrent == 0 {
		l.MaxConcurrent = defaultConcurrency()
	}
	return l
}

func (l Limits) validate() error {
	switch {
	case l.TimeLimit < 0:
		return fmt.Errorf("options: negative TimeLimit %v", l.TimeLimit)
	case l.MaxCallDepth < 0:
		return fmt.Errorf("options: negative MaxCallDepth %d", l.MaxCallDepth)
	case l.MaxLength < 0:
		return fmt.Errorf("options: negative MaxLength %d", l.MaxLength)
	case l.MaxConcurrent < 0:
		return fmt.Errorf("options: negative MaxConcurrent %d", l.MaxConcurrent)
	}
	return nil
}
