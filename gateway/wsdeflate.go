package gateway

import (
	"bytes"
	"compress/flate"
	"errors"
	"hash/maphash"
	"io"
	"slices"
	"sync"
	"sync/atomic"
)

// permessage-deflate (RFC 7692) on the RFC 6455 websockets, always without
// context takeover either way: each message is deflated and inflated on
// its own, so a connection holds no compressor or decompressor between
// messages. Writers and readers come from pools and go back after each
// message; an idle compressed connection costs what an uncompressed one
// does, plus one pointer.

// DefaultWebsocketCompressionMinBytes is the smallest websocket message
// sent compressed when compression is on: under it, deflate's block header
// and Huffman tables cost more than they save.
const DefaultWebsocketCompressionMinBytes = 256

// deflateTail is what RFC 7692 7.2.1 has the sender strip from each
// message (the end of a sync flush's empty stored block); the receiver
// puts it back. deflateFinal after it is an empty final stored block, so
// the inflater reports io.EOF at the message's end instead of waiting for
// more.
var deflateTail = []byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// rsv1 is the frame header bit RFC 7692 calls "Per-Message Compressed".
const rsv1 = 0x40

// errBadDeflate is a compressed message that does not inflate.
var errBadDeflate = errors.New("gateway: websocket message is not valid deflate data")

// deflater writes websocket text messages, compressing those of at least
// minBytes. It is shared by every connection of a server (it holds no
// connection state) and safe for concurrent use. A message it has just
// compressed for one connection is not compressed again for the next:
// a broadcast's frame, the same bytes for every subscriber, is compressed
// once (see deflateCache).
type deflater struct {
	minBytes int
	cache    deflateCache
	// compressions counts the messages actually run through deflate
	// (cache misses); the broadcast test reads it.
	compressions atomic.Int64
}

func newDeflater(minBytes int) *deflater {
	if minBytes <= 0 {
		minBytes = DefaultWebsocketCompressionMinBytes
	}
	d := &deflater{minBytes: minBytes}
	d.cache.seed = maphash.MakeSeed()
	return d
}

// appendText appends p as one text message: compressed (RSV1 set) when it
// has at least minBytes, else as it is.
func (d *deflater) appendText(dst, p []byte) []byte {
	if len(p) < d.minBytes {
		return appendWSFrame(dst, opText, p)
	}
	h := d.cache.hash(p)
	if frame := d.cache.get(h, p); frame != nil {
		return append(dst, frame...)
	}
	start := len(dst)
	dst = d.appendCompressed(dst, p)
	d.cache.put(h, p, dst[start:])
	return dst
}

// appendFrames appends frames, a run of unmasked final text frames as
// appendWSFrame writes them (a raw websocket session's queued messages),
// with each message of at least minBytes compressed.
func (d *deflater) appendFrames(dst, frames []byte) []byte {
	for len(frames) > 0 {
		hdr, n := wsFrameLen(frames)
		if hdr == 0 || hdr+n > len(frames) { // not ours: pass it on as it is
			return append(dst, frames...)
		}
		dst = d.appendText(dst, frames[hdr:hdr+n])
		frames = frames[hdr+n:]
	}
	return dst
}

// wsFrameLen reads the header of an unmasked frame: its length and its
// payload's (0, 0 when the header is incomplete).
func wsFrameLen(b []byte) (hdr, n int) {
	if len(b) < 2 {
		return 0, 0
	}
	switch n = int(b[1] & 0x7f); n {
	case 126:
		if len(b) < 4 {
			return 0, 0
		}
		return 4, int(b[2])<<8 | int(b[3])
	case 127:
		if len(b) < 10 {
			return 0, 0
		}
		var v uint64
		for _, c := range b[2:10] {
			v = v<<8 | uint64(c)
		}
		if v > uint64(len(b)) {
			return 0, 0
		}
		return 10, int(v)
	}
	return 2, n
}

// deflateWriter is a pooled compressor and the buffer it writes to.
type deflateWriter struct {
	fw  *flate.Writer
	out sliceWriter
}

// sliceWriter is an io.Writer appending to a byte slice.
type sliceWriter struct{ b []byte }

func (w *sliceWriter) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }

// deflateWriters: deflate at BestSpeed, the one level whose Reset does
// not clear its hash tables (Reset per message is the price of no context
// takeover).
var deflateWriters = sync.Pool{New: func() any {
	w := &deflateWriter{}
	w.fw, _ = flate.NewWriter(&w.out, flate.BestSpeed) // the level is valid: no error
	return w
}}

// maxPooledDeflateBuffer is the largest output buffer a pooled writer keeps.
const maxPooledDeflateBuffer = 64 << 10

// appendCompressed appends p deflated as one text message with RSV1 set.
func (d *deflater) appendCompressed(dst, p []byte) []byte {
	d.compressions.Add(1)
	w := deflateWriters.Get().(*deflateWriter)
	w.out.b = w.out.b[:0]
	w.fw.Reset(&w.out)
	_, _ = w.fw.Write(p) // writes to memory: no error
	_ = w.fw.Flush()
	z := bytes.TrimSuffix(w.out.b, deflateTail[:4]) // RFC 7692 7.2.1
	dst = appendWSHeader(dst, opText|rsv1, len(z))
	dst = append(dst, z...)
	if cap(w.out.b) > maxPooledDeflateBuffer {
		w.out.b = nil
	}
	deflateWriters.Put(w)
	return dst
}

// deflateReader is a pooled decompressor and the reader it reads from.
type deflateReader struct {
	src bytes.Reader
	fr  io.ReadCloser
}

var deflateReaders = sync.Pool{New: func() any {
	r := &deflateReader{}
	r.fr = flate.NewReader(&r.src)
	return r
}}

// inflate returns the message compressed in z (a message's payload as it
// arrived, without the tail RFC 7692 strips; inflate appends it to z, so z
// must be the caller's to change). An inflated message of more than limit
// bytes (limit > 0) is errMessageTooBig, found before more than limit+1
// bytes are held; data that does not inflate is errBadDeflate.
func inflate(z []byte, limit int64) ([]byte, error) {
	z = append(z, deflateTail...)
	r := deflateReaders.Get().(*deflateReader)
	defer deflateReaders.Put(r)
	r.src.Reset(z)
	if err := r.fr.(flate.Resetter).Reset(&r.src, nil); err != nil {
		return nil, errBadDeflate
	}
	out := make([]byte, 0, min(2*len(z)+64, 4096))
	for {
		if len(out) == cap(out) {
			grow := cap(out)
			if limit > 0 {
				grow = min(grow, int(limit)+1-len(out))
			}
			out = slices.Grow(out, grow)
		}
		n, err := r.fr.Read(out[len(out):cap(out)])
		out = out[:len(out)+n]
		if limit > 0 && int64(len(out)) > limit {
			return nil, errMessageTooBig
		}
		switch {
		case errors.Is(err, io.EOF):
			return out, nil
		case err != nil:
			return nil, errBadDeflate
		}
	}
}

// deflateCache remembers the last messages compressed, by content, so the
// same bytes sent to many connections (a broadcast) are compressed once.
// Its entries are immutable and swapped atomically: lookups take no lock.
// Two connections missing the same message at the same instant may both
// compress it; the output is the same (deflate is deterministic and no
// context is taken over).
type deflateCache struct {
	seed  maphash.Seed
	slots [deflateCacheSlots]atomic.Pointer[deflateEntry]
}

// deflateCacheSlots and maxCachedMessage bound the cache: at most 64
// messages of 16 KiB and their compressed frames (2 MiB), in practice a
// few chat messages.
const (
	deflateCacheSlots = 64
	maxCachedMessage  = 16 << 10
)

// deflateEntry is one message and its compressed frame.
type deflateEntry struct {
	hash  uint64
	msg   []byte
	frame []byte
}

func (c *deflateCache) hash(p []byte) uint64 {
	if len(p) > maxCachedMessage {
		return 0
	}
	return maphash.Bytes(c.seed, p)
}

// get returns the compressed frame of p (whose hash is h), if cached.
func (c *deflateCache) get(h uint64, p []byte) []byte {
	if h == 0 {
		return nil
	}
	e := c.slots[h%deflateCacheSlots].Load()
	if e == nil || e.hash != h || !bytes.Equal(e.msg, p) {
		return nil
	}
	return e.frame
}

// put caches frame as the compressed frame of p (whose hash is h).
func (c *deflateCache) put(h uint64, p, frame []byte) {
	if h == 0 {
		return
	}
	e := &deflateEntry{hash: h, msg: slices.Clone(p), frame: slices.Clone(frame)}
	c.slots[h%deflateCacheSlots].Store(e)
}
