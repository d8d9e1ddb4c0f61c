package console

import "sync"

// DefaultRingSize is how much console output a zone keeps in memory for
// replay (zlogin -C -r) and for panes that open after the zone booted.
const DefaultRingSize = 1 << 20

// Ring is a fixed-capacity byte buffer that keeps the newest bytes written to
// it and silently forgets the oldest. It is safe for concurrent use.
type Ring struct {
	mu    sync.Mutex
	buf   []byte
	start int   // index of the oldest byte
	n     int   // bytes held
	total int64 // bytes ever written, so readers can tell how much they missed
}

// NewRing returns a ring holding at most size bytes; size <= 0 means
// DefaultRingSize.
func NewRing(size int) *Ring {
	if size <= 0 {
		size = DefaultRingSize
	}
	return &Ring{buf: make([]byte, size)}
}

// Write stores p, dropping the oldest bytes when the ring is full. It never
// fails and never blocks on anything but the ring's own lock.
func (r *Ring) Write(p []byte) (int, error) {
	n := len(p)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.total += int64(n)
	c := len(r.buf)
	if n >= c {
		// Only the tail of a huge write can survive; restart the ring at 0.
		copy(r.buf, p[n-c:])
		r.start, r.n = 0, c
		return n, nil
	}
	end := (r.start + r.n) % c
	k := copy(r.buf[end:], p)
	copy(r.buf, p[k:])
	r.n += n
	if r.n > c {
		r.start = (r.start + r.n - c) % c
		r.n = c
	}
	return n, nil
}

// Bytes returns a copy of the held bytes, oldest first.
func (r *Ring) Bytes() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]byte, r.n)
	k := copy(out, r.buf[r.start:min(r.start+r.n, len(r.buf))])
	copy(out[k:], r.buf[:r.n-k])
	return out
}

// Len reports how many bytes the ring holds now.
func (r *Ring) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// Cap reports the ring's capacity in bytes.
func (r *Ring) Cap() int { return len(r.buf) }

// Total reports how many bytes were ever written, including forgotten ones.
func (r *Ring) Total() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.total
}

// Reset forgets everything held (the total keeps counting).
func (r *Ring) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.start, r.n = 0, 0
}
