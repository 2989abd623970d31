// Package detector owns the ROPC rule: it decodes Entra ID sign-in records,
// evaluates "ROPC Authentication Detected - Credential Pass-Through Bypass"
// exactly as the Sentinel KQL query does, summarises qualifying sign-ins per
// user and window, and renders alerts (Sentinel and OCSF shapes) grouped into
// incidents. It runs over a file (RunBatch) or as a service over Kafka
// (RunService): one Engine per instance for input keyed by user, or, scaled
// out, Routers that re-key qualifying sign-ins by user to an internal topic
// and Shards that hold the windows, so that instances share unkeyed input
// exactly. I/O lives in package stream and windowing in package window.
package detector
