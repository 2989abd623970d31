package stream

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// maxMessage is the longest message a file may hold: a line, or the Body
// of a Capture event.
const maxMessage = 16 << 20

// Messages reads one input as a sequence of messages, whatever its format:
// the event bodies of an Event Hubs Capture file (Avro, recognised by its
// magic bytes), else one message per line. Either may be gzip-compressed.
// One goroutine uses a Messages.
type Messages struct {
	next   func() ([]byte, error)
	closer io.Closer
	in     *countingReader
}

// OpenMessages opens path ("-" is stdin) as Messages. Its errors name the
// path; those of Next do not.
func OpenMessages(path string, stdin io.Reader) (*Messages, error) {
	in, err := openInput(path, stdin)
	if err != nil {
		return nil, err
	}
	m := &Messages{closer: in.closer, in: in.counted}
	head, err := in.r.Peek(len(avroMagic))
	if err != nil && !errors.Is(err, io.EOF) {
		in.closer.Close()
		return nil, fmt.Errorf("read input %s: %w", path, err)
	}
	if !bytes.Equal(head, avroMagic[:]) {
		m.next = lineReader(in.r)
		return m, nil
	}
	cr, err := NewCaptureReader(in.r)
	if err != nil {
		in.closer.Close()
		return nil, fmt.Errorf("open capture file %s: %w", path, err)
	}
	m.next = cr.Next
	return m, nil
}

// Next returns the next message, or io.EOF after the last. The slice is
// valid until the next call. Empty lines and empty bodies are messages too:
// the caller decides what they mean.
func (m *Messages) Next() ([]byte, error) { return m.next() }

// InputBytes returns how many bytes of the file have been read so far, as
// stored (before decompression): a measure of progress through it.
func (m *Messages) InputBytes() int64 { return m.in.n }

// Close closes the file.
func (m *Messages) Close() error { return m.closer.Close() }

// lineReader returns a function that yields the lines of r without their
// newline (a CRLF counts as one), up to maxMessage bytes each.
func lineReader(r io.Reader) func() ([]byte, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<20), maxMessage)
	var line int64
	return func() ([]byte, error) {
		if sc.Scan() {
			line++
			return sc.Bytes(), nil
		}
		switch err := sc.Err(); {
		case errors.Is(err, bufio.ErrTooLong):
			return nil, fmt.Errorf("line %d is longer than %d bytes", line+1, maxMessage)
		case err != nil:
			return nil, fmt.Errorf("read line %d: %w", line+1, err)
		}
		return nil, io.EOF
	}
}
