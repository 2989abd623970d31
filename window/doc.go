// Package window assigns keyed events to tumbling windows by event time. It is
// pure: no goroutines, no clock, no locks, no I/O. One goroutine owns a
// Tumbling and drives it with a watermark; the caller decides what the
// watermark is (the end of a bounded input, or event-time progress across
// partitions minus lateness).
//
// Windows are half-open on the left, (end-size, end], as the KQL filter
// `TimeGenerated > ago(1h)` makes them: an event at exactly 10:00:00 belongs
// to the window ending 10:00.
package window
