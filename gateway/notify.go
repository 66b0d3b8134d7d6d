package gateway

import (
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/snapshot"
	"github.com/malipo/malipo/store"
)

// paymentEvents names the event of each final payment status.
var paymentEvents = map[malipo.PaymentStatus]string{
	malipo.PaymentSucceeded: malipo.EventPaymentSucceeded,
	malipo.PaymentFailed:    malipo.EventPaymentFailed,
	malipo.PaymentCancelled: malipo.EventPaymentCancelled,
	malipo.PaymentExpired:   malipo.EventPaymentExpired,
}

// emit records, inside tx, the event of a payment's state change and its
// deliveries; the payment's own notify_url is among the destinations.
func (s *Service) emit(tx store.Tx, p malipo.Payment, in malipo.Integration) error {
	typ, ok := paymentEvents[p.Status]
	if !ok {
		return nil
	}
	return s.emitEvent(tx, typ, "payment", p.ID, p.MerchantID, p.Mode, p, in, p.NotifyURL)
}

// emitEvent records an event and one delivery per place the merchant
// wants to hear of it: every native endpoint of the merchant in that mode
// that subscribes to the type, and notifyURL (else the integration's), in
// the integration's flavor. The dispatcher sends them after commit.
func (s *Service) emitEvent(tx store.Tx, typ, objectType, objectID, merchantID string, mode malipo.Mode, object any,
	in malipo.Integration, notifyURL string) error {
	data, err := snapshot.Encode(object)
	if err != nil {
		return err
	}
	now := s.now()
	ev := malipo.Event{ID: s.cfg.IDs.ID("evt"), MerchantID: merchantID, Mode: mode, Type: typ,
		ObjectType: objectType, ObjectID: objectID, Data: data, CreatedAt: now}
	if err := tx.CreateEvent(ev); err != nil {
		return err
	}
	endpoints, err := tx.ListEndpoints(merchantID, mode)
	if err != nil {
		return err
	}
	// deliver writes a delivery to ep, or else in's notify URL. One this
	// node's courier takes is written leased to this node, as a claim
	// would lease it, and carried to it once the change commits; any
	// other is due now, and wakes the dispatcher's claims once it
	// commits.
	deliver := func(d malipo.Delivery, ep *malipo.Endpoint, in malipo.Integration) error {
		d.ID, d.EventID, d.MerchantID, d.Mode = s.cfg.IDs.ID("dlv"), ev.ID, ev.MerchantID, ev.Mode
		d.Status, d.NextAttemptAt, d.CreatedAt, d.UpdatedAt = malipo.DeliveryPending, now, now, now
		if until, ok := s.carries(d.URL); ok {
			d.NextAttemptAt, d.Lease = until, 1
			tx.AfterCommit(func() { s.cfg.Courier.Carry(d, ev, ep, in) })
		} else {
			tx.AfterCommit(s.wake)
		}
		return tx.CreateDelivery(d)
	}
	for _, ep := range endpoints {
		if ep.Wants(typ) {
			if err := deliver(malipo.Delivery{EndpointID: ep.ID, Flavor: malipo.FlavorNative, URL: ep.URL}, &ep, malipo.Integration{}); err != nil {
				return err
			}
		}
	}
	target := notifyURL
	if target == "" {
		target = in.NotifyURL
	}
	if target != "" && in.MerchantID == merchantID && flavorNotifies(in.Flavor, objectType) {
		return deliver(malipo.Delivery{IntegrationID: in.ID, Flavor: in.Flavor, URL: target}, nil, in)
	}
	return nil
}

// flavorNotifies says which objects each flavor's notify URL hears of:
// the providers' callbacks cover what their APIs create (iPay B2B sends
// money; the others collect it); native notify URLs hear of everything.
func flavorNotifies(f malipo.Flavor, objectType string) bool {
	switch f {
	case malipo.FlavorNative:
		return true
	case malipo.FlavorIPay:
		return objectType == "payout"
	}
	return objectType == "payment"
}

// carries reports whether this node's courier takes a delivery to url
// written now, and until when it is to be leased to this node.
func (s *Service) carries(url string) (until time.Time, ok bool) {
	if s.cfg.Courier == nil {
		return time.Time{}, false
	}
	return s.cfg.Courier.Lease(url)
}

// wake tells this node's dispatcher that deliveries are due: run after the
// commit of every change that wrote one due now.
func (s *Service) wake() {
	if s.cfg.Wake != nil {
		s.cfg.Wake()
	}
}
