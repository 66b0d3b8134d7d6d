// Package secrets keeps what Malipo must store but must not store in the
// clear: the credentials of its live rails. Values are sealed with
// AES-256-GCM under a master key; each sealed value names the key it was
// sealed with, so a new key can be brought in, the old values sealed again
// under it (malipo rails rekey), and the old key retired.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the size of a master key: 32 bytes, written in base64
// (openssl rand -base64 32).
const KeySize = 32

// ErrNoKey is returned when a live rail's credentials are needed and no
// master key is configured.
var ErrNoKey = errors.New("no master key: set MALIPO_MASTER_KEY (openssl rand -base64 32) or --master-key-file")

// Keyring holds the master keys: the first seals, every one opens.
type Keyring struct {
	ids  []string
	keys map[string]cipher.AEAD
}

// Parse reads master keys written in base64 and separated by commas, the
// current one first ("NEW,OLD" while rotating). An empty string is an
// empty keyring, which seals nothing.
func Parse(s string) (*Keyring, error) {
	k := &Keyring{keys: map[string]cipher.AEAD{}}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(part)
		if err != nil || len(raw) != KeySize {
			return nil, fmt.Errorf("a master key must be %d bytes in base64 (openssl rand -base64 32)", KeySize)
		}
		block, _ := aes.NewCipher(raw)
		aead, _ := cipher.NewGCM(block)
		id := KeyID(raw)
		if _, dup := k.keys[id]; !dup {
			k.ids = append(k.ids, id)
			k.keys[id] = aead
		}
	}
	return k, nil
}

// KeyID names a key without revealing it: the first 8 hex digits of its
// SHA-256.
func KeyID(key []byte) string {
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:4])
}

// Empty reports whether the keyring has no key.
func (k *Keyring) Empty() bool { return k == nil || len(k.ids) == 0 }

// Current is the ID of the key that seals.
func (k *Keyring) Current() string {
	if k.Empty() {
		return ""
	}
	return k.ids[0]
}

// Seal encrypts plaintext under the current key. context binds the value
// to where it is kept (a rail's ID): a sealed value copied elsewhere does
// not open. The result is "v1:<key id>:<base64 nonce+ciphertext>".
func (k *Keyring) Seal(plaintext []byte, context string) (string, error) {
	if k.Empty() {
		return "", ErrNoKey
	}
	id := k.ids[0]
	aead := k.keys[id]
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := aead.Seal(nonce, nonce, plaintext, []byte(context))
	return "v1:" + id + ":" + base64.StdEncoding.EncodeToString(out), nil
}

// KeyOf is the ID of the key a sealed value was sealed with.
func KeyOf(sealed string) string {
	parts := strings.SplitN(sealed, ":", 3)
	if len(parts) != 3 {
		return ""
	}
	return parts[1]
}

// Open decrypts a value Seal made, with whichever key of the keyring it
// names.
func (k *Keyring) Open(sealed, context string) ([]byte, error) {
	parts := strings.SplitN(sealed, ":", 3)
	if len(parts) != 3 || parts[0] != "v1" {
		return nil, errors.New("secrets: not a sealed value")
	}
	if k.Empty() {
		return nil, ErrNoKey
	}
	aead, ok := k.keys[parts[1]]
	if !ok {
		return nil, fmt.Errorf("secrets: sealed with key %s, which is not among the master keys", parts[1])
	}
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) < aead.NonceSize() {
		return nil, errors.New("secrets: a sealed value is damaged")
	}
	plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(context))
	if err != nil {
		return nil, errors.New("secrets: a sealed value does not open: damaged, or sealed for another place")
	}
	return plain, nil
}
