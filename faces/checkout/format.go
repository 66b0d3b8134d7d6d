package checkout

import (
	"strings"

	"github.com/malipo/malipo"
)

// symbols are how amounts are labelled on the page; others show their code.
var symbols = map[malipo.Currency]string{
	"XOF": "FCFA", "XAF": "FCFA", "RWF": "FRw", "KES": "KSh", "UGX": "USh", "TZS": "TSh", "GHS": "GH₵",
	"NGN": "₦", "ZAR": "R", "USD": "$", "EUR": "€", "GBP": "£", "CDF": "FC", "GNF": "FG", "MAD": "DH",
}

// formatMoney writes an amount the way a customer reading lang expects:
// "5 000 FCFA" and "10,50 KSh" in French, "FCFA 5,000" and "KSh 10.50" in
// English ("$10.50" for dollars). Digits are grouped in threes.
func formatMoney(amount int64, c malipo.Currency, lang string) string {
	dec := malipo.FormatDecimal(amount, c)
	sign := ""
	if strings.HasPrefix(dec, "-") {
		sign, dec = "-", dec[1:]
	}
	whole, frac, _ := strings.Cut(dec, ".")
	group, point := ",", "."
	if lang == "fr" {
		group, point = "\u202f", "," // narrow no-break space, as French typography wants
	}
	var b strings.Builder
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteString(group)
		}
		b.WriteRune(r)
	}
	n := sign + b.String()
	if frac != "" {
		n += point + frac
	}
	sym, ok := symbols[c]
	if !ok {
		sym = string(c)
	}
	switch {
	case lang == "fr":
		return n + "\u00a0" + sym
	case sym == "$" || sym == "€" || sym == "£" || sym == "₦":
		return sym + n
	}
	return sym + "\u00a0" + n
}

// operatorNames are the names customers know their wallets by.
var operatorNames = map[string]string{
	"mtn": "MTN Mobile Money", "airtel": "Airtel Money", "orange": "Orange Money", "moov": "Moov Money",
	"mpesa": "M-Pesa", "wave": "Wave", "free": "Free Money", "expresso": "E-Money", "t-money": "T-Money",
}

// operatorName turns "orange-ci" into "Orange Money".
func operatorName(op string) string {
	i := strings.LastIndex(op, "-")
	if i > 0 {
		if n, ok := operatorNames[op[:i]]; ok {
			return n
		}
	}
	return strings.ToUpper(op)
}

// FormatMoney writes an amount as the checkout pages do, for other pages
// (the dashboard) to show money the same way.
func FormatMoney(amount int64, c malipo.Currency, lang string) string {
	return formatMoney(amount, c, lang)
}
