package dashboard

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/malipo/malipo"
)

// texts are every word the dashboard shows, in its two languages.
var texts = map[string]map[string]string{
	"en": {
		"brand": "Malipo dashboard", "signin_title": "Sign in", "email": "Email", "password": "Password", "signin": "Sign in",
		"signin_wrong": "The email or the password is wrong.", "signin_throttled": "Too many failed attempts from here: wait a minute and try again.",
		"signin_again": "Please try again.", "signout": "Sign out", "test": "Test data", "live": "Live data",
		"to_live": "Switch to live", "to_test": "Switch to test", "mode_test_note": "You are looking at test data: no real money.",
		"nav_home": "Home", "nav_payments": "Payments", "nav_merchants": "Merchants", "home_title": "Home",
		"balances": "Balances", "currency": "Currency", "available": "Available", "pending": "Pending", "reserved": "Reserved",
		"no_balances": "No money yet.", "recent": "Latest payments", "all_payments": "All payments",
		"payments_title": "Payments", "search": "Search", "search_hint": "Reference, phone, email or ID", "status": "Status",
		"method": "Method", "operator": "Operator", "from": "From", "to": "To", "any": "Any", "filter": "Filter",
		"export": "Export CSV", "amount": "Amount", "reference": "Reference", "created": "Created", "customer": "Customer",
		"no_payments": "No payment matches.", "older": "Older payments", "payment_title": "Payment",
		"story": "What happened", "attempts": "Rail attempts", "rail": "Rail", "answer": "Answer", "events": "Events",
		"deliveries": "Notifications", "refunds": "Refunds", "details": "Details", "fee": "Fee", "net": "Net",
		"rail_reference": "Rail reference", "failure": "Failure", "checkout": "Checkout page", "receipt": "Receipt (PDF)",
		"none": "None", "merchants_title": "Merchants", "name": "Name", "notfound_title": "Not found",
		"notfound_text": "There is nothing here, or it is not yours to see.", "back_home": "Back to the dashboard",
		"attempt": "attempt %d", "delivered": "delivered", "to_url": "to %s",
		"forbidden": "Your role does not allow this.", "refund": "Refund", "refund_amount": "Amount to refund (%s)",
		"refund_reason": "Reason (optional)", "refund_all": "Leave empty to refund everything left.", "cancel_payment": "Cancel the payment",
		"refunded": "Refund asked for: %s.", "cancelled": "The payment is cancelled.", "actions": "Actions",
		"nav_developers": "Developers", "developers_title": "Developers", "new_key": "Your new secret key",
		"new_key_once": "Copy it now: it is shown only this once. The old key works until the overlap ends.",
		"revoked":      "revoked", "keys": "Keys", "until": "until", "country": "Home country", "payouts": "Payouts", "on": "on", "off": "off",
		"notify_url": "Notify URL", "overlap": "Old key works for", "roll": "Roll the key", "revoke": "Revoke",
		"revoke_confirm": "Type %s to revoke", "revoke_confirm_missing": "Type the integration's ID to revoke it.",
		"signin_suspended": "This merchant is suspended: contact the gateway's operator.", "suspend": "Suspend",
		"suspended": "suspended", "resume": "Reactivate",
		"nav_balance": "Statement", "balance_title": "Balance statement", "bucket": "Balance", "type": "Type", "source": "Source",
		"balance_after": "Balance after",
		"code":          "Authenticator code", "code_hint": "(if two-factor sign-in is on)", "signin_code": "Enter the code from your authenticator app.",
		"nav_account": "Account", "account_title": "Your account", "totp_title": "Two-factor sign-in", "totp_on": "On: signing in needs a code from your authenticator app.",
		"totp_off": "Off.", "totp_start": "Turn on", "totp_scan": "Scan this code with an authenticator app (or type the key), then enter the code it shows.",
		"totp_confirm": "Confirm", "role": "Role",
		"settlement_report": "Daily settlement report (CSV)",
		"nav_platform":      "Platform", "platform_title": "The platform", "audit": "Ledger audit",
		"audit_clean": "The ledger is exact: %d entries, %d accounts and %d succeeded payments checked.", "audit_problems": "The audit finds problems:",
		"audit_unbalanced_entry": "entries that do not balance", "audit_balance_mismatch": "accounts whose balance differs from their postings",
		"audit_payment_not_posted": "succeeded payments not posted exactly once", "audit_posted_not_paid": "payment entries without a succeeded payment of that amount",
		"audit_negative_balance": "merchant balances below zero", "audit_payout_not_posted": "payouts whose entries do not match their status",
		"audit_refund_not_posted": "refunds whose entries do not match their status", "audit_inbox_unapplied": "rail outcomes not applied within a minute",
		"audit_inbox_conflicting": "rail outcomes contradicting an earlier verdict", "audit_item": "%s: %s", "audit_retrying": "Rail outcomes waiting for their retry (their first application failed in the last minute): %d.",
		"live_rails": "Live rails", "circuit": "Circuit", "failures_in_a_row": "Failures in a row", "open_until": "open until", "closed": "closed",
		"no_live_rails":   "No live rail is configured.",
		"new_credentials": "The new integration's credentials", "settings": "Settings", "allow_ips": "Allowed addresses (IPs or CIDR ranges, comma-separated; empty: any)",
		"payouts_per_destination": "Payouts to one account per window", "max_payout": "Largest payout (minor units; 0: none)", "save": "Save",
		"new_integration": "New integration", "flavor": "Protocol", "create": "Create",
		"new_merchant": "New merchant", "owner_email": "Its first owner's email (optional)", "owner_password": "The owner's first password",
		"edit":        "Edit",
		"users_title": "Users", "add_user": "Add a user", "first_password": "First password (to hand over)", "add": "Add",
		"payout_window": "Window (e.g. 24h)",
		"ledger":        "Ledger postings", "account": "Account",
		"last_30_days": "Last 30 days", "received": "received", "success_rate": "success rate", "payments_made": "payments",
		"failures": "Failures by reason and operator", "count": "Count",
		"chart_label":   "Money received per day over %d days in %s: %d payments, %s succeeded.",
		"payouts_title": "Payouts", "payout_title": "Payout", "payout_new": "New payout", "destination": "Destination",
		"payout_confirm": "Check, then send", "payout_send": "Send the money", "payout_change": "Change", "narration": "Narration",
		"payout_through": "Through the integration", "payout_phone": "Mobile money number", "payout_review": "Review",
		"payout_incomplete": "Give a number and an amount.",
		"webhooks_title":    "Webhooks", "signing_secret": "Signing secret", "secret_once": "Copy it now: it is shown only this once.",
		"endpoints": "Endpoints", "disabled": "disabled", "enabled": "enabled", "all_events": "every event", "enable": "Enable",
		"disable": "Disable", "rotate": "Rotate the secret", "delete": "Delete", "events_hint": "Event types, comma-separated; empty: every event.",
		"add_endpoint": "Add the endpoint", "replay": "Send again", "replayed": "The event is sent again.", "payout_no_integration": "choose an integration that may pay out",
	},
	"fr": {
		"brand": "Tableau de bord Malipo", "signin_title": "Connexion", "email": "E-mail", "password": "Mot de passe", "signin": "Se connecter",
		"signin_wrong": "L’e-mail ou le mot de passe est incorrect.", "signin_throttled": "Trop d’essais manqués depuis ici : attendez une minute et réessayez.",
		"signin_again": "Veuillez réessayer.", "signout": "Se déconnecter", "test": "Données de test", "live": "Données réelles",
		"to_live": "Passer en réel", "to_test": "Passer en test", "mode_test_note": "Vous voyez les données de test : pas d’argent réel.",
		"nav_home": "Accueil", "nav_payments": "Paiements", "nav_merchants": "Marchands", "home_title": "Accueil",
		"balances": "Soldes", "currency": "Devise", "available": "Disponible", "pending": "En attente", "reserved": "Réservé",
		"no_balances": "Pas encore d’argent.", "recent": "Derniers paiements", "all_payments": "Tous les paiements",
		"payments_title": "Paiements", "search": "Rechercher", "search_hint": "Référence, téléphone, e-mail ou ID", "status": "Statut",
		"method": "Moyen", "operator": "Opérateur", "from": "Du", "to": "Au", "any": "Tous", "filter": "Filtrer",
		"export": "Exporter en CSV", "amount": "Montant", "reference": "Référence", "created": "Créé", "customer": "Client",
		"no_payments": "Aucun paiement ne correspond.", "older": "Paiements plus anciens", "payment_title": "Paiement",
		"story": "Ce qui s’est passé", "attempts": "Tentatives auprès des rails", "rail": "Rail", "answer": "Réponse", "events": "Événements",
		"deliveries": "Notifications", "refunds": "Remboursements", "details": "Détails", "fee": "Frais", "net": "Net",
		"rail_reference": "Référence du rail", "failure": "Échec", "checkout": "Page de paiement", "receipt": "Reçu (PDF)",
		"none": "Aucun", "merchants_title": "Marchands", "name": "Nom", "notfound_title": "Introuvable",
		"notfound_text": "Il n’y a rien ici, ou ce n’est pas à vous de le voir.", "back_home": "Retour au tableau de bord",
		"attempt": "tentative %d", "delivered": "livrée", "to_url": "vers %s",
		"forbidden": "Votre rôle ne le permet pas.", "refund": "Rembourser", "refund_amount": "Montant à rembourser (%s)",
		"refund_reason": "Motif (facultatif)", "refund_all": "Laissez vide pour rembourser tout ce qui reste.", "cancel_payment": "Annuler le paiement",
		"refunded": "Remboursement demandé : %s.", "cancelled": "Le paiement est annulé.", "actions": "Actions",
		"nav_developers": "Développeurs", "developers_title": "Développeurs", "new_key": "Votre nouvelle clé secrète",
		"new_key_once": "Copiez-la maintenant : elle n’est montrée qu’une fois. L’ancienne clé marche jusqu’à la fin du chevauchement.",
		"revoked":      "révoquée", "keys": "Clés", "until": "jusqu’au", "country": "Pays d’origine", "payouts": "Décaissements", "on": "oui", "off": "non",
		"notify_url": "URL de notification", "overlap": "L’ancienne clé marche encore", "roll": "Changer la clé", "revoke": "Révoquer",
		"revoke_confirm": "Tapez %s pour révoquer", "revoke_confirm_missing": "Tapez l’ID de l’intégration pour la révoquer.",
		"signin_suspended": "Ce marchand est suspendu : contactez l’opérateur de la passerelle.", "suspend": "Suspendre",
		"suspended": "suspendu", "resume": "Réactiver",
		"nav_balance": "Relevé", "balance_title": "Relevé du solde", "bucket": "Solde", "type": "Type", "source": "Origine",
		"balance_after": "Solde après",
		"code":          "Code de l’authentificateur", "code_hint": "(si la double authentification est active)", "signin_code": "Saisissez le code de votre application d’authentification.",
		"nav_account": "Compte", "account_title": "Votre compte", "totp_title": "Double authentification", "totp_on": "Active : la connexion demande un code de votre application d’authentification.",
		"totp_off": "Inactive.", "totp_start": "Activer", "totp_scan": "Scannez ce code avec une application d’authentification (ou saisissez la clé), puis entrez le code affiché.",
		"totp_confirm": "Confirmer", "role": "Rôle",
		"settlement_report": "Rapport de règlement quotidien (CSV)",
		"nav_platform":      "Plateforme", "platform_title": "La plateforme", "audit": "Contrôle du grand livre",
		"audit_clean": "Le grand livre est exact : %d écritures, %d comptes et %d paiements réussis vérifiés.", "audit_problems": "Le contrôle trouve des problèmes :",
		"audit_unbalanced_entry": "écritures déséquilibrées", "audit_balance_mismatch": "comptes dont le solde diffère de leurs mouvements",
		"audit_payment_not_posted": "paiements réussis comptabilisés zéro ou plusieurs fois", "audit_posted_not_paid": "écritures de paiement sans paiement réussi de ce montant",
		"audit_negative_balance": "soldes marchands négatifs", "audit_payout_not_posted": "décaissements dont les écritures ne correspondent pas à l’état",
		"audit_refund_not_posted": "remboursements dont les écritures ne correspondent pas à l’état", "audit_inbox_unapplied": "résultats d’opérateurs non appliqués en une minute",
		"audit_inbox_conflicting": "résultats d’opérateurs contraires à un verdict antérieur", "audit_item": "%s : %s", "audit_retrying": "Résultats d’opérateurs en attente d’une nouvelle tentative (leur première application a échoué dans la dernière minute) : %d.",
		"live_rails": "Rails réels", "circuit": "Circuit", "failures_in_a_row": "Échecs d’affilée", "open_until": "ouvert jusqu’au", "closed": "fermé",
		"no_live_rails":   "Aucun rail réel n’est configuré.",
		"new_credentials": "Les identifiants de la nouvelle intégration", "settings": "Réglages", "allow_ips": "Adresses autorisées (IP ou plages CIDR, séparées par des virgules ; vide : toutes)",
		"payouts_per_destination": "Décaissements vers un compte par fenêtre", "max_payout": "Décaissement maximal (unités mineures ; 0 : aucun)", "save": "Enregistrer",
		"new_integration": "Nouvelle intégration", "flavor": "Protocole", "create": "Créer",
		"new_merchant": "Nouveau marchand", "owner_email": "E-mail de son premier propriétaire (facultatif)", "owner_password": "Premier mot de passe du propriétaire",
		"edit":        "Modifier",
		"users_title": "Utilisateurs", "add_user": "Ajouter un utilisateur", "first_password": "Premier mot de passe (à transmettre)", "add": "Ajouter",
		"payout_window": "Fenêtre (par ex. 24h)",
		"ledger":        "Écritures du grand livre", "account": "Compte",
		"last_30_days": "30 derniers jours", "received": "reçus", "success_rate": "de réussite", "payments_made": "paiements",
		"failures": "Échecs par motif et par opérateur", "count": "Nombre",
		"chart_label":   "Argent reçu par jour sur %d jours en %s : %d paiements, %s réussis.",
		"payouts_title": "Décaissements", "payout_title": "Décaissement", "payout_new": "Nouveau décaissement", "destination": "Destination",
		"payout_confirm": "Vérifiez, puis envoyez", "payout_send": "Envoyer l’argent", "payout_change": "Modifier", "narration": "Libellé",
		"payout_through": "Par l’intégration", "payout_phone": "Numéro mobile money", "payout_review": "Vérifier",
		"payout_incomplete": "Indiquez un numéro et un montant.",
		"webhooks_title":    "Webhooks", "signing_secret": "Secret de signature", "secret_once": "Copiez-le maintenant : il n’est montré qu’une fois.",
		"endpoints": "Points de réception", "disabled": "désactivé", "enabled": "actif", "all_events": "tous les événements", "enable": "Activer",
		"disable": "Désactiver", "rotate": "Changer le secret", "delete": "Supprimer", "events_hint": "Types d’événements, séparés par des virgules ; vide : tous.",
		"add_endpoint": "Ajouter", "replay": "Renvoyer", "replayed": "L’événement est renvoyé.", "payout_no_integration": "choisissez une intégration qui peut décaisser",
	},
}

func t(lang, key string, args ...any) string {
	s, ok := texts[lang][key]
	if !ok {
		s = texts["en"][key]
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}

// rememberLanguage keeps a language chosen with ?lang= for the next pages.
func rememberLanguage(w http.ResponseWriter, r *http.Request) {
	if l := malipo.NormalizeLang(r.URL.Query().Get("lang")); l != "" {
		http.SetCookie(w, &http.Cookie{Name: "malipo_lang", Value: l, Path: "/dashboard/", MaxAge: 365 * 24 * 3600, SameSite: http.SameSiteLaxMode})
	}
}

// language is the page's: ?lang=, else the lang cookie, else the
// browser's preference, else English.
func language(r *http.Request) string {
	if l := malipo.NormalizeLang(r.URL.Query().Get("lang")); l != "" {
		return l
	}
	if c, err := r.Cookie("malipo_lang"); err == nil {
		if l := malipo.NormalizeLang(c.Value); l != "" {
			return l
		}
	}
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		if l := malipo.NormalizeLang(tag); l != "" {
			return l
		}
	}
	return "en"
}
