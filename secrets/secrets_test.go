package secrets

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
)

func key(b byte) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, KeySize)) }

func TestSealOpenAndRotate(t *testing.T) {
	old, err := Parse(key(1))
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := old.Seal([]byte(`{"api_key":"s3cret"}`), "rail_1")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, "s3cret") || KeyOf(sealed) != old.Current() {
		t.Errorf("sealed %q", sealed)
	}
	if got, err := old.Open(sealed, "rail_1"); err != nil || string(got) != `{"api_key":"s3cret"}` {
		t.Errorf("Open = %q, %v", got, err)
	}
	if _, err := old.Open(sealed, "rail_2"); err == nil {
		t.Error("a value sealed for one rail opened for another")
	}
	// Rotation: the new key first seals; the old one still opens.
	both, _ := Parse(key(2) + "," + key(1))
	if got, err := both.Open(sealed, "rail_1"); err != nil || !strings.Contains(string(got), "s3cret") {
		t.Errorf("the old value under a rotated keyring: %q, %v", got, err)
	}
	resealed, _ := both.Seal([]byte("x"), "rail_1")
	if KeyOf(resealed) == old.Current() || KeyOf(resealed) != both.Current() {
		t.Errorf("a rotated keyring sealed with %s", KeyOf(resealed))
	}
	onlyNew, _ := Parse(key(2))
	if _, err := onlyNew.Open(sealed, "rail_1"); err == nil || !strings.Contains(err.Error(), KeyOf(sealed)) {
		t.Errorf("opening with the old key retired: %v", err)
	}
	damaged := sealed[:len(sealed)-4] + "AAAA"
	if _, err := old.Open(damaged, "rail_1"); err == nil {
		t.Error("a damaged value opened")
	}
}

func TestKeysAreChecked(t *testing.T) {
	for _, bad := range []string{"not base64!", base64.StdEncoding.EncodeToString([]byte("short"))} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) took a bad key", bad)
		}
	}
	empty, err := Parse("")
	if err != nil || !empty.Empty() {
		t.Fatalf("empty keyring: %v", err)
	}
	if _, err := empty.Seal([]byte("x"), "c"); err != ErrNoKey {
		t.Errorf("sealing without a key: %v", err)
	}
}
