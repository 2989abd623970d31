package stream

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"unicode/utf8"
)

// DeadLetter is an input message or record that could not be processed,
// with the reason. Raw is the original bytes (or their head when the input
// was too large to keep whole).
type DeadLetter struct {
	Reason string
	Detail string
	// Source names where the bytes came from: a file name, or a topic.
	Source string
	// Position is the 1-based line of a file, or the offset in a partition.
	Position  int64
	Partition int32
	Raw       []byte
	// Size is the size of the original input; it exceeds len(Raw) when
	// Truncated.
	Size      int64
	Truncated bool
}

// Fit returns dl with Raw cut to its first HeadSize bytes when dl, its
// headers included, would take more than maxBytes: Truncated is then set
// and Size keeps the original size, so a message at the input's size limit
// can always be dead-lettered to a topic of the same limit.
func (dl DeadLetter) Fit(maxBytes int) DeadLetter {
	size := len(dl.Raw) + len(dl.Reason) + len(dl.Detail) + len(dl.Source) + 256 // header keys and numbers
	if size <= maxBytes || len(dl.Raw) <= HeadSize {
		return dl
	}
	if !dl.Truncated {
		dl.Size = int64(len(dl.Raw))
	}
	dl.Raw, dl.Truncated = dl.Raw[:HeadSize], true
	return dl
}

// DeadLetterFile writes dead letters as JSON lines: reason, detail, source,
// line, size, truncated, and the original bytes as "record" when they are
// valid UTF-8, else base64 in "record_base64". Every line is one line for
// any splitter: see AppendSafeJSON.
type DeadLetterFile struct {
	w *bufio.Writer
}

// NewDeadLetterFile returns a DeadLetterFile writing to w; call Flush at the end.
func NewDeadLetterFile(w io.Writer) *DeadLetterFile {
	return &DeadLetterFile{w: bufio.NewWriterSize(w, 1<<16)}
}

type deadLetterLine struct {
	Reason       string `json:"reason"`
	Detail       string `json:"detail,omitempty"`
	Source       string `json:"source"`
	Line         int64  `json:"line"`
	Size         int64  `json:"size"`
	Truncated    bool   `json:"truncated,omitempty"`
	Record       string `json:"record,omitempty"`
	RecordBase64 []byte `json:"record_base64,omitempty"`
}

// Write appends one dead letter.
func (d *DeadLetterFile) Write(dl DeadLetter) error {
	line := deadLetterLine{Reason: dl.Reason, Detail: dl.Detail, Source: dl.Source, Line: dl.Position, Size: dl.Size, Truncated: dl.Truncated}
	if utf8.Valid(dl.Raw) {
		line.Record = string(dl.Raw)
	} else {
		line.RecordBase64 = dl.Raw
	}
	b, err := json.Marshal(line)
	if err != nil {
		return fmt.Errorf("encode dead letter: %w", err)
	}
	if _, err := d.w.Write(append(AppendSafeJSON(nil, b), '\n')); err != nil {
		return fmt.Errorf("write dead letter: %w", err)
	}
	return nil
}

// Flush writes buffered dead letters.
func (d *DeadLetterFile) Flush() error {
	if err := d.w.Flush(); err != nil {
		return fmt.Errorf("write dead letter: %w", err)
	}
	return nil
}
