// Package detector owns the ROPC rule: it decodes Entra ID sign-in records,
// evaluates "ROPC Authentication Detected - Credential Pass-Through Bypass"
// exactly as the Sentinel KQL query does, summarises qualifying sign-ins per
// user and window, and renders alerts (Sentinel and OCSF shapes) grouped into
// incidents. I/O lives in package stream and windowing in package window.
package detector
