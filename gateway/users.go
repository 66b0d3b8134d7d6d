package gateway

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/store"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// UserInput describes a new dashboard user.
type UserInput struct {
	MerchantID string // "" for an operator
	Email      string
	Password   string
	Role       malipo.Role
}

// Password rules: long enough to resist guessing, short enough that
// hashing it costs nothing unusual.
const (
	MinPasswordLen = 10
	MaxPasswordLen = 256
)

// SessionTTL is how long a dashboard sign-in lasts.
const SessionTTL = 12 * time.Hour

// argon2id parameters (RFC 9106's second recommendation, at 64 MiB).
const (
	argonTime    = 3
	argonMemory  = 64 << 10 // KiB
	argonThreads = 2
	argonKeyLen  = 32
)

// HashPassword hashes a password with argon2id and a fresh salt, in the
// PHC string form ($argon2id$v=19$m=…,t=…,p=…$salt$hash).
func (s *Service) HashPassword(password string) string {
	salt := s.cfg.IDs.Bytes(16)
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding.EncodeToString
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads, b64(salt), b64(key))
}

// checkPassword reports whether password matches a PHC argon2id hash.
func checkPassword(hash, password string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var m uint32
	var t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m > 1<<20 || t > 10 || p == 0 {
		return false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// CreateUser adds a dashboard user: a merchant's (owner, developer,
// support, viewer) or, with no merchant, an operator.
func (s *Service) CreateUser(ctx context.Context, in UserInput) (malipo.User, error) {
	email, err := malipo.NormalizeEmail(in.Email)
	if err != nil {
		return malipo.User{}, err
	}
	role, err := malipo.ParseRole(string(in.Role))
	if err != nil {
		return malipo.User{}, err
	}
	if (role == malipo.RoleOperator) != (in.MerchantID == "") {
		return malipo.User{}, malipo.Invalid("merchant", "parameter_invalid", "an operator belongs to no merchant; every other role belongs to one")
	}
	if n := len(in.Password); n < MinPasswordLen || n > MaxPasswordLen {
		return malipo.User{}, malipo.Invalid("password", "password_invalid", "a password is %d to %d characters", MinPasswordLen, MaxPasswordLen)
	}
	u := malipo.User{ID: s.cfg.IDs.ID("usr"), MerchantID: in.MerchantID, Email: email, PasswordHash: s.HashPassword(in.Password),
		Role: role, CreatedAt: s.now()}
	err = s.cfg.Store.Transact(ctx, func(tx store.Tx) error {
		if u.MerchantID != "" {
			if _, err := tx.GetMerchant(u.MerchantID); err != nil {
				return malipo.AsError(err).WithParam("merchant")
			}
		}
		return tx.CreateUser(u)
	})
	return u, err
}

// errSignIn is the one answer to every failed sign-in: which of the email
// or the password was wrong is not said.
var errSignIn = malipo.Errorf(malipo.KindUnauthorized, "invalid_credentials", "the email or the password is wrong")

// dummyHash is checked against when the email is unknown, so that a
// failed sign-in takes as long whether or not the user exists.
var dummyHash = "$argon2id$v=19$m=65536,t=3,p=2$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

// SignIn checks a user's email and password (and the authenticator's
// code, once the user turned two-factor sign-in on), counted against the
// caller's address by the login throttle, and opens a session in test
// mode. It returns the session's token, shown to the browser only.
func (s *Service) SignIn(ctx context.Context, email, password, code string, addr netip.Addr) (string, malipo.User, error) {
	done, err := s.authBegin(addr, false)
	if err != nil {
		return "", malipo.User{}, err
	}
	failed := true
	defer func() { done(failed) }()
	email = strings.ToLower(strings.TrimSpace(email))
	var u malipo.User
	err = s.cfg.Store.Read(ctx, func(tx store.Tx) (err error) {
		u, err = tx.UserByEmail(email)
		return err
	})
	if malipo.KindOf(err) == malipo.KindNotFound {
		checkPassword(dummyHash, password)
		return "", malipo.User{}, errSignIn
	}
	if err != nil {
		return "", malipo.User{}, err
	}
	if !checkPassword(u.PasswordHash, password) || !u.DisabledAt.IsZero() {
		return "", malipo.User{}, errSignIn
	}
	if u.TOTPEnabled && code == "" {
		failed = false // the password was right: only the code is missing
		return "", malipo.User{}, errTOTPRequired
	}
	if u.TOTPEnabled && !s.checkTOTP(u, code) {
		return "", malipo.User{}, errSignIn
	}
	if err := s.merchantActive(ctx, u); err != nil {
		return "", malipo.User{}, err
	}
	token := s.cfg.IDs.Secret("ses_", 24)
	now := s.now()
	sess := malipo.Session{Hash: HashKey(token), UserID: u.ID, Mode: malipo.ModeTest, CreatedAt: now, ExpiresAt: now.Add(SessionTTL)}
	if err := s.cfg.Store.Transact(ctx, func(tx store.Tx) error { return tx.CreateSession(sess) }); err != nil {
		return "", malipo.User{}, err
	}
	failed = false
	return token, u, nil
}

// errSignedOut is the answer for a session that is unknown, expired,
// revoked, or whose user may no longer sign in.
var errSignedOut = malipo.Errorf(malipo.KindUnauthorized, "signed_out", "sign in again")

// Session finds the signed-in user a session token belongs to.
func (s *Service) Session(ctx context.Context, token string) (malipo.User, malipo.Session, error) {
	var u malipo.User
	var sess malipo.Session
	err := s.cfg.Store.Read(ctx, func(tx store.Tx) (err error) {
		if sess, err = tx.GetSession(HashKey(token)); err != nil {
			return err
		}
		u, err = tx.GetUser(sess.UserID)
		return err
	})
	switch {
	case malipo.KindOf(err) == malipo.KindNotFound:
		return u, sess, errSignedOut
	case err != nil:
		return u, sess, err
	case !sess.Active(s.now()) || !u.DisabledAt.IsZero():
		return u, sess, errSignedOut
	}
	if err := s.merchantActive(ctx, u); err != nil {
		return u, sess, errSignedOut
	}
	return u, sess, nil
}

// merchantActive refuses the users of a suspended merchant.
func (s *Service) merchantActive(ctx context.Context, u malipo.User) error {
	if u.MerchantID == "" {
		return nil
	}
	m, err := s.Merchant(ctx, u.MerchantID)
	if err != nil {
		return err
	}
	if !m.SuspendedAt.IsZero() {
		return malipo.ErrMerchantSuspended
	}
	return nil
}

// SignOut ends a session.
func (s *Service) SignOut(ctx context.Context, token string) error {
	return s.cfg.Store.Transact(ctx, func(tx store.Tx) error {
		sess, err := tx.GetSession(HashKey(token))
		if err != nil || !sess.RevokedAt.IsZero() {
			return nil // nothing to end
		}
		sess.RevokedAt = s.now()
		return tx.UpdateSession(sess)
	})
}

// SwitchMode shows a session test or live data; live needs a role that
// may see live mode.
func (s *Service) SwitchMode(ctx context.Context, token string, mode malipo.Mode) error {
	u, sess, err := s.Session(ctx, token)
	if err != nil {
		return err
	}
	if _, err := malipo.ParseMode(string(mode)); err != nil {
		return err
	}
	if mode == malipo.ModeLive && !u.Role.Can(malipo.PermLive) {
		return malipo.Errorf(malipo.KindForbidden, "forbidden", "a %s sees test mode only", u.Role)
	}
	sess.Mode = mode
	return s.cfg.Store.Transact(ctx, func(tx store.Tx) error { return tx.UpdateSession(sess) })
}

// Scope is what a signed-in merchant user reads through the service's
// use cases: the merchant's data in the session's mode, as an
// integration of theirs would.
func Scope(u malipo.User, sess malipo.Session) malipo.Integration {
	return malipo.Integration{MerchantID: u.MerchantID, Mode: sess.Mode}
}

// totpOptions are the authenticator apps' defaults: 6 digits every 30
// seconds, a step of clock drift either way.
var totpOptions = totp.ValidateOpts{Period: 30, Skew: 1, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// EnrollTOTP gives a signed-in user a new authenticator secret, not yet
// required: ConfirmTOTP turns it on once the user shows a code from it.
// It returns the secret's otpauth:// key (for a QR code).
func (s *Service) EnrollTOTP(ctx context.Context, token string) (*otp.Key, error) {
	u, _, err := s.Session(ctx, token)
	if err != nil {
		return nil, err
	}
	if u.TOTPEnabled {
		return nil, malipo.Errorf(malipo.KindConflict, "totp_enabled", "two-factor sign-in is on already")
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: "Malipo", AccountName: u.Email, Rand: bytesReader{s}})
	if err != nil {
		return nil, err
	}
	u.TOTPSecret = key.Secret()
	return key, s.cfg.Store.Transact(ctx, func(tx store.Tx) error { return tx.UpdateUser(u) })
}

// bytesReader reads the service's injected randomness.
type bytesReader struct{ s *Service }

func (b bytesReader) Read(p []byte) (int, error) { return copy(p, b.s.cfg.IDs.Bytes(len(p))), nil }

// ConfirmTOTP turns two-factor sign-in on, given a code from the
// enrolled secret.
func (s *Service) ConfirmTOTP(ctx context.Context, token, code string) error {
	u, _, err := s.Session(ctx, token)
	if err != nil {
		return err
	}
	if u.TOTPSecret == "" || u.TOTPEnabled {
		return malipo.Errorf(malipo.KindConflict, "totp_not_enrolled", "start two-factor sign-in again")
	}
	if !s.checkTOTP(u, code) {
		return malipo.Invalid("code", "totp_invalid", "the code is wrong or too old")
	}
	u.TOTPEnabled = true
	return s.cfg.Store.Transact(ctx, func(tx store.Tx) error { return tx.UpdateUser(u) })
}

func (s *Service) checkTOTP(u malipo.User, code string) bool {
	ok, err := totp.ValidateCustom(strings.TrimSpace(code), u.TOTPSecret, s.now(), totpOptions)
	return err == nil && ok
}

// errTOTPRequired asks for the authenticator's code, the password being
// right (it is said only then).
var errTOTPRequired = malipo.Errorf(malipo.KindUnauthorized, "totp_required", "enter the code from your authenticator app")

// ListUsers lists a merchant's users ("" : the operators), by email.
func (s *Service) ListUsers(ctx context.Context, merchantID string) ([]malipo.User, error) {
	var out []malipo.User
	err := s.cfg.Store.Read(ctx, func(tx store.Tx) (err error) {
		out, err = tx.ListUsers(merchantID)
		return err
	})
	return out, err
}

// UserChange is what an owner may change of one of the merchant's users;
// nil leaves it.
type UserChange struct {
	Role     *malipo.Role
	Disabled *bool
}

// ChangeUser changes the role of one of a merchant's users, or disables
// (signing them out everywhere) or re-enables them. A merchant keeps at
// least one enabled owner.
func (s *Service) ChangeUser(ctx context.Context, merchantID, userID string, c UserChange) (malipo.User, error) {
	var u malipo.User
	err := s.cfg.Store.Transact(ctx, func(tx store.Tx) (err error) {
		if u, err = tx.GetUser(userID); err != nil {
			return err
		}
		if u.MerchantID != merchantID || merchantID == "" {
			return &malipo.Error{Kind: malipo.KindNotFound, Code: "resource_missing", Message: "user not found"}
		}
		if c.Role != nil {
			role, err := malipo.ParseRole(string(*c.Role))
			if err != nil || role == malipo.RoleOperator {
				return malipo.Invalid("role", "role_invalid", "a merchant's user is an owner, developer, support or viewer")
			}
			u.Role = role
		}
		if c.Disabled != nil {
			switch {
			case *c.Disabled && u.DisabledAt.IsZero():
				u.DisabledAt = s.now()
				if err := tx.RevokeSessions(u.ID, s.now().UnixMicro()); err != nil {
					return err
				}
			case !*c.Disabled:
				u.DisabledAt = time.Time{}
			}
		}
		if err := tx.UpdateUser(u); err != nil {
			return err
		}
		users, err := tx.ListUsers(merchantID)
		if err != nil {
			return err
		}
		for _, o := range users {
			if o.Role == malipo.RoleOwner && o.DisabledAt.IsZero() {
				return nil
			}
		}
		return malipo.Errorf(malipo.KindConflict, "last_owner", "a merchant keeps at least one owner who can sign in")
	})
	return u, err
}
