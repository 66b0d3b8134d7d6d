package checkout

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/malipo/malipo"
)

// messages are every text the pages show, in the two languages they speak.
var messages = map[string]map[string]string{
	"en": {
		"title":                           "Pay %s",
		"pay_to":                          "Payment to",
		"amount":                          "Amount",
		"total":                           "Total",
		"tax":                             "Taxes",
		"choose":                          "How would you like to pay?",
		"momo":                            "Mobile money",
		"card":                            "Card",
		"phone":                           "Mobile money number",
		"your_name":                       "Your name",
		"bank":                            "Bank transfer",
		"bank_from":                       "From your account at %s.",
		"bank_account":                    "Your account number",
		"bank_hint":                       "Your bank will ask you to authorise the transfer.",
		"pay_bank":                        "Pay %s by bank transfer",
		"bank_waiting_title":              "Authorise with your bank",
		"bank_waiting_text":               "Your bank (%[2]s) asks you to authorise a transfer of %[1]s.",
		"receipt_link":                    "Download the receipt (PDF)",
		"your_email":                      "Your email, for the receipt",
		"optional":                        "(optional)",
		"phone_hint":                      "With the country code, e.g. %s",
		"phone_example":                   "+250 788 123 456",
		"phone_locked":                    "The merchant set this number.",
		"operator":                        "Operator",
		"operator_detect":                 "Detect from my number",
		"pay_momo":                        "Send the payment request",
		"card_number":                     "Card number",
		"expiry":                          "Expiry (MM/YY)",
		"expiry_placeholder":              "MM/YY",
		"cvv":                             "Security code (CVV)",
		"card_name":                       "Name on the card",
		"pay_card":                        "Pay %s",
		"cancel":                          "Cancel and return to the merchant",
		"waiting_title":                   "Approve on your phone",
		"waiting_text":                    "We sent a payment request of %s to %s. Enter your PIN on your phone to approve it.",
		"waiting_follow":                  "This page updates by itself.",
		"refresh":                         "Check again",
		"paid_title":                      "Payment received",
		"paid_text":                       "Thank you: %s was paid to %s.",
		"return":                          "Return to the merchant",
		"returning":                       "Taking you back to the merchant…",
		"failed_title":                    "Payment failed",
		"failed_text":                     "The payment could not be completed.",
		"cancelled_title":                 "Payment cancelled",
		"cancelled_text":                  "This payment was cancelled. No money was taken.",
		"expired_title":                   "This payment has expired",
		"expired_text":                    "The time to pay has run out. No money was taken. Ask the merchant for a new payment link.",
		"notfound_title":                  "Payment link not found",
		"notfound_text":                   "This link is not valid. Check that you copied it completely, or ask the merchant for a new one.",
		"tds_title":                       "Confirm with your bank",
		"tds_text":                        "Your bank asks you to confirm the payment of %s to %s.",
		"tds_sandbox":                     "Sandbox: this page stands in for your bank's 3-D Secure check.",
		"tds_approve":                     "Confirm the payment",
		"tds_fail":                        "Refuse",
		"secure":                          "Secure payment by Malipo",
		"test_mode":                       "Test mode: no real money moves.",
		"reference":                       "Reference:",
		"error_title":                     "Something is wrong",
		"form_expired":                    "This form has expired. Please try again.",
		"setup_title":                     "Save a card",
		"setup_text":                      "Save a card with %s for faster payments. Your card number is kept by the card network, not by the merchant.",
		"setup_save":                      "Save the card",
		"saved_title":                     "Card saved",
		"saved_text":                      "Your card %s is saved with %s.",
		"setup_done_title":                "This page has expired",
		"setup_done_text":                 "Ask the merchant for a new link to save a card.",
		"decline.card_declined":           "Your card was declined. Try another card.",
		"decline.insufficient_funds":      "There is not enough money on this card or account.",
		"decline.expired_card":            "This card has expired.",
		"decline.do_not_honor":            "Your bank declined the payment. Contact your bank or try another card.",
		"decline.authentication_failed":   "The check with your bank did not succeed. Try again or use another card.",
		"decline.customer_declined":       "You declined the request on your phone.",
		"decline.customer_cancelled":      "You cancelled the payment.",
		"decline.invalid_account":         "This number cannot pay by mobile money.",
		"decline.bank.invalid_account":    "Your bank has no such account.",
		"decline.bank.insufficient_funds": "Your account does not hold enough money for this transfer.",
		"decline.bank.customer_declined":  "You refused the transfer at your bank.",
		"decline.bank.expired":            "Your bank did not receive your authorisation in time.",
		"decline.expired":                 "The time to pay ran out.",
	},
	"fr": {
		"title":                           "Payer %s",
		"pay_to":                          "Paiement à",
		"amount":                          "Montant",
		"total":                           "Total",
		"tax":                             "Taxes",
		"choose":                          "Comment voulez-vous payer ?",
		"momo":                            "Mobile money",
		"card":                            "Carte bancaire",
		"phone":                           "Numéro mobile money",
		"your_name":                       "Votre nom",
		"bank":                            "Virement bancaire",
		"bank_from":                       "Depuis votre compte chez %s.",
		"bank_account":                    "Votre numéro de compte",
		"bank_hint":                       "Votre banque vous demandera d’autoriser le virement.",
		"pay_bank":                        "Payer %s par virement",
		"bank_waiting_title":              "Autorisez auprès de votre banque",
		"bank_waiting_text":               "Votre banque (%[2]s) vous demande d’autoriser un virement de %[1]s.",
		"receipt_link":                    "Télécharger le reçu (PDF)",
		"your_email":                      "Votre e-mail, pour le reçu",
		"optional":                        "(facultatif)",
		"phone_hint":                      "Avec l’indicatif du pays, par ex. %s",
		"phone_example":                   "+225 07 07 12 34 56",
		"phone_locked":                    "Le marchand a fixé ce numéro.",
		"operator":                        "Opérateur",
		"operator_detect":                 "Selon mon numéro",
		"pay_momo":                        "Envoyer la demande de paiement",
		"card_number":                     "Numéro de carte",
		"expiry":                          "Expiration (MM/AA)",
		"expiry_placeholder":              "MM/AA",
		"cvv":                             "Code de sécurité (CVV)",
		"card_name":                       "Nom sur la carte",
		"pay_card":                        "Payer %s",
		"cancel":                          "Annuler et revenir chez le marchand",
		"waiting_title":                   "Validez sur votre téléphone",
		"waiting_text":                    "Nous avons envoyé une demande de paiement de %s au %s. Saisissez votre code secret sur votre téléphone pour la valider.",
		"waiting_follow":                  "Cette page se met à jour toute seule.",
		"refresh":                         "Vérifier à nouveau",
		"paid_title":                      "Paiement reçu",
		"paid_text":                       "Merci : %s ont été payés à %s.",
		"return":                          "Revenir chez le marchand",
		"returning":                       "Retour chez le marchand…",
		"failed_title":                    "Le paiement a échoué",
		"failed_text":                     "Le paiement n’a pas pu aboutir.",
		"cancelled_title":                 "Paiement annulé",
		"cancelled_text":                  "Ce paiement a été annulé. Aucun montant n’a été prélevé.",
		"expired_title":                   "Ce paiement a expiré",
		"expired_text":                    "Le délai pour payer est dépassé. Aucun montant n’a été prélevé. Demandez un nouveau lien au marchand.",
		"notfound_title":                  "Lien de paiement introuvable",
		"notfound_text":                   "Ce lien n’est pas valide. Vérifiez qu’il est complet, ou demandez-en un nouveau au marchand.",
		"tds_title":                       "Confirmez auprès de votre banque",
		"tds_text":                        "Votre banque vous demande de confirmer le paiement de %s à %s.",
		"tds_sandbox":                     "Bac à sable : cette page remplace le contrôle 3-D Secure de votre banque.",
		"tds_approve":                     "Confirmer le paiement",
		"tds_fail":                        "Refuser",
		"secure":                          "Paiement sécurisé par Malipo",
		"test_mode":                       "Mode test : aucun argent réel ne circule.",
		"reference":                       "Référence :",
		"error_title":                     "Un problème est survenu",
		"form_expired":                    "Ce formulaire a expiré. Merci de réessayer.",
		"setup_title":                     "Enregistrer une carte",
		"setup_text":                      "Enregistrez une carte chez %s pour payer plus vite. Le numéro de carte est conservé par le réseau de cartes, pas par le marchand.",
		"setup_save":                      "Enregistrer la carte",
		"saved_title":                     "Carte enregistrée",
		"saved_text":                      "Votre carte %s est enregistrée chez %s.",
		"setup_done_title":                "Cette page a expiré",
		"setup_done_text":                 "Demandez au marchand un nouveau lien pour enregistrer une carte.",
		"decline.card_declined":           "Votre carte a été refusée. Essayez une autre carte.",
		"decline.insufficient_funds":      "Le solde de cette carte ou de ce compte est insuffisant.",
		"decline.expired_card":            "Cette carte a expiré.",
		"decline.do_not_honor":            "Votre banque a refusé le paiement. Contactez-la ou essayez une autre carte.",
		"decline.authentication_failed":   "La vérification auprès de votre banque a échoué. Réessayez ou utilisez une autre carte.",
		"decline.customer_declined":       "Vous avez refusé la demande sur votre téléphone.",
		"decline.customer_cancelled":      "Vous avez annulé le paiement.",
		"decline.invalid_account":         "Ce numéro ne peut pas payer par mobile money.",
		"decline.bank.invalid_account":    "Votre banque ne connaît pas ce compte.",
		"decline.bank.insufficient_funds": "Votre compte n’a pas assez d’argent pour ce virement.",
		"decline.bank.customer_declined":  "Vous avez refusé le virement auprès de votre banque.",
		"decline.bank.expired":            "Votre banque n’a pas reçu votre autorisation à temps.",
		"decline.expired":                 "Le délai pour payer est dépassé.",
	},
}

// francophone currencies default the page to French when nothing else
// says which language the customer reads.
var francophone = map[malipo.Currency]bool{"XOF": true, "XAF": true, "CDF": true, "GNF": true, "BIF": true, "KMF": true, "DJF": true, "MGA": true}

// language picks the page's language: ?lang=, then the payment's own, then
// the browser's Accept-Language, then the currency's region.
func language(r *http.Request, paymentLang string, c malipo.Currency) string {
	if l := malipo.NormalizeLang(r.URL.Query().Get("lang")); l != "" {
		return l
	}
	if paymentLang != "" {
		return paymentLang
	}
	if l := acceptLanguage(r.Header.Get("Accept-Language")); l != "" {
		return l
	}
	if francophone[c] {
		return "fr"
	}
	return "en"
}

// acceptLanguage returns fr or en, whichever the header ranks higher; a
// language weighted q=0 is one the browser does not accept.
func acceptLanguage(h string) string {
	best, bestQ := "", 0.0
	for _, part := range strings.Split(h, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		// Each parameter is read with the spaces around it and its "="
		// left out, so that "fr;q= 0" or "fr;level=1;q=0" refuses French.
		for _, param := range strings.Split(params, ";") {
			key, v, ok := strings.Cut(param, "=")
			if !ok || !strings.EqualFold(strings.TrimSpace(key), "q") {
				continue
			}
			if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
				q = f
			}
		}
		if l := malipo.NormalizeLang(tag); l != "" && q > bestQ {
			best, bestQ = l, q
		}
	}
	return best
}
