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
	// the end of the input. A line may have lost its leading and trailing
	// whitespace (see NewLineChunker), never anything else. It aliases a
	// buffer that the reader reuses once the chunk is released.
	Data []byte
	// Oversized is set, and Data empty, when the chunk is one line longer
	// than the maximum: that line is not kept.
	Oversized *Oversized
	buf       *[]byte
}

// Oversized describes a line that exceeded the maximum line size. Only its
// head is kept; the rest was discarded without being buffered.
type Oversized struct {
	// Size is the line's length without its terminator and without leading
	// and trailing whitespace, as MessageSize measures it.
	Size int64
	Head []byte
}

// HeadSize is how much of a message too large to keep is kept for its
// dead letter.
const HeadSize = 4 << 10

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
//
// What a line becomes never depends on how reads split the input: a line
// whose message (TrimMessage) is longer than maxLine either comes out whole,
// for the consumer to apply the same limit, or is reported as Oversized
// with the same size; any other line comes out whole or without its
// leading and trailing whitespace, which JSON ignores. Memory stays at
// inFlight buffers of chunkSize+maxLine bytes whatever the input, so a line
// of gigabytes of spaces costs no more than a short one. At most inFlight
// chunks are out at once: Next blocks until one is released.
func NewLineChunker(r io.Reader, chunkSize, maxLine, inFlight int) *LineChunker {
	chunkSize, maxLine = max(chunkSize, 1), max(maxLine, 1)
	c := &LineChunker{r: r, chunkSize: chunkSize, maxLine: maxLine, pool: make(chan *[]byte, inFlight)}
	for range inFlight {
		b := make([]byte, chunkSize+maxLine+1)
		c.pool <- &b
	}
	return c
}

// TrimMessage removes the JSON whitespace (space, tab, CR, LF) around a
// message: the size limit applies to what is left.
func TrimMessage(msg []byte) []byte {
	return bytes.Trim(msg, " \t\r\n")
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\r' }

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
	// Read at least chunkSize bytes, and on until a line is whole or the
	// buffer is full. Only new bytes are searched, so tiny reads stay linear.
	newline := bytes.IndexByte(buf, '\n') >= 0
	for !c.eof && len(buf) < cap(buf) && (len(buf) < c.chunkSize || !newline) {
		n, err := c.r.Read(buf[len(buf):cap(buf)])
		newline = newline || bytes.IndexByte(buf[len(buf):len(buf)+n], '\n') >= 0
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			c.eof = true
		} else if err != nil {
			return Chunk{}, fmt.Errorf("read input: %w", err)
		}
	}
	end := bytes.LastIndexByte(buf, '\n') + 1
	if c.eof {
		end = len(buf) // the final line may lack a newline
	}
	if end > 0 || len(buf) == 0 {
		c.carry = append(c.carry, buf[end:]...)
		ch.Data = buf[:end]
		return ch, nil
	}
	// The buffer is full and its first line goes on: trim it as it streams.
	return c.longLine(ch, buf)
}

// longLine reads on a line that fills the whole buffer, keeping only its
// message: leading whitespace is dropped, whitespace is kept only while more
// of the message follows, and once the message passes maxLine only its
// head and its size are kept. buf[:maxLine+1] holds the message; later
// reads land after it, so memory stays the buffer's.
func (c *LineChunker) longLine(ch Chunk, buf []byte) (Chunk, error) {
	var (
		kept     int   // message bytes kept in buf[:kept]
		spaces   int   // whitespace since the last message byte, kept after it while it fits
		size     int64 // message length so far
		started  bool
		over     bool
		rest     = buf
		scratch  = buf[c.maxLine+1 : cap(buf)]
		line     = buf[:c.maxLine+1]
		finished bool
	)
	for {
		for i, b := range rest {
			switch {
			case b == '\n':
				c.carry = append(c.carry, rest[i+1:]...)
				finished = true
			case isSpace(b):
				if started {
					if !over && kept+spaces < c.maxLine {
						line[kept+spaces] = b
					}
					spaces++
				}
				continue
			default:
				started = true
				size += int64(spaces) + 1
				if !over && kept+spaces+1 > c.maxLine {
					over = true
				}
				if !over {
					kept += spaces
					line[kept] = b
					kept++
				}
				spaces = 0
				continue
			}
			break
		}
		if finished || c.eof {
			break
		}
		n, err := c.r.Read(scratch)
		rest = scratch[:n]
		if errors.Is(err, io.EOF) {
			c.eof = true
		} else if err != nil {
			return Chunk{}, fmt.Errorf("read input: %w", err)
		}
	}
	if over {
		ch.Oversized = &Oversized{Size: size, Head: bytes.Clone(line[:min(kept, HeadSize)])}
		return ch, nil
	}
	line[kept] = '\n'
	ch.Data = line[:kept+1]
	return ch, nil
}
