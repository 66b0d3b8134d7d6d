package clickpay

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Seal makes a verifysign: Laravel's encrypter envelope, as ClickPay's
// Laravel backend makes with Crypt::encrypt. The plaintext is PHP-serialized
// (s:LEN:"…";), encrypted with AES-128-CBC and PKCS#7 padding under the
// 16-byte pre-shared key and a random IV; the MAC is hex HMAC-SHA256, with
// the same key, over the base64 IV followed by the base64 ciphertext. The
// envelope is base64 of {"iv","value","mac"} with slashes escaped as PHP's
// json_encode writes them.
func Seal(key []byte, plaintext string, random io.Reader) (string, error) {
	if len(key) != 16 {
		return "", errors.New("clickpay: the IPN key must be 16 bytes")
	}
	if random == nil {
		random = rand.Reader
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return "", err
	}
	iv := make([]byte, aes.BlockSize)
	if _, err := io.ReadFull(random, iv); err != nil {
		return "", err
	}
	msg := []byte(fmt.Sprintf("s:%d:\"%s\";", len(plaintext), plaintext))
	pad := aes.BlockSize - len(msg)%aes.BlockSize
	msg = append(msg, bytes.Repeat([]byte{byte(pad)}, pad)...)
	out := make([]byte, len(msg))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(out, msg)
	ivB64, valueB64 := base64.StdEncoding.EncodeToString(iv), base64.StdEncoding.EncodeToString(out)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(ivB64 + valueB64))
	// Base64 and hex need no JSON escaping but "/", which PHP's
	// json_encode writes as "\/"; the keys are in PHP's order.
	j := `{"iv":"` + ivB64 + `","value":"` + valueB64 + `","mac":"` + hex.EncodeToString(mac.Sum(nil)) + `"}`
	j = strings.ReplaceAll(j, "/", `\/`)
	return base64.StdEncoding.EncodeToString([]byte(j)), nil
}

// Envelope is a decoded verifysign.
type Envelope struct {
	IV    string `json:"iv"`
	Value string `json:"value"`
	MAC   string `json:"mac"`
}

// ParseEnvelope decodes a verifysign's envelope without decrypting it.
func ParseEnvelope(verifysign string) (Envelope, error) {
	var e Envelope
	raw, err := base64.StdEncoding.DecodeString(verifysign)
	if err != nil {
		return e, fmt.Errorf("clickpay: verifysign is not base64: %w", err)
	}
	if err := json.Unmarshal(raw, &e); err != nil {
		return e, fmt.Errorf("clickpay: verifysign is not a JSON envelope: %w", err)
	}
	return e, nil
}

// Open checks a verifysign's MAC and returns its plaintext, as a merchant
// (or Laravel's Crypt::decrypt) would.
func Open(key []byte, verifysign string) (string, error) {
	e, err := ParseEnvelope(verifysign)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(e.IV + e.Value))
	if !hmac.Equal([]byte(hex.EncodeToString(mac.Sum(nil))), []byte(e.MAC)) {
		return "", errors.New("clickpay: the MAC is invalid")
	}
	iv, err1 := base64.StdEncoding.DecodeString(e.IV)
	ct, err2 := base64.StdEncoding.DecodeString(e.Value)
	if err1 != nil || err2 != nil || len(iv) != aes.BlockSize || len(ct) == 0 || len(ct)%aes.BlockSize != 0 {
		return "", errors.New("clickpay: the envelope is malformed")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return "", err
	}
	pt := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(pt, ct)
	pad := int(pt[len(pt)-1])
	if pad < 1 || pad > aes.BlockSize || !bytes.Equal(pt[len(pt)-pad:], bytes.Repeat([]byte{byte(pad)}, pad)) {
		return "", errors.New("clickpay: bad padding")
	}
	pt = pt[:len(pt)-pad]
	var n int
	var s string
	if _, err := fmt.Sscanf(string(pt), "s:%d:", &n); err != nil {
		return "", errors.New("clickpay: the plaintext is not a serialized string")
	}
	prefix := fmt.Sprintf("s:%d:\"", n)
	s = strings.TrimPrefix(string(pt), prefix)
	if len(s) != n+2 || !strings.HasSuffix(s, `";`) {
		return "", errors.New("clickpay: the serialized string is malformed")
	}
	return s[:n], nil
}
