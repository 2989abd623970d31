// Package synth generates deterministic, realistic Entra ID sign-in streams
// for tests, benchmarks, demos and load tests, together with the exact result
// the rule "ROPC Authentication Detected - Credential Pass-Through Bypass"
// must produce on them.
//
// Generate writes JSON lines, each one diagnostic-settings envelope
// {"records":[...]} as Entra ID streams to Event Hubs. Most records are
// ordinary NonInteractiveUserSignInLogs; a configured share are ROPC
// sign-ins: successful ones by attacked users from command-line tools (the
// positives), and the near misses the rule must reject (failures, allowlisted
// apps, allowlisted networks, a protocol of "ropc " with a trailing space,
// other log categories sharing the hub). Decoys that merely mention ROPC
// (an app named "Europcar", the user agent "BAV2ROPC", a conditional-access
// policy "Block ROPC clients") appear throughout.
//
// The package is an oracle independent of package detector: it knows which
// records qualify because it chose them to, and it never runs the rule.
// The returned Truth holds the rows the rule yields per user and tumbling
// window (end-Window, end], after removing redelivered duplicates.
//
// The same Config always yields byte-identical output. Every IP address comes
// from ranges reserved for documentation and benchmarking (RFC 5737, RFC 2544,
// RFC 3849), so no real host is named.
package synth
