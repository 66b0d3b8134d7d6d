// Package ids makes the identifiers and secrets Malipo hands out: sortable
// object IDs ("pay_01J…") and unguessable tokens and keys. Both take their
// time and randomness from the caller so tests are reproducible.
package ids

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/hex"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

// Generator makes IDs and secrets.
type Generator struct {
	mu      sync.Mutex
	now     func() time.Time
	random  io.Reader
	entropy *ulid.MonotonicEntropy
}

// New returns a generator reading time from now and randomness from random;
// nil means crypto/rand.
func New(now func() time.Time, random io.Reader) *Generator {
	if random == nil {
		random = rand.Reader
	}
	return &Generator{now: now, random: random, entropy: ulid.Monotonic(random, 0)}
}

// ID returns prefix + "_" + a ULID: unique, and ordered by creation time
// (monotonic within a millisecond), so IDs double as pagination cursors.
func (g *Generator) ID(prefix string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	id, err := ulid.New(ulid.Timestamp(g.now()), g.entropy)
	if err != nil {
		// The monotonic entropy overflows only after 2^80 IDs in one
		// millisecond; fall back to fresh entropy rather than fail.
		id = ulid.MustNew(ulid.Timestamp(g.now()), g.random)
	}
	return prefix + "_" + strings.ToLower(id.String())
}

var b32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Secret returns prefix + n random bytes in lowercase base32: for API keys
// and checkout tokens. 20 bytes give 160 bits, beyond guessing.
func (g *Generator) Secret(prefix string, n int) string {
	return prefix + b32.EncodeToString(g.bytes(n))
}

// Hex returns n random bytes as lowercase hex.
func (g *Generator) Hex(n int) string { return hex.EncodeToString(g.bytes(n)) }

// Bytes returns n random bytes.
func (g *Generator) Bytes(n int) []byte { return g.bytes(n) }

func (g *Generator) bytes(n int) []byte {
	b := make([]byte, n)
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, err := io.ReadFull(g.random, b); err != nil {
		panic("ids: reading randomness: " + err.Error())
	}
	return b
}
