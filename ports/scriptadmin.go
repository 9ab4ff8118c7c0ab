package ports

import "context"

// ScriptAdmin is the administrator's option script as the script endpoints of a driving
// adapter (the HTTP API) need it: read the script in force, install a new one, and load one
// without installing it for a dry run (docs/option-script.md, docs/http-api.md). The options
// package's Engine implements it; a host passes the engine as it is.
//
// Implementations must be safe for concurrent use, honour ctx, and report failures as errors,
// never panics:
//
//   - Current returns the script in force and its version (a content hash, used as the ETag).
//     An error wrapping [ErrNotFound] means there is none to show.
//   - Install validates source and installs it. ifMatch is the version the administrator read,
//     or "" for an unconditional install (the implementation retries a bounded number of times
//     when another install wins meanwhile). An error wrapping [ErrConflict] means ifMatch is no
//     longer the version in force; any other error means the script was refused (its text names
//     the line and the option), and the script in force stays.
//   - Load loads source without installing it, for a dry run; its error is a refusal of the
//     script like Install's.
type ScriptAdmin interface {
	Current(ctx context.Context) (source, version string, err error)
	Install(ctx context.Context, source, ifMatch string) (version string, err error)
	Load(ctx context.Context, source string) (OptionsSource, error)
}
