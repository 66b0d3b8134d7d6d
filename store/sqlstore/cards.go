package sqlstore

import (
	"encoding/json"

	"github.com/malipo/malipo"
)

// Card setups.

const cardSetupColumns = `id, merchant_id, integration_id, mode, customer, return_url, lang, token, status, card_token_id,
	reference, created_at, expires_at`

func scanCardSetup(r interface{ Scan(...any) error }) (malipo.CardSetup, error) {
	var s malipo.CardSetup
	var mode, customer, status string
	var created, expires int64
	if err := r.Scan(&s.ID, &s.MerchantID, &s.IntegrationID, &mode, &customer, &s.ReturnURL, &s.Lang, &s.Token, &status,
		&s.CardTokenID, &s.Reference, &created, &expires); err != nil {
		return s, err
	}
	s.Mode, s.Status, s.CreatedAt, s.ExpiresAt = malipo.Mode(mode), malipo.CardSetupStatus(status), fromMicros(created), fromMicros(expires)
	return s, json.Unmarshal([]byte(customer), &s.Customer)
}

func (t *tx) CreateCardSetup(s malipo.CardSetup) error {
	customer, err := json.Marshal(s.Customer)
	if err != nil {
		return err
	}
	_, err = t.exec(`INSERT INTO card_setups (`+cardSetupColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.ID, s.MerchantID, s.IntegrationID, string(s.Mode), string(customer), s.ReturnURL, s.Lang, s.Token, string(s.Status),
		s.CardTokenID, s.Reference, micros(s.CreatedAt), micros(s.ExpiresAt))
	return t.conflict(err, "card_setup_exists", "card setup already exists")
}

func (t *tx) GetCardSetup(id string) (malipo.CardSetup, error) {
	s, err := scanCardSetup(t.row(`SELECT `+cardSetupColumns+` FROM card_setups WHERE id = ?`+t.lock(), id))
	return s, notFound(err, "card setup")
}

func (t *tx) UpdateCardSetup(s malipo.CardSetup) error {
	res, err := t.exec(`UPDATE card_setups SET status = ?, card_token_id = ? WHERE id = ?`, string(s.Status), s.CardTokenID, s.ID)
	return affected(res, err, "card setup")
}

// Card tokens.

const cardTokenColumns = `id, merchant_id, mode, customer_phone, customer, scheme, masked, exp_month, exp_year, rail,
	network_token, created_at`

func scanCardToken(r interface{ Scan(...any) error }) (malipo.CardToken, error) {
	var c malipo.CardToken
	var mode, customer string
	var created int64
	if err := r.Scan(&c.ID, &c.MerchantID, &mode, &c.CustomerPhone, &customer, &c.Scheme, &c.Masked, &c.ExpMonth, &c.ExpYear,
		&c.Rail, &c.NetworkToken, &created); err != nil {
		return c, err
	}
	c.Mode, c.CreatedAt = malipo.Mode(mode), fromMicros(created)
	return c, json.Unmarshal([]byte(customer), &c.Customer)
}

func (t *tx) CreateCardToken(c malipo.CardToken) error {
	customer, err := json.Marshal(c.Customer)
	if err != nil {
		return err
	}
	_, err = t.exec(`INSERT INTO card_tokens (`+cardTokenColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.MerchantID, string(c.Mode), c.CustomerPhone, string(customer), c.Scheme, c.Masked, c.ExpMonth, c.ExpYear,
		c.Rail, c.NetworkToken, micros(c.CreatedAt))
	return t.conflict(err, "card_token_exists", "card token already exists")
}

func (t *tx) GetCardToken(id string) (malipo.CardToken, error) {
	c, err := scanCardToken(t.row(`SELECT `+cardTokenColumns+` FROM card_tokens WHERE id = ?`, id))
	return c, notFound(err, "card token")
}

func (t *tx) ListCardTokens(merchantID string, mode malipo.Mode, phone string) ([]malipo.CardToken, error) {
	rows, err := t.query(`SELECT `+cardTokenColumns+` FROM card_tokens WHERE merchant_id = ? AND mode = ? AND customer_phone = ?
		ORDER BY id`, merchantID, string(mode), phone)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanCardToken)
}
