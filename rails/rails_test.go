package rails

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// TestCardNeverPrints checks every way a card could reach a log.
func TestCardNeverPrints(t *testing.T) {
	c := Card{Number: "4111111111111111", Month: 12, Year: 2030, CVV: "987", Name: "Awa"}
	var logged bytes.Buffer
	// Without the time: its milliseconds read "987" one time in a
	// thousand, the CVV's digits, and failed the test for nothing.
	noTime := &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}
	slog.New(slog.NewJSONHandler(&logged, noTime)).Info("charge", "card", c)
	slog.New(slog.NewTextHandler(&logged, noTime)).Info("charge", "card", c)
	outputs := []string{fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s", c, c, c, c), logged.String()}
	for _, out := range outputs {
		if strings.Contains(out, "4111111111111111") || strings.Contains(out, "987") {
			t.Errorf("card leaked: %s", out)
		}
		if !strings.Contains(out, "411111xxxxxx1111") {
			t.Errorf("card not shown masked: %s", out)
		}
	}
}

func TestLuhnAndMask(t *testing.T) {
	for _, ok := range []string{"4111111111111111", "5555555555554444", "2222400070000005", "6771798025000004"} {
		if !Luhn(ok) {
			t.Errorf("Luhn(%s) = false", ok)
		}
	}
	for _, bad := range []string{"4111111111111112", "1234", "41111111111111a1", ""} {
		if Luhn(bad) {
			t.Errorf("Luhn(%s) = true", bad)
		}
	}
	if got := MaskPAN("5555555555554444"); got != "555555xxxxxx4444" {
		t.Errorf("MaskPAN = %s", got)
	}
	for pan, want := range map[string]string{"4111111111111111": "VISA", "5555555555554444": "MASTERCARD", "2222400070000005": "MASTERCARD", "6771798025000004": "MAESTRO"} {
		if got := Scheme(pan); got != want {
			t.Errorf("Scheme(%s) = %s, want %s", pan, got, want)
		}
	}
}
