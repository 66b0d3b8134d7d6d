package malipo

import (
	"fmt"
	"strconv"
	"strings"
)

// Currency is an ISO 4217 alphabetic code known to Malipo.
type Currency string

// exponents lists the currencies Malipo accepts with their ISO 4217 minor
// unit exponents: how many decimal digits a minor unit has.
var exponents = map[Currency]int{
	"XOF": 0, "XAF": 0, "RWF": 0, "UGX": 0, "GNF": 0, "BIF": 0, "KMF": 0, "DJF": 0,
	"KES": 2, "TZS": 2, "GHS": 2, "NGN": 2, "ZAR": 2, "USD": 2, "EUR": 2, "CDF": 2,
	"ZMW": 2, "MWK": 2, "ETB": 2, "EGP": 2, "MAD": 2, "GMD": 2, "SLE": 2, "LRD": 2,
	"MZN": 2, "BWP": 2, "NAD": 2, "SZL": 2, "LSL": 2, "MUR": 2, "SCR": 2, "SSP": 2,
	"SDG": 2, "AOA": 2, "MGA": 2, "CVE": 2, "ERN": 2, "SOS": 2, "STN": 2, "GBP": 2,
	"TND": 3, "LYD": 3,
}

// ParseCurrency validates an ISO 4217 code (case-insensitive).
func ParseCurrency(s string) (Currency, error) {
	c := Currency(strings.ToUpper(strings.TrimSpace(s)))
	if _, ok := exponents[c]; !ok {
		return "", Invalid("currency", "currency_unsupported", "currency %q is not supported", s)
	}
	return c, nil
}

// Exponent is the number of decimal digits of the currency's minor unit.
func (c Currency) Exponent() int { return exponents[c] }

// Money is an amount in minor units of a currency. Never a float.
type Money struct {
	Amount   int64    `json:"amount"`
	Currency Currency `json:"currency"`
}

// MaxAmount bounds any single amount so that sums of many amounts cannot
// overflow int64.
const MaxAmount int64 = 1_000_000_000_000_000 // 10^15 minor units

// ValidateAmount checks that an amount is positive and below MaxAmount.
func ValidateAmount(amount int64, param string) error {
	if amount <= 0 {
		return Invalid(param, "amount_invalid", "%s must be a positive integer number of minor units", param)
	}
	if amount > MaxAmount {
		return Invalid(param, "amount_too_large", "%s must be at most %d", param, MaxAmount)
	}
	return nil
}

// ParseDecimal converts a decimal string in major units ("34.5") to minor
// units of c exactly, or fails if it has more digits than c allows. Faces
// whose providers send major units use it; nothing ever goes through float.
func ParseDecimal(s string, c Currency) (int64, error) {
	s = strings.TrimSpace(s)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" && (!hasDot || frac == "") {
		return 0, fmt.Errorf("amount %q is not a number", s)
	}
	exp := c.Exponent()
	frac = strings.TrimRight(frac, "0")
	if len(frac) > exp {
		return 0, fmt.Errorf("amount %q has more than %d decimals for %s", s, exp, c)
	}
	frac += strings.Repeat("0", exp-len(frac))
	for _, r := range whole + frac {
		if r < '0' || r > '9' {
			return 0, fmt.Errorf("amount %q is not a number", s)
		}
	}
	if whole == "" {
		whole = "0"
	}
	n, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil || n > MaxAmount {
		return 0, fmt.Errorf("amount %q is out of range", s)
	}
	if neg {
		n = -n
	}
	return n, nil
}

// FormatDecimal renders minor units as a decimal string in major units
// ("34.50" for 3450 KES, "5000" for 5000 XOF).
func FormatDecimal(amount int64, c Currency) string {
	exp := c.Exponent()
	sign := ""
	if amount < 0 {
		sign, amount = "-", -amount
	}
	s := strconv.FormatInt(amount, 10)
	if exp == 0 {
		return sign + s
	}
	if len(s) <= exp {
		s = strings.Repeat("0", exp-len(s)+1) + s
	}
	return sign + s[:len(s)-exp] + "." + s[len(s)-exp:]
}
