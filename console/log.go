package console

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
)

// Defaults for a zone's console log: enough to read a few boots back without
// letting a chatty zone fill the host's /var.
const (
	DefaultLogSize = 4 << 20
	DefaultLogKeep = 3
)

// Log is an append-only console log file with size-based rotation: when
// PATH would grow past its limit it becomes PATH.0, PATH.0 becomes PATH.1,
// and so on, keeping at most Keep old files. Files are created 0600 because
// a console carries whatever the zone printed, passwords typed at a
// misconfigured prompt included. Reopening an existing log appends to it.
type Log struct {
	mu   sync.Mutex
	path string
	max  int64
	keep int
	f    *os.File
	size int64
}

// OpenLog opens (creating if needed) the console log at path. maxSize <= 0
// means DefaultLogSize; keep < 0 means DefaultLogKeep, and keep == 0 means
// the log is truncated instead of rotated.
func OpenLog(path string, maxSize int64, keep int) (*Log, error) {
	if maxSize <= 0 {
		maxSize = DefaultLogSize
	}
	if keep < 0 {
		keep = DefaultLogKeep
	}
	l := &Log{path: path, max: maxSize, keep: keep}
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *Log) open() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open console log: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("stat console log %s: %w", l.path, err)
	}
	// A log left by an older version (or a careless admin) may be wider open;
	// tighten it rather than keep appending secrets to a readable file.
	if st.Mode().Perm() != 0o600 {
		if err := f.Chmod(0o600); err != nil {
			f.Close()
			return fmt.Errorf("chmod console log %s: %w", l.path, err)
		}
	}
	l.f, l.size = f, st.Size()
	return nil
}

// Path returns the current log file's path.
func (l *Log) Path() string { return l.path }

// Write appends p, rotating first if p would push the file past its limit,
// so a chunk of output never straddles two files. A single write larger
// than the limit keeps only its first limit bytes, in a fresh file: no
// writer (a zone's output, a notice quoting a zone's file) can make one
// file bigger than the limit. It still counts as written whole.
func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return 0, fmt.Errorf("write console log %s: %w", l.path, fs.ErrClosed)
	}
	whole := len(p)
	if int64(len(p)) > l.max {
		p = p[:l.max]
	}
	if l.size > 0 && l.size+int64(len(p)) > l.max {
		if err := l.rotate(); err != nil {
			return 0, err
		}
	}
	n, err := l.f.Write(p)
	l.size += int64(n)
	if err != nil {
		return n, fmt.Errorf("write console log %s: %w", l.path, err)
	}
	return whole, nil
}

// rotate shifts PATH.i to PATH.i+1 (dropping the oldest), PATH to PATH.0,
// and starts an empty PATH.
func (l *Log) rotate() error {
	if err := l.f.Close(); err != nil {
		return fmt.Errorf("rotate console log %s: %w", l.path, err)
	}
	l.f = nil
	if l.keep == 0 {
		if err := os.Remove(l.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("rotate console log: %w", err)
		}
		return l.open()
	}
	if err := os.Remove(l.rotated(l.keep - 1)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("rotate console log: %w", err)
	}
	for i := l.keep - 2; i >= 0; i-- {
		if err := os.Rename(l.rotated(i), l.rotated(i+1)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("rotate console log: %w", err)
		}
	}
	if err := os.Rename(l.path, l.rotated(0)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("rotate console log: %w", err)
	}
	return l.open()
}

func (l *Log) rotated(i int) string { return fmt.Sprintf("%s.%d", l.path, i) }

// Sync flushes the log to stable storage.
func (l *Log) Sync() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("sync console log %s: %w", l.path, err)
	}
	return nil
}

// Close closes the log file; further writes fail.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	if err != nil {
		return fmt.Errorf("close console log %s: %w", l.path, err)
	}
	return nil
}

// ReadTail is the end of the console log at path, at most max bytes of
// it, from the start of a whole line: what the console's log view
// shows. A log that does not exist yet (a zone never booted) is empty.
func ReadTail(path string, max int64) (string, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("console log: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("console log: %w", err)
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("console log %s: not a regular file", path)
	}
	off := st.Size() - min(st.Size(), max)
	b := make([]byte, st.Size()-off)
	n, err := f.ReadAt(b, off)
	if err != nil && n == 0 && len(b) > 0 {
		return "", fmt.Errorf("console log: %w", err)
	}
	b = b[:n]
	if off > 0 {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return string(b), nil
}

// TrimToFit drops whole lines from the start of text, halving it, until
// fits says it does: a log sent in one message of a bounded socket
// keeps its newest lines.
func TrimToFit(text string, fits func(string) bool) string {
	for len(text) > 0 && !fits(text) {
		half := text[(len(text)+1)/2:]
		if i := strings.IndexByte(half, '\n'); i >= 0 && i < len(half)-1 {
			half = half[i+1:]
		}
		text = half
	}
	return text
}
