package console

import (
	"bytes"
	"math/rand/v2"
	"sync"
	"testing"
)

func TestRingKeepsNewest(t *testing.T) {
	tests := []struct {
		name   string
		size   int
		writes []string
		want   string
	}{
		{"empty", 4, nil, ""},
		{"fits", 8, []string{"abc", "de"}, "abcde"},
		{"exactly full", 4, []string{"ab", "cd"}, "abcd"},
		{"wraps", 4, []string{"abc", "def"}, "cdef"},
		{"wraps twice", 4, []string{"abc", "def", "gh", "i"}, "fghi"},
		{"one huge write", 4, []string{"0123456789"}, "6789"},
		{"huge after some", 4, []string{"ab", "0123456789", "x"}, "789x"},
		{"empty writes", 3, []string{"", "a", "", "bcd", ""}, "bcd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRing(tt.size)
			var total int64
			for _, w := range tt.writes {
				n, err := r.Write([]byte(w))
				if err != nil || n != len(w) {
					t.Fatalf("Write(%q) = %d, %v", w, n, err)
				}
				total += int64(len(w))
			}
			if got := string(r.Bytes()); got != tt.want {
				t.Errorf("Bytes() = %q, want %q", got, tt.want)
			}
			if r.Len() != len(tt.want) {
				t.Errorf("Len() = %d, want %d", r.Len(), len(tt.want))
			}
			if r.Total() != total {
				t.Errorf("Total() = %d, want %d", r.Total(), total)
			}
		})
	}
}

// TestRingMatchesModel compares the ring against a plain slice that keeps
// everything, over many random write sizes.
func TestRingMatchesModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	r := NewRing(97)
	var model []byte
	for i := range 2000 {
		p := make([]byte, rng.IntN(150))
		for j := range p {
			p[j] = byte(rng.IntN(256))
		}
		r.Write(p)
		model = append(model, p...)
		want := model[max(0, len(model)-97):]
		if got := r.Bytes(); !bytes.Equal(got, want) {
			t.Fatalf("write %d: ring differs from model (len %d vs %d)", i, len(got), len(want))
		}
	}
	r.Reset()
	if r.Len() != 0 || len(r.Bytes()) != 0 {
		t.Fatalf("Reset left %d bytes", r.Len())
	}
}

func TestRingDefaultSize(t *testing.T) {
	if c := NewRing(0).Cap(); c != DefaultRingSize {
		t.Fatalf("Cap() = %d, want %d", c, DefaultRingSize)
	}
}

func TestRingConcurrent(t *testing.T) {
	r := NewRing(64)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 1000 {
				r.Write([]byte("0123456789"))
				if b := r.Bytes(); len(b) > 64 {
					t.Errorf("ring grew to %d", len(b))
					return
				}
			}
		})
	}
	wg.Wait()
	if r.Total() != 4*1000*10 {
		t.Fatalf("Total() = %d", r.Total())
	}
}

func BenchmarkRingWrite(b *testing.B) {
	r := NewRing(DefaultRingSize)
	p := bytes.Repeat([]byte("console output line\r\n"), 200) // ~4 KiB, a typical pty read
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		r.Write(p)
	}
}
