// Package snapshot is how objects are kept as JSON in the store when they
// must be read back later: an event's data (sent, and sent again, for four
// days) and the result an idempotency key replays (for 24 hours). Each
// object is written in an explicit shape of its own, with snake_case field
// names and a version, pinned by golden files: renaming a Go field cannot
// change what is stored, or make stored snapshots unreadable.
package snapshot

import (
	"encoding/json"
	"fmt"
	"time"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/malipo/malipo"
)

// Version is the version of the snapshots written now. Version 0 is what
// was stored before snapshots existed: the JSON of the Go struct itself,
// which Decode still reads.
const Version = 1

// envelope is a snapshot's outside. Data is the shape itself when one is
// written or read in one pass, or a *json.RawMessage to read it later.
type envelope struct {
	V    int    `json:"v"`
	Type string `json:"type"`
	Data any    `json:"data"`
}

// CreatedEndpoint is what creating a webhook endpoint answers: the
// endpoint and its secret, shown once.
type CreatedEndpoint struct {
	Endpoint malipo.Endpoint
	Secret   string
}

// Encode writes v as a snapshot. v is a malipo.Payment, Payout, Refund,
// CardSetup or Unmatched, a CreatedEndpoint, or a []malipo.Delivery.
func Encode(v any) ([]byte, error) {
	var typ string
	var data any
	switch x := v.(type) {
	case malipo.Payment:
		typ, data = "payment", fromPayment(x)
	case malipo.Payout:
		typ, data = "payout", fromPayout(x)
	case malipo.Refund:
		typ, data = "refund", fromRefund(x)
	case malipo.CardSetup:
		typ, data = "card_setup", fromCardSetup(x)
	case malipo.Unmatched:
		typ, data = "unmatched", fromUnmatched(x)
	case CreatedEndpoint:
		typ, data = "endpoint_created", createdEndpoint{Endpoint: fromEndpoint(x.Endpoint), Secret: x.Secret}
	case []malipo.Delivery:
		list := make([]delivery, len(x))
		for i, d := range x {
			list[i] = fromDelivery(d)
		}
		typ, data = "deliveries", list
	default:
		return nil, fmt.Errorf("snapshot: no snapshot shape for %T", v)
	}
	// In one pass: data written first and then embedded as raw JSON would
	// be scanned again, byte by byte, to be compacted.
	return json.Marshal(envelope{V: Version, Type: typ, Data: data})
}

// Decode reads a snapshot into v, a pointer to the type Encode was given.
//
// It reads the snapshot once: the data goes straight into the shape v's
// type is kept in. Only when that does not give a snapshot of the right
// type and version (a version-0 snapshot, one of another type, one from
// a newer Malipo, bad JSON) does it read again, step by step, to say
// which. A notification renders its event's snapshot on every attempt,
// and reading the JSON twice over was a tenth of a delivery's CPU.
//
// That one read is json/v2's (the module that becomes encoding/json/v2):
// it reads a payment in less than half the time and allocations of
// encoding/json, which first scans the whole input to validate it. It
// reads the shapes exactly as encoding/json does, since their names are
// matched as they were written; anything it refuses (duplicate names,
// invalid UTF-8) is read again by encoding/json, step by step.
func Decode(b []byte, v any) error {
	want, into, done, err := shapeOf(v)
	if err != nil {
		return err
	}
	env := envelope{Data: into} // decoded in place
	if jsonv2.Unmarshal(b, &env) == nil && env.V > 0 && env.V <= Version && env.Type == want {
		done()
		return nil
	}
	return decodeStepwise(b, v)
}

// decodeStepwise reads the envelope first, then the data as its version
// and type say, with an error for each way a snapshot can be unreadable.
func decodeStepwise(b []byte, v any) error {
	var data json.RawMessage
	env := envelope{Data: &data}
	if json.Unmarshal(b, &env) != nil || env.V == 0 {
		return json.Unmarshal(b, v) // version 0: the Go struct's own JSON
	}
	if env.V > Version {
		return fmt.Errorf("snapshot: version %d was written by a newer Malipo", env.V)
	}
	want, into, done, err := shapeOf(v)
	if err != nil {
		return err
	}
	if env.Type != want {
		return fmt.Errorf("snapshot: a %s snapshot cannot be read as a %s", env.Type, want)
	}
	if err := json.Unmarshal(data, into); err != nil {
		return fmt.Errorf("snapshot: read %s: %w", want, err)
	}
	done()
	return nil
}

// shapeOf gives, for v (a pointer to a type Encode takes), the snapshot
// type it is kept as, a fresh shape to decode into, and done, which
// copies the shape into v.
func shapeOf(v any) (want string, into any, done func(), err error) {
	switch p := v.(type) {
	case *malipo.Payment:
		var s payment
		return "payment", &s, func() { *p = s.domain() }, nil
	case *malipo.Payout:
		var s payout
		return "payout", &s, func() { *p = s.domain() }, nil
	case *malipo.Refund:
		var s refund
		return "refund", &s, func() { *p = s.domain() }, nil
	case *malipo.CardSetup:
		var s cardSetup
		return "card_setup", &s, func() { *p = s.domain() }, nil
	case *malipo.Unmatched:
		var s unmatched
		return "unmatched", &s, func() { *p = s.domain() }, nil
	case *CreatedEndpoint:
		var s createdEndpoint
		return "endpoint_created", &s, func() { *p = CreatedEndpoint{Endpoint: s.Endpoint.domain(), Secret: s.Secret} }, nil
	case *[]malipo.Delivery:
		var s []delivery
		return "deliveries", &s, func() {
			*p = make([]malipo.Delivery, len(s))
			for i, d := range s {
				(*p)[i] = d.domain()
			}
		}, nil
	}
	return "", nil, nil, fmt.Errorf("snapshot: cannot decode into %T", v)
}

// The shapes. Their JSON names are the stored format: change them only by
// adding a version.

type customer struct {
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
	Phone string `json:"phone,omitempty"`
}

type item struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Quantity    int64  `json:"quantity"`
	UnitPrice   int64  `json:"unit_price"`
	Total       int64  `json:"total"`
}

type tax struct {
	Name   string `json:"name"`
	Amount int64  `json:"amount"`
}

type detail struct {
	Label string `json:"label"`
	Value string `json:"value"`
}

type shop struct {
	Name          string `json:"name,omitempty"`
	LogoURL       string `json:"logo_url,omitempty"`
	Tagline       string `json:"tagline,omitempty"`
	PostalAddress string `json:"postal_address,omitempty"`
	Phone         string `json:"phone,omitempty"`
	WebsiteURL    string `json:"website_url,omitempty"`
}

type payment struct {
	ID             string            `json:"id"`
	MerchantID     string            `json:"merchant_id"`
	IntegrationID  string            `json:"integration_id"`
	Mode           string            `json:"mode"`
	Amount         int64             `json:"amount"`
	Currency       string            `json:"currency"`
	Fee            int64             `json:"fee"`
	Reference      string            `json:"reference"`
	Description    string            `json:"description,omitempty"`
	Customer       customer          `json:"customer"`
	Channels       []string          `json:"channels"`
	Method         string            `json:"method,omitempty"`
	Phone          string            `json:"phone,omitempty"`
	Operator       string            `json:"operator,omitempty"`
	ReturnURL      string            `json:"return_url,omitempty"`
	CancelURL      string            `json:"cancel_url,omitempty"`
	NotifyURL      string            `json:"notify_url,omitempty"`
	Metadata       map[string]string `json:"metadata,omitempty"`
	Lang           string            `json:"lang,omitempty"`
	Status         string            `json:"status"`
	FailureCode    string            `json:"failure_code,omitempty"`
	FailureReason  string            `json:"failure_reason,omitempty"`
	RailReference  string            `json:"rail_reference,omitempty"`
	CheckoutToken  string            `json:"checkout_token"`
	Items          []item            `json:"items,omitempty"`
	Taxes          []tax             `json:"taxes,omitempty"`
	Store          shop              `json:"store,omitzero"`
	Details        []detail          `json:"details,omitempty"`
	LockPhone      bool              `json:"lock_phone,omitempty"`
	Region         string            `json:"region,omitempty"`
	FrameOrigin    string            `json:"frame_origin,omitempty"`
	Account        string            `json:"account,omitempty"`
	FaceData       []byte            `json:"face_data,omitempty"`
	NextAction     string            `json:"next_action,omitempty"`
	AmountRefunded int64             `json:"amount_refunded,omitempty"`
	AvailableAt    time.Time         `json:"available_at,omitzero"`
	SettledAt      time.Time         `json:"settled_at,omitzero"`
	Attempt        int               `json:"attempt,omitempty"`
	InFlightUntil  time.Time         `json:"in_flight_until,omitzero"`
	Late           bool              `json:"late,omitempty"`
	CreatedAt      time.Time         `json:"created_at"`
	UpdatedAt      time.Time         `json:"updated_at"`
	ExpiresAt      time.Time         `json:"expires_at"`
	CompletedAt    time.Time         `json:"completed_at,omitzero"`
}

func fromPayment(p malipo.Payment) payment {
	s := payment{ID: p.ID, MerchantID: p.MerchantID, IntegrationID: p.IntegrationID, Mode: string(p.Mode), Amount: p.Amount,
		Currency: string(p.Currency), Fee: p.Fee, Reference: p.Reference, Description: p.Description, Customer: customer(p.Customer),
		Method: string(p.Method), Phone: p.Phone, Operator: p.Operator, ReturnURL: p.ReturnURL, CancelURL: p.CancelURL,
		NotifyURL: p.NotifyURL, Metadata: p.Metadata, Lang: p.Lang, Status: string(p.Status), FailureCode: p.FailureCode,
		FailureReason: p.FailureReason, RailReference: p.RailReference, CheckoutToken: p.CheckoutToken, Store: shop(p.Store),
		LockPhone: p.LockPhone, Region: p.Region, FrameOrigin: p.FrameOrigin, Account: p.Account, FaceData: p.FaceData, NextAction: p.NextAction, AmountRefunded: p.AmountRefunded,
		AvailableAt: p.AvailableAt, SettledAt: p.SettledAt, Attempt: p.Attempt, InFlightUntil: p.InFlightUntil, Late: p.Late,
		CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt, ExpiresAt: p.ExpiresAt, CompletedAt: p.CompletedAt}
	for _, c := range p.Channels {
		s.Channels = append(s.Channels, string(c))
	}
	for _, it := range p.Items {
		s.Items = append(s.Items, item(it))
	}
	for _, t := range p.Taxes {
		s.Taxes = append(s.Taxes, tax(t))
	}
	for _, d := range p.Details {
		s.Details = append(s.Details, detail(d))
	}
	return s
}

func (s payment) domain() malipo.Payment {
	p := malipo.Payment{ID: s.ID, MerchantID: s.MerchantID, IntegrationID: s.IntegrationID, Mode: malipo.Mode(s.Mode), Amount: s.Amount,
		Currency: malipo.Currency(s.Currency), Fee: s.Fee, Reference: s.Reference, Description: s.Description,
		Customer: malipo.Customer(s.Customer), Method: malipo.Channel(s.Method), Phone: s.Phone, Operator: s.Operator,
		ReturnURL: s.ReturnURL, CancelURL: s.CancelURL, NotifyURL: s.NotifyURL, Metadata: s.Metadata, Lang: s.Lang,
		Status: malipo.PaymentStatus(s.Status), FailureCode: s.FailureCode, FailureReason: s.FailureReason,
		RailReference: s.RailReference, CheckoutToken: s.CheckoutToken, Store: malipo.Store(s.Store), LockPhone: s.LockPhone,
		Region: s.Region, FrameOrigin: s.FrameOrigin, Account: s.Account, FaceData: s.FaceData, NextAction: s.NextAction, AmountRefunded: s.AmountRefunded, AvailableAt: s.AvailableAt,
		SettledAt: s.SettledAt, Attempt: s.Attempt, InFlightUntil: s.InFlightUntil, Late: s.Late, CreatedAt: s.CreatedAt,
		UpdatedAt: s.UpdatedAt, ExpiresAt: s.ExpiresAt, CompletedAt: s.CompletedAt}
	for _, c := range s.Channels {
		p.Channels = append(p.Channels, malipo.Channel(c))
	}
	for _, it := range s.Items {
		p.Items = append(p.Items, malipo.Item(it))
	}
	for _, t := range s.Taxes {
		p.Taxes = append(p.Taxes, malipo.Tax(t))
	}
	for _, d := range s.Details {
		p.Details = append(p.Details, malipo.Detail(d))
	}
	return p
}

type destination struct {
	Type             string `json:"type"`
	Account          string `json:"account"`
	Name             string `json:"name,omitempty"`
	Operator         string `json:"operator,omitempty"`
	AccountReference string `json:"account_reference,omitempty"`
}

type payout struct {
	ID            string      `json:"id"`
	MerchantID    string      `json:"merchant_id"`
	IntegrationID string      `json:"integration_id"`
	Mode          string      `json:"mode"`
	Amount        int64       `json:"amount"`
	Fee           int64       `json:"fee"`
	Currency      string      `json:"currency"`
	Reference     string      `json:"reference"`
	Destination   destination `json:"destination"`
	Narration     string      `json:"narration,omitempty"`
	Status        string      `json:"status"`
	FailureCode   string      `json:"failure_code,omitempty"`
	FailureReason string      `json:"failure_reason,omitempty"`
	RailReference string      `json:"rail_reference,omitempty"`
	CreatedAt     time.Time   `json:"created_at"`
	UpdatedAt     time.Time   `json:"updated_at"`
	CompletedAt   time.Time   `json:"completed_at,omitzero"`
}

func fromPayout(p malipo.Payout) payout {
	d := p.Destination
	return payout{ID: p.ID, MerchantID: p.MerchantID, IntegrationID: p.IntegrationID, Mode: string(p.Mode), Amount: p.Amount, Fee: p.Fee,
		Currency: string(p.Currency), Reference: p.Reference, Destination: destination{Type: string(d.Type), Account: d.Account,
			Name: d.Name, Operator: d.Operator, AccountReference: d.AccountReference}, Narration: p.Narration, Status: string(p.Status),
		FailureCode: p.FailureCode, FailureReason: p.FailureReason, RailReference: p.RailReference, CreatedAt: p.CreatedAt,
		UpdatedAt: p.UpdatedAt, CompletedAt: p.CompletedAt}
}

func (s payout) domain() malipo.Payout {
	d := s.Destination
	return malipo.Payout{ID: s.ID, MerchantID: s.MerchantID, IntegrationID: s.IntegrationID, Mode: malipo.Mode(s.Mode), Amount: s.Amount,
		Fee: s.Fee, Currency: malipo.Currency(s.Currency), Reference: s.Reference, Destination: malipo.Destination{
			Type: malipo.DestinationType(d.Type), Account: d.Account, Name: d.Name, Operator: d.Operator, AccountReference: d.AccountReference},
		Narration: s.Narration, Status: malipo.PayoutStatus(s.Status), FailureCode: s.FailureCode, FailureReason: s.FailureReason,
		RailReference: s.RailReference, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt, CompletedAt: s.CompletedAt}
}

type refund struct {
	ID            string    `json:"id"`
	PaymentID     string    `json:"payment_id"`
	MerchantID    string    `json:"merchant_id"`
	IntegrationID string    `json:"integration_id"`
	Mode          string    `json:"mode"`
	Amount        int64     `json:"amount"`
	Currency      string    `json:"currency"`
	Reason        string    `json:"reason,omitempty"`
	Status        string    `json:"status"`
	FailureCode   string    `json:"failure_code,omitempty"`
	FailureReason string    `json:"failure_reason,omitempty"`
	RailReference string    `json:"rail_reference,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
	CompletedAt   time.Time `json:"completed_at,omitzero"`
}

func fromRefund(r malipo.Refund) refund {
	return refund{ID: r.ID, PaymentID: r.PaymentID, MerchantID: r.MerchantID, IntegrationID: r.IntegrationID, Mode: string(r.Mode),
		Amount: r.Amount, Currency: string(r.Currency), Reason: r.Reason, Status: string(r.Status), FailureCode: r.FailureCode,
		FailureReason: r.FailureReason, RailReference: r.RailReference, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
		CompletedAt: r.CompletedAt}
}

func (s refund) domain() malipo.Refund {
	return malipo.Refund{ID: s.ID, PaymentID: s.PaymentID, MerchantID: s.MerchantID, IntegrationID: s.IntegrationID,
		Mode: malipo.Mode(s.Mode), Amount: s.Amount, Currency: malipo.Currency(s.Currency), Reason: s.Reason,
		Status: malipo.RefundStatus(s.Status), FailureCode: s.FailureCode, FailureReason: s.FailureReason,
		RailReference: s.RailReference, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt, CompletedAt: s.CompletedAt}
}

type cardSetup struct {
	ID            string    `json:"id"`
	MerchantID    string    `json:"merchant_id"`
	IntegrationID string    `json:"integration_id"`
	Mode          string    `json:"mode"`
	Customer      customer  `json:"customer"`
	Reference     string    `json:"reference,omitempty"`
	ReturnURL     string    `json:"return_url,omitempty"`
	Lang          string    `json:"lang,omitempty"`
	Token         string    `json:"token"`
	Status        string    `json:"status"`
	CardTokenID   string    `json:"card_token_id,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	ExpiresAt     time.Time `json:"expires_at"`
}

func fromCardSetup(c malipo.CardSetup) cardSetup {
	return cardSetup{ID: c.ID, MerchantID: c.MerchantID, IntegrationID: c.IntegrationID, Mode: string(c.Mode), Customer: customer(c.Customer),
		Reference: c.Reference, ReturnURL: c.ReturnURL, Lang: c.Lang, Token: c.Token, Status: string(c.Status), CardTokenID: c.CardTokenID,
		CreatedAt: c.CreatedAt, ExpiresAt: c.ExpiresAt}
}

func (s cardSetup) domain() malipo.CardSetup {
	return malipo.CardSetup{ID: s.ID, MerchantID: s.MerchantID, IntegrationID: s.IntegrationID, Mode: malipo.Mode(s.Mode),
		Customer: malipo.Customer(s.Customer), Reference: s.Reference, ReturnURL: s.ReturnURL, Lang: s.Lang, Token: s.Token,
		Status: malipo.CardSetupStatus(s.Status), CardTokenID: s.CardTokenID, CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt}
}

type unmatched struct {
	ID            string    `json:"id"`
	PaymentID     string    `json:"payment_id"`
	Rail          string    `json:"rail"`
	RailReference string    `json:"rail_reference,omitempty"`
	Amount        int64     `json:"amount"`
	Currency      string    `json:"currency"`
	PaymentStatus string    `json:"payment_status"`
	At            time.Time `json:"at"`
}

func fromUnmatched(u malipo.Unmatched) unmatched {
	return unmatched{ID: u.ID, PaymentID: u.PaymentID, Rail: u.Rail, RailReference: u.RailReference, Amount: u.Amount,
		Currency: string(u.Currency), PaymentStatus: string(u.PaymentStatus), At: u.At}
}

func (s unmatched) domain() malipo.Unmatched {
	return malipo.Unmatched{ID: s.ID, PaymentID: s.PaymentID, Rail: s.Rail, RailReference: s.RailReference, Amount: s.Amount,
		Currency: malipo.Currency(s.Currency), PaymentStatus: malipo.PaymentStatus(s.PaymentStatus), At: s.At}
}

type secret struct {
	Secret    string    `json:"secret"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

type endpoint struct {
	ID             string    `json:"id"`
	MerchantID     string    `json:"merchant_id"`
	Mode           string    `json:"mode"`
	URL            string    `json:"url"`
	Events         []string  `json:"events,omitempty"`
	Secrets        []secret  `json:"secrets"`
	Disabled       bool      `json:"disabled,omitempty"`
	DisabledReason string    `json:"disabled_reason,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
}

type createdEndpoint struct {
	Endpoint endpoint `json:"endpoint"`
	Secret   string   `json:"secret"`
}

func fromEndpoint(e malipo.Endpoint) endpoint {
	s := endpoint{ID: e.ID, MerchantID: e.MerchantID, Mode: string(e.Mode), URL: e.URL, Events: e.Events, Disabled: e.Disabled,
		DisabledReason: e.DisabledReason, CreatedAt: e.CreatedAt}
	for _, x := range e.Secrets {
		s.Secrets = append(s.Secrets, secret(x))
	}
	return s
}

func (s endpoint) domain() malipo.Endpoint {
	e := malipo.Endpoint{ID: s.ID, MerchantID: s.MerchantID, Mode: malipo.Mode(s.Mode), URL: s.URL, Events: s.Events,
		Disabled: s.Disabled, DisabledReason: s.DisabledReason, CreatedAt: s.CreatedAt}
	for _, x := range s.Secrets {
		e.Secrets = append(e.Secrets, malipo.EndpointSecret(x))
	}
	return e
}

type delivery struct {
	ID            string    `json:"id"`
	EventID       string    `json:"event_id"`
	MerchantID    string    `json:"merchant_id"`
	Mode          string    `json:"mode"`
	EndpointID    string    `json:"endpoint_id,omitempty"`
	IntegrationID string    `json:"integration_id,omitempty"`
	Flavor        string    `json:"flavor"`
	URL           string    `json:"url"`
	Status        string    `json:"status"`
	Attempts      int       `json:"attempts"`
	NextAttemptAt time.Time `json:"next_attempt_at,omitzero"`
	Lease         int       `json:"lease,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

func fromDelivery(d malipo.Delivery) delivery {
	return delivery{ID: d.ID, EventID: d.EventID, MerchantID: d.MerchantID, Mode: string(d.Mode), EndpointID: d.EndpointID,
		IntegrationID: d.IntegrationID, Flavor: string(d.Flavor), URL: d.URL, Status: string(d.Status), Attempts: d.Attempts,
		NextAttemptAt: d.NextAttemptAt, Lease: d.Lease, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
}

func (s delivery) domain() malipo.Delivery {
	return malipo.Delivery{ID: s.ID, EventID: s.EventID, MerchantID: s.MerchantID, Mode: malipo.Mode(s.Mode), EndpointID: s.EndpointID,
		IntegrationID: s.IntegrationID, Flavor: malipo.Flavor(s.Flavor), URL: s.URL, Status: malipo.DeliveryStatus(s.Status),
		Attempts: s.Attempts, NextAttemptAt: s.NextAttemptAt, Lease: s.Lease, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt}
}
