// Package simnet is what Malipo's operator simulators share: randomness
// (seeded when a test needs the same run twice), credentials made of
// random hex, and the fail rate that loses calls before or after the
// operator acted, as a real network and a real operator do.
package simnet

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	mrand "math/rand/v2"
	"net/http"
	"sync"
)

// Rand is a random source seeded with seed, or at random when seed is 0.
// It is not safe for concurrent use.
func Rand(seed uint64) *mrand.Rand {
	if seed == 0 {
		var b [8]byte
		rand.Read(b[:])
		seed = binary.LittleEndian.Uint64(b[:])
	}
	return mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// Hex is n random bytes written in hex: keys, secrets, tokens.
func Hex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Faults loses a fraction of calls: half before the operator acts (it
// never hears of them), half after (it acts, and its answer is lost on the
// way back). It is safe for concurrent use.
type Faults struct {
	rate float64
	mu   sync.Mutex
	rng  *mrand.Rand
}

// NewFaults loses the fraction rate of calls, drawn from a source seeded
// with seed (0: at random).
func NewFaults(rate float64, seed uint64) *Faults {
	return &Faults{rate: rate, rng: Rand(seed)}
}

// Serve runs act, which answers through the writer it is given, unless the
// call is lost: lost before, before answers and act never runs; lost
// after, act runs, its answer is dropped, and after answers instead.
func (f *Faults) Serve(w http.ResponseWriter, before, after, act func(http.ResponseWriter)) {
	f.mu.Lock()
	roll := f.rng.Float64()
	f.mu.Unlock()
	switch {
	case roll < f.rate/2:
		before(w)
	case roll < f.rate:
		act(dropped{header: http.Header{}})
		after(w)
	default:
		act(w)
	}
}

// dropped is an answer lost on its way back.
type dropped struct{ header http.Header }

func (d dropped) Header() http.Header         { return d.header }
func (d dropped) Write(b []byte) (int, error) { return len(b), nil }
func (d dropped) WriteHeader(int)             {}
