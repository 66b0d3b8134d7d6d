package sandbox

import (
	"strings"
	"testing"
	"time"

	"github.com/malipo/malipo/rails"
)

// FuzzCheck feeds the card network what a customer may type. It never
// panics; it takes only a number passing the Luhn check, with a real
// month and a 3- or 4-digit code; and what is kept of an accepted number
// (its masked form) shows no more than its first six and last four digits.
func FuzzCheck(f *testing.F) {
	for _, c := range DeclinedCards {
		f.Add(c.Number, "123", 12, 2030)
	}
	f.Add("4111111111111111", "987", 1, 2000)
	f.Add("5555555555554444", "1234", 13, 2030)
	f.Add("4111 1111 1111 1111", "12a", 0, -1)
	f.Add("", "", 0, 0)
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, number, cvv string, month, year int) {
		card := rails.Card{Number: number, CVV: cvv, Month: month, Year: year}
		if _, err := check(card, now); err != nil {
			return
		}
		if !rails.Luhn(number) || strings.Trim(number, "0123456789") != "" || len(number) < 12 || len(number) > 19 {
			t.Fatalf("accepted number %q", number)
		}
		if len(cvv) < 3 || len(cvv) > 4 || strings.Trim(cvv, "0123456789") != "" || month < 1 || month > 12 {
			t.Fatalf("accepted code %q, month %d", cvv, month)
		}
		masked := rails.MaskPAN(number)
		hidden := number[6 : len(number)-4]
		if len(masked) != len(number) || masked[:6] != number[:6] || masked[len(masked)-4:] != number[len(number)-4:] ||
			masked[6:len(masked)-4] != strings.Repeat("x", len(hidden)) {
			t.Fatalf("MaskPAN(%s) = %s", number, masked)
		}
	})
}
