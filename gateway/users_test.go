package gateway_test

import (
	"context"
	"math/rand"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/clock"
	"github.com/malipo/malipo/gateway"
	"github.com/malipo/malipo/ids"
	"github.com/malipo/malipo/store/storetest"
)

func TestUsersSignInAndSessions(t *testing.T) {
	st := storetest.SQLite(t)
	clk := clock.NewFake(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	svc := gateway.New(gateway.Config{Store: st, Clock: clk, IDs: ids.New(clk.Now, rand.New(rand.NewSource(3))), AuthFailures: 4})
	ctx := context.Background()
	m, _ := svc.CreateMerchant(ctx, "Duka", "")
	addr := netip.MustParseAddr("192.0.2.10")

	for name, in := range map[string]gateway.UserInput{
		"bad email":               {MerchantID: m.ID, Email: "not an email", Password: "correct horse", Role: malipo.RoleOwner},
		"short password":          {MerchantID: m.ID, Email: "a@duka.example", Password: "short", Role: malipo.RoleOwner},
		"unknown role":            {MerchantID: m.ID, Email: "a@duka.example", Password: "correct horse", Role: "king"},
		"operator of a merchant":  {MerchantID: m.ID, Email: "a@duka.example", Password: "correct horse", Role: malipo.RoleOperator},
		"owner of no merchant":    {Email: "a@duka.example", Password: "correct horse", Role: malipo.RoleOwner},
		"owner of an unknown one": {MerchantID: "mer_nope", Email: "a@duka.example", Password: "correct horse", Role: malipo.RoleOwner},
	} {
		if _, err := svc.CreateUser(ctx, in); err == nil {
			t.Errorf("%s: created", name)
		}
	}
	owner, err := svc.CreateUser(ctx, gateway.UserInput{MerchantID: m.ID, Email: " Awa@Duka.example ", Password: "correct horse battery", Role: malipo.RoleOwner})
	if err != nil || owner.Email != "awa@duka.example" || owner.PasswordHash[:10] != "$argon2id$" {
		t.Fatalf("owner: %+v %v", owner, err)
	}
	if _, err := svc.CreateUser(ctx, gateway.UserInput{MerchantID: m.ID, Email: "awa@duka.example", Password: "another password", Role: malipo.RoleViewer}); malipo.KindOf(err) != malipo.KindConflict {
		t.Errorf("the same email twice: %v", err)
	}
	dev, _ := svc.CreateUser(ctx, gateway.UserInput{MerchantID: m.ID, Email: "dev@duka.example", Password: "developer pass", Role: malipo.RoleDeveloper})

	if _, _, err := svc.SignIn(ctx, "awa@duka.example", "wrong password", "", addr); malipo.AsError(err).Code != "invalid_credentials" {
		t.Errorf("wrong password: %v", err)
	}
	if _, _, err := svc.SignIn(ctx, "nobody@duka.example", "correct horse battery", "", addr); malipo.AsError(err).Code != "invalid_credentials" {
		t.Errorf("unknown email: %v", err)
	}
	token, u, err := svc.SignIn(ctx, "AWA@duka.example", "correct horse battery", "", addr)
	if err != nil || u.ID != owner.ID {
		t.Fatalf("sign in: %v", err)
	}
	got, sess, err := svc.Session(ctx, token)
	if err != nil || got.ID != owner.ID || sess.Mode != malipo.ModeTest {
		t.Fatalf("session: %+v %+v %v", got, sess, err)
	}
	if scope := gateway.Scope(got, sess); scope.MerchantID != m.ID || scope.Mode != malipo.ModeTest {
		t.Errorf("scope: %+v", scope)
	}
	if err := svc.SwitchMode(ctx, token, malipo.ModeLive); err != nil {
		t.Fatal(err)
	}
	if _, sess, _ := svc.Session(ctx, token); sess.Mode != malipo.ModeLive {
		t.Errorf("mode after the switch: %s", sess.Mode)
	}
	devToken, _, err := svc.SignIn(ctx, dev.Email, "developer pass", "", addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.SwitchMode(ctx, devToken, malipo.ModeLive); malipo.KindOf(err) != malipo.KindForbidden {
		t.Errorf("a developer going live: %v", err)
	}
	// Signing out, and time, end a session; a token that never was is
	// signed out too.
	if err := svc.SignOut(ctx, token); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Session(ctx, token); malipo.AsError(err).Code != "signed_out" {
		t.Errorf("after sign-out: %v", err)
	}
	clk.Advance(gateway.SessionTTL)
	if _, _, err := svc.Session(ctx, devToken); malipo.AsError(err).Code != "signed_out" {
		t.Errorf("after %s: %v", gateway.SessionTTL, err)
	}
	if _, _, err := svc.Session(ctx, "ses_forged"); malipo.AsError(err).Code != "signed_out" {
		t.Errorf("forged token: %v", err)
	}
	// Failed sign-ins from one address are throttled, right password or not.
	for range 4 {
		svc.SignIn(ctx, "awa@duka.example", "wrong password", "", addr)
	}
	if _, _, err := svc.SignIn(ctx, "awa@duka.example", "correct horse battery", "", addr); malipo.KindOf(err) != malipo.KindRateLimited {
		t.Errorf("after 4 failures: %v", err)
	}
	op, err := svc.CreateUser(ctx, gateway.UserInput{Email: "ops@malipo.example", Password: "operator pass", Role: malipo.RoleOperator})
	if err != nil || op.MerchantID != "" {
		t.Errorf("operator: %+v %v", op, err)
	}
}

// Two-factor sign-in: enrolled, confirmed with a code, then every sign-in
// needs the authenticator's current code.
func TestTwoFactorSignIn(t *testing.T) {
	st := storetest.SQLite(t)
	clk := clock.NewFake(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	svc := gateway.New(gateway.Config{Store: st, Clock: clk, IDs: ids.New(clk.Now, rand.New(rand.NewSource(4)))})
	ctx := context.Background()
	m, _ := svc.CreateMerchant(ctx, "Duka", "")
	addr := netip.MustParseAddr("192.0.2.11")
	if _, err := svc.CreateUser(ctx, gateway.UserInput{MerchantID: m.ID, Email: "awa@duka.example", Password: "correct horse battery", Role: malipo.RoleOwner}); err != nil {
		t.Fatal(err)
	}
	token, _, err := svc.SignIn(ctx, "awa@duka.example", "correct horse battery", "", addr)
	if err != nil {
		t.Fatal(err)
	}
	key, err := svc.EnrollTOTP(ctx, token)
	if err != nil || key.Secret() == "" || !strings.HasPrefix(key.URL(), "otpauth://totp/Malipo:awa@duka.example") {
		t.Fatalf("enroll: %v %v", key, err)
	}
	// Not yet required: enrolling alone changes nothing.
	if _, _, err := svc.SignIn(ctx, "awa@duka.example", "correct horse battery", "", addr); err != nil {
		t.Errorf("before confirmation: %v", err)
	}
	if err := svc.ConfirmTOTP(ctx, token, "000000"); malipo.AsError(err).Code != "totp_invalid" {
		t.Errorf("a wrong confirmation code: %v", err)
	}
	code, _ := totp.GenerateCode(key.Secret(), clk.Now())
	if err := svc.ConfirmTOTP(ctx, token, code); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.SignIn(ctx, "awa@duka.example", "correct horse battery", "", addr); malipo.AsError(err).Code != "totp_required" {
		t.Errorf("without a code: %v", err)
	}
	if _, _, err := svc.SignIn(ctx, "awa@duka.example", "wrong password", "", addr); malipo.AsError(err).Code != "invalid_credentials" {
		t.Errorf("a wrong password says nothing of the code: %v", err)
	}
	if _, _, err := svc.SignIn(ctx, "awa@duka.example", "correct horse battery", "123456", addr); malipo.AsError(err).Code != "invalid_credentials" {
		t.Errorf("a wrong code: %v", err)
	}
	clk.Advance(2 * time.Minute)
	code, _ = totp.GenerateCode(key.Secret(), clk.Now())
	if _, _, err := svc.SignIn(ctx, "awa@duka.example", "correct horse battery", code, addr); err != nil {
		t.Errorf("with the current code: %v", err)
	}
}
