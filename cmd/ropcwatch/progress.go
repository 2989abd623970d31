package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"
)

// status is how far a replay has got.
type status struct {
	messages int64 // messages produced
	bytes    int64 // their bytes
	elapsed  time.Duration
	input    int64 // input consumed, in the unit of progress.total
}

// progress shows a replay's status on stderr until stopped. On a terminal
// it is one line redrawn in place, with a bar and an ETA when the total is
// known; elsewhere (a file, a pipe, a log collector) it is a plain line per
// interval, which tools may parse.
type progress struct {
	w        io.Writer
	terminal bool
	width    int   // columns of the terminal; zero when unknown
	total    int64 // input to consume: bytes of the files as stored, or generated records; zero when unknown
}

// redraw is how often a terminal line is redrawn.
const redraw = 200 * time.Millisecond

// The bar itself is barCells wide, or narrower on a narrow terminal, down
// to minBarCells.
const (
	barCells    = 20
	minBarCells = 10
)

// newProgress writes to w, as a terminal line when w is one.
func newProgress(w io.Writer, total int64) *progress {
	p := &progress{w: w, total: total}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.terminal = true
		p.width, _, _ = term.GetSize(int(f.Fd()))
	}
	return p
}

// run shows status() every interval (at least every redraw on a terminal)
// until the returned stop is called. stop clears the terminal line, for the
// final summary to take its place.
func (p *progress) run(every time.Duration, status func() status) (stop func()) {
	if p.terminal {
		every = min(every, redraw)
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				p.show(status())
			}
		}
	}()
	return func() {
		close(done)
		<-finished
		if p.terminal {
			io.WriteString(p.w, "\r\x1b[K")
		}
	}
}

func (p *progress) show(s status) {
	if !p.terminal {
		fmt.Fprintln(p.w, s.line("replaying"))
		return
	}
	// \r returns to the start of the line, \x1b[K erases what a longer
	// previous line left after this one.
	io.WriteString(p.w, "\r"+s.bar(p.total, p.width)+"\x1b[K")
}

// line is the plain progress line.
func (s status) line(what string) string {
	return fmt.Sprintf("%s: %d messages, %.1f MB in %.1fs (%.0f messages/s, %.1f MB/s)",
		what, s.messages, float64(s.bytes)/1e6, s.elapsed.Seconds(), s.rate(float64(s.messages)), s.rate(float64(s.bytes)/1e6))
}

// bar is the terminal line: the counts and rates, after a bar, the
// percentage and an ETA when total is known. It fits in width columns (no
// limit when zero) without using the last, which wraps on some terminals:
// the bar shrinks, then goes, then the line is cut.
func (s status) bar(total int64, width int) string {
	text := fmt.Sprintf("%d messages  %.1f MB  %.0f msg/s  %.1f MB/s",
		s.messages, float64(s.bytes)/1e6, s.rate(float64(s.messages)), s.rate(float64(s.bytes)/1e6))
	if total <= 0 {
		return fit(text, width)
	}
	frac := min(float64(s.input)/float64(total), 1)
	text = fmt.Sprintf(" %3.0f%%  %s", frac*100, text)
	if s.input > 0 {
		left := time.Duration(float64(s.elapsed) * float64(max(total-s.input, 0)) / float64(s.input))
		text += fmt.Sprintf("  ETA %s", left.Round(time.Second))
	}
	cells := barCells
	if width > 0 {
		cells = min(cells, width-1-len(text)-len("[]"))
	}
	if cells < minBarCells {
		return fit(strings.TrimLeft(text, " "), width)
	}
	full := int(frac * float64(cells))
	return "[" + strings.Repeat("=", full) + strings.Repeat(" ", cells-full) + "]" + text
}

// fit cuts line to width-1 columns; zero width means no limit.
func fit(line string, width int) string {
	if width > 0 && len(line) >= width {
		return line[:width-1]
	}
	return line
}

// rate is n per second of the elapsed time; zero before any time passed.
func (s status) rate(n float64) float64 {
	if s.elapsed <= 0 {
		return 0
	}
	return n / s.elapsed.Seconds()
}

// filesSize returns the total size of paths as stored, or zero when one of
// them is stdin or not a regular file, whose size is not known in advance.
func filesSize(paths []string) int64 {
	var total int64
	for _, path := range paths {
		info, err := os.Stat(path)
		if path == "-" || err != nil || !info.Mode().IsRegular() {
			return 0
		}
		total += info.Size()
	}
	return total
}
