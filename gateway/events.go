package gateway

import (
	"context"
	"slices"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/store"
)

// ListEvents lists the merchant's events in the integration's mode, newest
// first.
func (s *Service) ListEvents(ctx context.Context, in malipo.Integration, f store.EventFilter) ([]malipo.Event, error) {
	if err := checkPage(&f.Limit); err != nil {
		return nil, err
	}
	if f.Type != "" && !slices.Contains(malipo.EventTypes, f.Type) {
		return nil, malipo.Invalid("type", "event_type_invalid", "unknown event type %q", f.Type)
	}
	f.MerchantID, f.Mode = in.MerchantID, in.Mode
	var evs []malipo.Event
	err := s.cfg.Store.Read(ctx, func(tx store.Tx) error {
		if f.StartingAfter != "" {
			if _, err := ownedEvent(tx, in, f.StartingAfter); err != nil {
				return malipo.AsError(err).WithParam("starting_after")
			}
		}
		var err error
		evs, err = tx.ListEvents(f)
		return err
	})
	return evs, err
}

func ownedEvent(tx store.Tx, in malipo.Integration, id string) (malipo.Event, error) {
	ev, err := tx.GetEvent(id)
	return ev, ownedBy(in, ev.MerchantID, ev.Mode, err, "event", id)
}

// GetEvent reads one of the merchant's events.
func (s *Service) GetEvent(ctx context.Context, in malipo.Integration, id string) (malipo.Event, error) {
	var ev malipo.Event
	err := s.cfg.Store.Read(ctx, func(tx store.Tx) (err error) {
		ev, err = ownedEvent(tx, in, id)
		return err
	})
	return ev, err
}

// DeliveryLog is a delivery with every attempt made at it.
type DeliveryLog struct {
	Delivery malipo.Delivery
	Attempts []malipo.Attempt
}

// EventDeliveries lists an event's deliveries and their attempts.
func (s *Service) EventDeliveries(ctx context.Context, in malipo.Integration, eventID string) ([]DeliveryLog, error) {
	var logs []DeliveryLog
	err := s.cfg.Store.Read(ctx, func(tx store.Tx) error {
		if _, err := ownedEvent(tx, in, eventID); err != nil {
			return err
		}
		ds, err := tx.ListDeliveries(eventID)
		if err != nil {
			return err
		}
		logs = make([]DeliveryLog, len(ds))
		for i, d := range ds {
			as, err := tx.ListAttempts(d.ID)
			if err != nil {
				return err
			}
			logs[i] = DeliveryLog{Delivery: d, Attempts: as}
		}
		return nil
	})
	return logs, err
}

// Redeliver sends an event again to every place it was delivered to: a
// delivery still pending is made due now; for each finished one a new
// delivery starts the schedule afresh. Endpoints since deleted or disabled
// are skipped. It returns the deliveries now on their way.
func (s *Service) Redeliver(ctx context.Context, in malipo.Integration, eventID string, idem Idempotency) ([]malipo.Delivery, bool, error) {
	var out []malipo.Delivery
	var replay bool
	err := s.transactIdempotent(ctx, in.ID, idem, func(tx store.Tx) error {
		var err error
		out = nil
		if replay, err = s.replayed(tx, in.ID, idem, &out); err != nil || replay {
			return err
		}
		if _, err := ownedEvent(tx, in, eventID); err != nil {
			return err
		}
		ds, err := tx.ListDeliveries(eventID)
		if err != nil {
			return err
		}
		now := s.now()
		seen := map[string]bool{}               // one new delivery per destination
		for _, d := range slices.Backward(ds) { // newest first
			dest := d.EndpointID + "|" + d.IntegrationID + "|" + d.URL
			if seen[dest] {
				continue
			}
			seen[dest] = true
			if d.EndpointID != "" {
				ep, err := tx.GetEndpoint(d.EndpointID)
				if malipo.KindOf(err) == malipo.KindNotFound || (err == nil && ep.Disabled) {
					continue
				}
				if err != nil {
					return err
				}
				d.URL = ep.URL
			}
			if d.Status == malipo.DeliveryPending {
				d.NextAttemptAt, d.UpdatedAt = now, now
				if err := tx.UpdateDelivery(d); err != nil {
					return err
				}
			} else {
				d.ID, d.Status, d.Attempts = s.cfg.IDs.ID("dlv"), malipo.DeliveryPending, 0
				d.NextAttemptAt, d.CreatedAt, d.UpdatedAt = now, now, now
				if err := tx.CreateDelivery(d); err != nil {
					return err
				}
			}
			out = append(out, d)
		}
		if len(out) > 0 {
			tx.AfterCommit(s.wake)
		}
		return s.remember(tx, in.ID, idem, out)
	})
	return out, replay, err
}
