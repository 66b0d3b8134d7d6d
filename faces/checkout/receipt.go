package checkout

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"time"

	"codeberg.org/go-pdf/fpdf"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/gateway"
)

// receiptTexts are the receipt's words in the two languages it speaks.
var receiptTexts = map[string]map[string]string{
	"en": {
		"title": "Payment receipt", "test": "TEST MODE: no money moved", "paid": "Amount paid", "date": "Date",
		"reference": "Merchant's reference", "receipt": "Receipt number", "method": "Paid with", "momo": "Mobile money",
		"card": "Card", "bank": "Bank transfer", "rail": "Operator's reference", "customer": "Customer", "item": "Item", "qty": "Qty",
		"unit": "Unit price", "line": "Total", "total": "Total", "description": "Description",
		"footer": "Paid to %s through Malipo. Keep this receipt: it proves the payment.", "at": ", ",
	},
	"fr": {
		"title": "Reçu de paiement", "test": "MODE TEST : aucun argent n'a circulé", "paid": "Montant payé", "date": "Date",
		"reference": "Référence du marchand", "receipt": "Numéro du reçu", "method": "Moyen de paiement", "momo": "Mobile money",
		"card": "Carte", "bank": "Virement bancaire", "rail": "Référence de l'opérateur", "customer": "Client", "item": "Article", "qty": "Qté",
		"unit": "Prix unitaire", "line": "Total", "total": "Total", "description": "Description",
		"footer": "Payé à %s par Malipo. Conservez ce reçu : il prouve le paiement.", "at": " à ",
	},
}

var months = map[string][]string{
	"en": {"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"},
	"fr": {"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"},
}

// receiptDate writes when a payment was made: "4 December 2026, 02:30
// UTC", "4 décembre 2026 à 02:30 UTC".
func receiptDate(t time.Time, lang string) string {
	t = t.UTC()
	return fmt.Sprintf("%d %s %d%s%s UTC", t.Day(), months[lang][t.Month()-1], t.Year(), receiptTexts[lang]["at"], t.Format("15:04"))
}

// receipt serves a succeeded payment's receipt as a PDF, at an address as
// unguessable as its checkout page's; any other payment has none.
func (p *Pages) receipt(w http.ResponseWriter, r *http.Request) {
	c, err := p.svc.Checkout(r.Context(), r.PathValue("token"))
	if err != nil || c.Payment.Status != malipo.PaymentSucceeded {
		if err != nil && malipo.KindOf(err) != malipo.KindNotFound {
			p.failed(w, r, err)
			return
		}
		http.NotFound(w, r)
		return
	}
	lang := language(r, c.Payment.Lang, c.Payment.Currency)
	b, err := Receipt(c, lang)
	if err != nil {
		p.failed(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Content-Disposition", fmt.Sprintf("inline; filename=%q", "receipt-"+c.Payment.ID+".pdf"))
	w.Header().Set("Cache-Control", "private, max-age=300")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(b)
}

// Receipt renders a succeeded payment's receipt in lang (fr or en): who
// was paid, what for (items and taxes), how much, when, how, and the
// references that find it at the merchant, in Malipo and at the rail.
// The standard PDF fonts write Western European text; other characters
// come out as "?".
func Receipt(c gateway.Checkout, lang string) ([]byte, error) {
	if receiptTexts[lang] == nil {
		lang = "en"
	}
	T := func(k string) string { return receiptTexts[lang][k] }
	pay := c.Payment
	name := c.Merchant.Name
	if pay.Store.Name != "" {
		name = pay.Store.Name
	}
	money := func(n int64) string {
		return strings.NewReplacer("\u202f", " ", "\u00a0", " ").Replace(formatMoney(n, pay.Currency, lang))
	}

	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetTitle(T("title")+" "+pay.ID, true)
	pdf.SetAuthor(name, true)
	pdf.SetProducer("Malipo", false)
	pdf.SetCreator("Malipo", false)
	pdf.SetCreationDate(pay.CompletedAt)
	pdf.SetModificationDate(pay.CompletedAt)
	pdf.SetMargins(20, 20, 20)
	pdf.SetAutoPageBreak(true, 20)
	pdf.AddPage()
	tr := pdf.UnicodeTranslatorFromDescriptor("") // cp1252
	width := 170.0
	text := func(style string, size float64, s string) {
		pdf.SetFont("Helvetica", style, size)
		pdf.MultiCell(width, size*0.5, tr(s), "", "L", false)
	}

	if pay.Mode == malipo.ModeTest {
		pdf.SetFillColor(255, 243, 205)
		pdf.SetFont("Helvetica", "B", 10)
		pdf.CellFormat(width, 8, tr(T("test")), "", 1, "C", true, 0, "")
		pdf.Ln(4)
	}
	text("B", 16, name)
	for _, line := range []string{pay.Store.Tagline, pay.Store.PostalAddress, pay.Store.Phone, pay.Store.WebsiteURL} {
		if line != "" {
			text("", 10, line)
		}
	}
	pdf.Ln(6)
	text("B", 20, T("title"))
	pdf.Ln(4)

	row := func(label, value string) {
		if value == "" {
			return
		}
		pdf.SetFont("Helvetica", "", 10)
		pdf.SetTextColor(100, 100, 100)
		pdf.CellFormat(55, 7, tr(label), "", 0, "L", false, 0, "")
		pdf.SetTextColor(0, 0, 0)
		pdf.SetFont("Helvetica", "B", 10)
		pdf.MultiCell(width-55, 7, tr(value), "", "L", false)
	}
	row(T("paid"), money(pay.Amount))
	row(T("date"), receiptDate(pay.CompletedAt, lang))
	row(T("description"), pay.Description)
	row(T("reference"), pay.Reference)
	row(T("receipt"), pay.ID)
	switch pay.Method {
	case malipo.ChannelMobileMoney:
		how := T("momo")
		if op := operatorName(pay.Operator); op != "" {
			how = op
		}
		if pay.Phone != "" {
			how += " " + malipo.FormatMSISDN(pay.Phone)
		}
		row(T("method"), how)
	case malipo.ChannelCard:
		row(T("method"), T("card"))
	case malipo.ChannelBank:
		row(T("method"), strings.TrimSpace(T("bank")+" "+pay.Operator))
	}
	row(T("rail"), pay.RailReference)
	who := strings.TrimSpace(pay.Customer.Name)
	if pay.Customer.Email != "" {
		who = strings.TrimSpace(who + " <" + pay.Customer.Email + ">")
	}
	row(T("customer"), who)

	if len(pay.Items) > 0 || len(pay.Taxes) > 0 {
		pdf.Ln(6)
		cols := []float64{80, 20, 35, 35}
		pdf.SetFont("Helvetica", "B", 10)
		pdf.SetFillColor(238, 241, 245)
		for i, h := range []string{T("item"), T("qty"), T("unit"), T("line")} {
			align := "R"
			if i == 0 {
				align = "L"
			}
			pdf.CellFormat(cols[i], 8, tr(h), "B", 0, align, true, 0, "")
		}
		pdf.Ln(-1)
		pdf.SetFont("Helvetica", "", 10)
		for _, it := range pay.Items {
			pdf.CellFormat(cols[0], 7, tr(it.Name), "", 0, "L", false, 0, "")
			pdf.CellFormat(cols[1], 7, fmt.Sprint(it.Quantity), "", 0, "R", false, 0, "")
			pdf.CellFormat(cols[2], 7, tr(money(it.UnitPrice)), "", 0, "R", false, 0, "")
			pdf.CellFormat(cols[3], 7, tr(money(it.Total)), "", 1, "R", false, 0, "")
		}
		for _, t := range pay.Taxes {
			pdf.CellFormat(cols[0]+cols[1]+cols[2], 7, tr(t.Name), "", 0, "L", false, 0, "")
			pdf.CellFormat(cols[3], 7, tr(money(t.Amount)), "", 1, "R", false, 0, "")
		}
		pdf.SetFont("Helvetica", "B", 11)
		pdf.CellFormat(cols[0]+cols[1]+cols[2], 9, tr(T("total")), "T", 0, "L", false, 0, "")
		pdf.CellFormat(cols[3], 9, tr(money(pay.Amount)), "T", 1, "R", false, 0, "")
	}

	pdf.Ln(10)
	pdf.SetTextColor(100, 100, 100)
	text("", 9, fmt.Sprintf(T("footer"), name))

	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, fmt.Errorf("receipt for %s: %w", pay.ID, err)
	}
	return buf.Bytes(), nil
}
