package stream

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Chunk is a run of whole lines read from a file, handed to one worker.
type Chunk struct {
	// Seq numbers chunks from 0 in file order.
	Seq uint64
	// Data holds whole lines separated by '\n'; the last one may lack it at
	// the end of the input. It aliases a buffer that the reader reuses once
	// the chunk is released.
	Data []byte
	// Oversized is set, and Data empty, when the chunk is one line longer
	// than the maximum: that line is not kept.
	Oversized *Oversized
	buf       *[]byte
}

// Oversized describes a line that exceeded the maximum line size. Only its
// head is kept; the rest was discarded without being buffered.
type Oversized struct {
	Size int64
	Head []byte
}

// headSize is how much of an oversized line is kept for the dead letter.
const headSize = 4 << 10

// LineChunker splits a reader into chunks of whole lines. It is used by one
// goroutine; chunks it returns may be processed by others and must be
// given back with Release.
type LineChunker struct {
	r         io.Reader
	chunkSize int
	maxLine   int
	pool      chan *[]byte
	carry     []byte
	seq       uint64
	eof       bool
}

// NewLineChunker reads r in chunks of about chunkSize bytes of whole lines.
// A line longer than maxLine that does not fit in the chunk's buffer is
// reported as Oversized instead of being buffered; one that fits is handed
// out whole, and the consumer applies its own limit. At most inFlight
// chunks are out at once: Next blocks until one is released.
func NewLineChunker(r io.Reader, chunkSize, maxLine, inFlight int) *LineChunker {
	c := &LineChunker{r: r, chunkSize: chunkSize, maxLine: maxLine, pool: make(chan *[]byte, inFlight)}
	for range inFlight {
		b := make([]byte, chunkSize+maxLine)
		c.pool <- &b
	}
	return c
}

// Release returns a chunk's buffer to the chunker.
func (c *LineChunker) Release(ch Chunk) {
	if ch.buf != nil {
		c.pool <- ch.buf
	}
}

// Next returns the next chunk, or io.EOF after the last one.
func (c *LineChunker) Next() (Chunk, error) {
	if c.eof && len(c.carry) == 0 {
		return Chunk{}, io.EOF
	}
	bp := <-c.pool
	ch, err := c.fill(bp)
	if err != nil || (len(ch.Data) == 0 && ch.Oversized == nil) {
		c.pool <- bp
		if err == nil {
			err = io.EOF
		}
		return Chunk{}, err
	}
	c.seq++
	return ch, nil
}

func (c *LineChunker) fill(bp *[]byte) (Chunk, error) {
	ch := Chunk{Seq: c.seq, buf: bp}
	buf := append((*bp)[:0], c.carry...)
	c.carry = c.carry[:0]
	// Read at least chunkSize bytes, and on until the first line is whole or
	// known to be oversized; the buffer holds chunkSize+maxLine bytes.
	for !c.eof && len(buf) < cap(buf) &&
		(len(buf) < c.chunkSize || (len(buf) <= c.maxLine && bytes.IndexByte(buf, '\n') < 0)) {
		n, err := c.r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			c.eof = true
		} else if err != nil {
			return Chunk{}, fmt.Errorf("read input: %w", err)
		}
	}
	end := bytes.LastIndexByte(buf, '\n') + 1
	if c.eof && len(buf)-end <= c.maxLine {
		end = len(buf) // the final line may lack a newline
	}
	if end > 0 {
		c.carry = append(c.carry, buf[end:]...)
		ch.Data = buf[:end]
		return ch, nil
	}
	if len(buf) == 0 {
		return ch, nil
	}
	// The first line is longer than maxLine: keep its head, skip the rest.
	o, err := c.discardLine(buf)
	if err != nil {
		return Chunk{}, err
	}
	ch.Oversized = &o
	return ch, nil
}

// discardLine consumes an oversized line whose first bytes are in buf,
// keeping only its head; bytes after its newline are carried.
func (c *LineChunker) discardLine(buf []byte) (Oversized, error) {
	o := Oversized{Head: bytes.Clone(buf[:min(len(buf), headSize)])}
	if i := bytes.IndexByte(buf, '\n'); i >= 0 {
		o.Size = int64(i)
		c.carry = append(c.carry, buf[i+1:]...)
		return o, nil
	}
	o.Size = int64(len(buf))
	scratch := buf[:cap(buf)]
	for !c.eof {
		n, err := c.r.Read(scratch)
		if i := bytes.IndexByte(scratch[:n], '\n'); i >= 0 {
			o.Size += int64(i)
			c.carry = append(c.carry, scratch[i+1:n]...)
			if errors.Is(err, io.EOF) {
				c.eof = true
			}
			return o, nil
		}
		o.Size += int64(n)
		if errors.Is(err, io.EOF) {
			c.eof = true
		} else if err != nil {
			return o, fmt.Errorf("read input: %w", err)
		}
	}
	return o, nil
}
