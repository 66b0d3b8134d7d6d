package sqlstore

import (
	"database/sql"
	"encoding/json"
	"strings"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/store"
)

// Dashboard users and sessions, merchant and integration lists.

const userColumns = `id, merchant_id, email, password_hash, role, created_at, disabled_at, totp_secret, totp_enabled`

func scanUser(r interface{ Scan(...any) error }) (malipo.User, error) {
	var u malipo.User
	var role string
	var created, disabled int64
	var totp int
	err := r.Scan(&u.ID, &u.MerchantID, &u.Email, &u.PasswordHash, &role, &created, &disabled, &u.TOTPSecret, &totp)
	u.Role, u.CreatedAt, u.DisabledAt, u.TOTPEnabled = malipo.Role(role), fromMicros(created), fromMicros(disabled), totp == 1
	return u, err
}

func (t *tx) CreateUser(u malipo.User) error {
	_, err := t.exec(`INSERT INTO users (`+userColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.MerchantID, u.Email, u.PasswordHash, string(u.Role), micros(u.CreatedAt), micros(u.DisabledAt), u.TOTPSecret, boolInt(u.TOTPEnabled))
	return t.conflict(err, "email_in_use", "a user with this email already exists")
}

func (t *tx) GetUser(id string) (malipo.User, error) {
	u, err := scanUser(t.row(`SELECT `+userColumns+` FROM users WHERE id = ?`, id))
	return u, notFound(err, "user")
}

func (t *tx) UserByEmail(email string) (malipo.User, error) {
	u, err := scanUser(t.row(`SELECT `+userColumns+` FROM users WHERE email = ?`, email))
	return u, notFound(err, "user")
}

func (t *tx) UpdateUser(u malipo.User) error {
	res, err := t.exec(`UPDATE users SET password_hash = ?, role = ?, disabled_at = ?, totp_secret = ?, totp_enabled = ? WHERE id = ?`,
		u.PasswordHash, string(u.Role), micros(u.DisabledAt), u.TOTPSecret, boolInt(u.TOTPEnabled), u.ID)
	if err != nil {
		return err
	}
	return mustTouch(res, "user")
}

func (t *tx) ListUsers(merchantID string) ([]malipo.User, error) {
	rows, err := t.query(`SELECT `+userColumns+` FROM users WHERE merchant_id = ? ORDER BY email`, merchantID)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanUser)
}

const sessionColumns = `hash, user_id, mode, created_at, expires_at, revoked_at`

func scanSession(r interface{ Scan(...any) error }) (malipo.Session, error) {
	var s malipo.Session
	var mode string
	var created, expires, revoked int64
	err := r.Scan(&s.Hash, &s.UserID, &mode, &created, &expires, &revoked)
	s.Mode, s.CreatedAt, s.ExpiresAt, s.RevokedAt = malipo.Mode(mode), fromMicros(created), fromMicros(expires), fromMicros(revoked)
	return s, err
}

func (t *tx) CreateSession(s malipo.Session) error {
	_, err := t.exec(`INSERT INTO sessions (`+sessionColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
		s.Hash, s.UserID, string(s.Mode), micros(s.CreatedAt), micros(s.ExpiresAt), micros(s.RevokedAt))
	return t.conflict(err, "session_exists", "session already exists")
}

func (t *tx) GetSession(hash string) (malipo.Session, error) {
	s, err := scanSession(t.row(`SELECT `+sessionColumns+` FROM sessions WHERE hash = ?`, hash))
	return s, notFound(err, "session")
}

func (t *tx) UpdateSession(s malipo.Session) error {
	res, err := t.exec(`UPDATE sessions SET mode = ?, expires_at = ?, revoked_at = ? WHERE hash = ?`,
		string(s.Mode), micros(s.ExpiresAt), micros(s.RevokedAt), s.Hash)
	if err != nil {
		return err
	}
	return mustTouch(res, "session")
}

func (t *tx) RevokeSessions(userID string, at int64) error {
	_, err := t.exec(`UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at = 0`, at, userID)
	return err
}

func (t *tx) ListMerchants(f store.MerchantFilter) ([]malipo.Merchant, error) {
	where, args := []string{"1 = 1"}, []any{}
	if f.Search != "" {
		where = append(where, `(id = ? OR LOWER(name) LIKE ? ESCAPE '\')`)
		args = append(args, f.Search, "%"+escapeLike(strings.ToLower(f.Search))+"%")
	}
	rows, err := t.newestFirst(merchantColumns, "merchants", where, args, f.StartingAfter, f.Limit, 100)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanMerchant)
}

func (t *tx) ListIntegrations(merchantID string) ([]malipo.Integration, error) {
	rows, err := t.query(`SELECT `+integrationColumns+` FROM integrations i WHERE i.merchant_id = ? ORDER BY i.id`, merchantID)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanIntegration)
}

// escapeLike quotes LIKE's wildcards so that a search matches them as
// written (ESCAPE '\').
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// mustTouch is the not-found error of an update that changed no row.
func mustTouch(res sql.Result, what string) error {
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return notFound(sql.ErrNoRows, what)
	}
	return nil
}

func (t *tx) UpdateIntegration(i malipo.Integration) error {
	cfg, err := json.Marshal(i.Config)
	if err != nil {
		return err
	}
	rules, err := json.Marshal(i.Rules)
	if err != nil {
		return err
	}
	res, err := t.exec(`UPDATE integrations SET config = ?, notify_url = ?, rules = ? WHERE id = ?`, string(cfg), i.NotifyURL, string(rules), i.ID)
	if err != nil {
		return err
	}
	return mustTouch(res, "integration")
}
