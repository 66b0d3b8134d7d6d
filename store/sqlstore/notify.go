package sqlstore

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/malipo/malipo"
	"github.com/malipo/malipo/store"
)

// Events.

const eventColumns = `id, merchant_id, mode, type, object_type, object_id, data, created_at`

// eventRow holds an event's columns as they are scanned. They may be
// NULL: a lease reads each delivery's event through a LEFT JOIN, so that
// a missing one shows.
type eventRow struct {
	id, merchant, mode, typ, objectType, objectID, data sql.NullString
	created                                             sql.NullInt64
}

// dest is where a row's eventColumns are scanned to.
func (r *eventRow) dest() []any {
	return []any{&r.id, &r.merchant, &r.mode, &r.typ, &r.objectType, &r.objectID, &r.data, &r.created}
}

// event is the event scanned, zero if its ID was NULL.
func (r *eventRow) event() malipo.Event {
	if !r.id.Valid {
		return malipo.Event{}
	}
	return malipo.Event{ID: r.id.String, MerchantID: r.merchant.String, Mode: malipo.Mode(r.mode.String), Type: r.typ.String,
		ObjectType: r.objectType.String, ObjectID: r.objectID.String, Data: []byte(r.data.String), CreatedAt: fromMicros(r.created.Int64)}
}

func scanEvent(r interface{ Scan(...any) error }) (malipo.Event, error) {
	var row eventRow
	err := r.Scan(row.dest()...)
	return row.event(), err
}

func (t *tx) CreateEvent(e malipo.Event) error {
	return t.insertLater(laterEvents, nil, e.ID, e.MerchantID, string(e.Mode), e.Type, e.ObjectType, e.ObjectID, string(e.Data), micros(e.CreatedAt))
}

func (t *tx) GetEvent(id string) (malipo.Event, error) {
	e, err := scanEvent(t.row(`SELECT `+eventColumns+` FROM events WHERE id = ?`, id))
	return e, notFound(err, "event")
}

func (t *tx) GetEvents(ids []string) ([]malipo.Event, error) {
	var events []malipo.Event
	err := inChunks(ids, func(in string, args []any) error {
		rows, err := t.query(`SELECT `+eventColumns+` FROM events WHERE id IN (`+in+`)`, args...)
		if err != nil {
			return err
		}
		chunk, err := collect(rows, scanEvent)
		events = append(events, chunk...)
		return err
	})
	if err != nil {
		return nil, err
	}
	return events, nil
}

// inChunks runs do for ids in chunks of chunkSize, each with its
// placeholders ("?, ?, ?") and its IDs as arguments: a statement naming
// rows by ID takes them a chunk at a time, in few distinct texts.
func inChunks(ids []string, do func(in string, args []any) error) error {
	for len(ids) > 0 {
		n := chunkSize(len(ids))
		args := make([]any, n)
		for i, id := range ids[:n] {
			args[i] = id
		}
		if err := do("?"+strings.Repeat(", ?", n-1), args); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

func (t *tx) ListEvents(f store.EventFilter) ([]malipo.Event, error) {
	where := []string{"merchant_id = ?", "mode = ?"}
	args := []any{f.MerchantID, string(f.Mode)}
	if f.Type != "" {
		where, args = append(where, "type = ?"), append(args, f.Type)
	}
	if f.ObjectID != "" {
		where, args = append(where, "object_id = ?"), append(args, f.ObjectID)
	}
	where, args = createdBetween(where, args, f.CreatedFrom, f.CreatedTo)
	rows, err := t.newestFirst(eventColumns, "events", where, args, f.StartingAfter, f.Limit, 10)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanEvent)
}

// Endpoints.

const endpointColumns = `id, merchant_id, mode, url, events, secrets, disabled, disabled_reason, created_at`

func scanEndpoint(r interface{ Scan(...any) error }) (malipo.Endpoint, error) {
	var e malipo.Endpoint
	var mode, events, secrets string
	var disabled int
	var created int64
	if err := r.Scan(&e.ID, &e.MerchantID, &mode, &e.URL, &events, &secrets, &disabled, &e.DisabledReason, &created); err != nil {
		return e, err
	}
	e.Mode, e.Disabled, e.CreatedAt = malipo.Mode(mode), disabled != 0, fromMicros(created)
	if events != "" {
		e.Events = strings.Split(events, ",")
	}
	return e, json.Unmarshal([]byte(secrets), &e.Secrets)
}

func endpointArgs(e malipo.Endpoint) ([]any, error) {
	secrets, err := json.Marshal(e.Secrets)
	if err != nil {
		return nil, err
	}
	disabled := 0
	if e.Disabled {
		disabled = 1
	}
	return []any{e.ID, e.MerchantID, string(e.Mode), e.URL, strings.Join(e.Events, ","), string(secrets), disabled,
		e.DisabledReason, micros(e.CreatedAt)}, nil
}

func (t *tx) CreateEndpoint(e malipo.Endpoint) error {
	args, err := endpointArgs(e)
	if err != nil {
		return err
	}
	_, err = t.exec(`INSERT INTO webhook_endpoints (`+endpointColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...)
	return t.conflict(err, "endpoint_exists", "endpoint already exists")
}

func (t *tx) GetEndpoint(id string) (malipo.Endpoint, error) {
	e, err := scanEndpoint(t.row(`SELECT `+endpointColumns+` FROM webhook_endpoints WHERE id = ?`+t.lock(), id))
	return e, notFound(err, "webhook endpoint")
}

func (t *tx) UpdateEndpoint(e malipo.Endpoint) error {
	args, err := endpointArgs(e)
	if err != nil {
		return err
	}
	res, err := t.exec(`UPDATE webhook_endpoints SET url = ?, events = ?, secrets = ?, disabled = ?, disabled_reason = ? WHERE id = ?`,
		args[3], args[4], args[5], args[6], args[7], e.ID)
	return affected(res, err, "webhook endpoint")
}

func (t *tx) DeleteEndpoint(id string) error {
	res, err := t.exec(`DELETE FROM webhook_endpoints WHERE id = ?`, id)
	return affected(res, err, "webhook endpoint")
}

// affected turns an update or delete that touched no row into not found.
func affected(res sql.Result, err error, what string) error {
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return notFound(sql.ErrNoRows, what)
	}
	return nil
}

func (t *tx) ListEndpoints(merchantID string, mode malipo.Mode) ([]malipo.Endpoint, error) {
	if eps, ok := t.cache.endpointsOf(merchantID, mode); ok {
		return eps, nil
	}
	rows, err := t.query(`SELECT `+endpointColumns+` FROM webhook_endpoints WHERE merchant_id = ? AND mode = ? ORDER BY id`,
		merchantID, string(mode))
	if err != nil {
		return nil, err
	}
	eps, err := collect(rows, scanEndpoint)
	if err == nil && t.write {
		t.cache.keepEndpoints(merchantID, mode, eps)
	}
	return eps, err
}

// Deliveries and attempts.

const deliveryColumns = `id, event_id, merchant_id, mode, endpoint_id, integration_id, flavor, url, status, attempts,
	next_attempt_at, created_at, updated_at, lease`

// deliveryRow holds a delivery's columns as they are scanned.
type deliveryRow struct {
	d                    malipo.Delivery
	mode, flavor, status string
	next, created, upd   int64
}

// dest is where a row's deliveryColumns are scanned to.
func (r *deliveryRow) dest() []any {
	return []any{&r.d.ID, &r.d.EventID, &r.d.MerchantID, &r.mode, &r.d.EndpointID, &r.d.IntegrationID, &r.flavor, &r.d.URL, &r.status,
		&r.d.Attempts, &r.next, &r.created, &r.upd, &r.d.Lease}
}

func (r *deliveryRow) delivery() malipo.Delivery {
	d := r.d
	d.Mode, d.Flavor, d.Status = malipo.Mode(r.mode), malipo.Flavor(r.flavor), malipo.DeliveryStatus(r.status)
	d.NextAttemptAt, d.CreatedAt, d.UpdatedAt = fromMicros(r.next), fromMicros(r.created), fromMicros(r.upd)
	return d
}

func scanDelivery(r interface{ Scan(...any) error }) (malipo.Delivery, error) {
	var row deliveryRow
	err := r.Scan(row.dest()...)
	return row.delivery(), err
}

func (t *tx) CreateDelivery(d malipo.Delivery) error {
	return t.insertLater(laterDeliveries, nil, d.ID, d.EventID, d.MerchantID, string(d.Mode), d.EndpointID, d.IntegrationID, string(d.Flavor), d.URL,
		string(d.Status), d.Attempts, micros(d.NextAttemptAt), micros(d.CreatedAt), micros(d.UpdatedAt), d.Lease)
}

func (t *tx) GetDelivery(id string) (malipo.Delivery, error) {
	d, err := scanDelivery(t.row(`SELECT `+deliveryColumns+` FROM deliveries WHERE id = ?`+t.lock(), id))
	return d, notFound(err, "delivery")
}

func (t *tx) UpdateDelivery(d malipo.Delivery) error {
	res, err := t.exec(`UPDATE deliveries SET status = ?, attempts = ?, next_attempt_at = ?, updated_at = ?, lease = ? WHERE id = ?`,
		string(d.Status), d.Attempts, micros(d.NextAttemptAt), micros(d.UpdatedAt), d.Lease, d.ID)
	return affected(res, err, "delivery")
}

func (t *tx) SettleDelivery(d malipo.Delivery) error {
	return t.insertLater(laterDeliverySettlements, nil, d.ID, string(d.Status), d.Attempts, micros(d.NextAttemptAt), micros(d.UpdatedAt), d.Lease)
}

// settleDeliveriesStatement returns the statement that writes n
// deliveries' settlements at once (SettleDelivery's arguments, in order),
// each only where the delivery is pending under the same lease with one
// attempt fewer.
func settleDeliveriesStatement(n int) string {
	const tuple = `(CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS INTEGER), CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS INTEGER))`
	return `WITH v (id, status, attempts, next_attempt_at, updated_at, lease) AS (VALUES ` + strings.Repeat(tuple+", ", n-1) + tuple + `)
		UPDATE deliveries SET status = v.status, attempts = v.attempts, next_attempt_at = v.next_attempt_at, updated_at = v.updated_at
		FROM v WHERE deliveries.id = v.id AND deliveries.lease = v.lease AND deliveries.attempts = v.attempts - 1 AND deliveries.status = 'pending'`
}

// writeDeliverySettlements writes held settlements, failing with
// store.ErrLeaseLost if any delivery has moved on since its lease. Two
// settlements of one delivery cannot both hold, so they fail too; the
// batch then runs again with each caller's in its own savepoint.
func (t *tx) writeDeliverySettlements(rows []heldRow) error {
	return t.updateRows(argsOf(rows), settleDeliveriesStatement, store.ErrLeaseLost)
}

func (t *tx) ListDeliveries(eventID string) ([]malipo.Delivery, error) {
	rows, err := t.query(`SELECT `+deliveryColumns+` FROM deliveries WHERE event_id = ? ORDER BY id`, eventID)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanDelivery)
}

func (t *tx) LeaseDueDeliveries(now, until time.Time, limit int, except []string) ([]store.Leased, error) {
	args := []any{micros(until), micros(now)}
	var others strings.Builder
	for _, rcv := range except {
		// The URL is the receiver, or it goes on with a path, a query
		// or a fragment: https://shop.example must not take in
		// https://shop.example.net or https://shop.example:8443.
		others.WriteString(` AND NOT (lower(url) = ? OR lower(url) LIKE ? ESCAPE '\' OR lower(url) LIKE ? ESCAPE '\' OR lower(url) LIKE ? ESCAPE '\')`)
		prefix := likeEscaper.Replace(rcv)
		args = append(args, rcv, prefix+"/%", prefix+"?%", prefix+"#%")
	}
	// The limit is written into the statement, not bound: it is the
	// dispatcher's free workers, different nearly every claim, and SQLite
	// plans with a bound LIMIT's value, so each new value made it parse
	// the statement again. There are at most as many texts as workers
	// (times the receivers left alone, a few at most).
	order := "next_attempt_at"
	if len(except) > 0 {
		// Newest first: the receivers left alone may hold the oldest due,
		// a long backlog that an oldest-first scan reads through at every
		// claim (20,000 rows: 9 ms on PostgreSQL, against 0.07 ms).
		order += " DESC"
	}
	lease := `UPDATE deliveries SET next_attempt_at = ?, lease = lease + 1 WHERE id IN (
		SELECT id FROM deliveries WHERE status = 'pending' AND next_attempt_at <= ?` + others.String() + ` ORDER BY ` + order + ` LIMIT ` + strconv.Itoa(limit) + t.db.dialect.ClaimSuffix + `)
		RETURNING ` + deliveryColumns
	var leased []store.Leased
	var err error
	if t.db.dialect.ReturningInWith {
		// The events come in the same round trip: a claim waits on it.
		leased, err = t.leaseWithEvents(lease, micros(until), args...)
	} else {
		leased, err = t.leaseThenEvents(lease, args...)
	}
	if err != nil {
		return nil, err
	}
	for _, l := range leased {
		if l.Event.ID != l.EventID {
			return nil, fmt.Errorf("event %s of leased delivery %s not found", l.EventID, l.ID)
		}
	}
	return leased, nil
}

func (t *tx) GiveBackDeliveries(ids []string, at time.Time) error {
	return inChunks(ids, func(in string, args []any) error {
		_, err := t.exec(`UPDATE deliveries SET next_attempt_at = ?, lease = lease + 1 WHERE id IN (`+in+`)`, append([]any{micros(at)}, args...)...)
		return err
	})
}

// leaseWithEvents runs lease, an UPDATE … RETURNING the deliveries, in a
// WITH and reads each one's event beside it. When it begins the
// transaction it also reads ahead, in the same round trip, the
// integrations and endpoints of the deliveries leased until until (see
// readAhead), which the claim reads next.
func (t *tx) leaseWithEvents(lease string, until int64, args ...any) ([]store.Leased, error) {
	var leased []store.Leased
	reads := []read{{
		query: `WITH leased AS (` + lease + `) SELECT ` + qualified("leased", deliveryColumns) + `, ` + qualified("events", eventColumns) + `
		FROM leased LEFT JOIN events ON events.id = leased.event_id`,
		args: args,
		each: func(r interface{ Scan(...any) error }) error {
			var del deliveryRow
			var ev eventRow
			err := r.Scan(append(del.dest(), ev.dest()...)...)
			leased = append(leased, store.Leased{Delivery: del.delivery(), Event: ev.event()})
			return err
		},
	}}
	var ahead *readAhead
	if t.readBegins() {
		ahead = &readAhead{}
		// The rows just leased: their lease runs out at until, as nothing
		// else's does but another claim's of the same microsecond, whose
		// integrations and endpoints are as good to read.
		const leasedNow = `FROM deliveries WHERE next_attempt_at = ? AND status = 'pending'`
		ahead.add(&reads, `SELECT integration_id `+leasedNow, `SELECT merchant_id, mode `+leasedNow+` AND endpoint_id <> ''`, []any{until})
	}
	if err := t.readAll(reads...); err != nil {
		return nil, err
	}
	if ahead != nil {
		var merchants []endpointsKey
		for _, l := range leased {
			if l.EndpointID != "" {
				merchants = append(merchants, endpointsKey{l.MerchantID, l.Mode})
			}
		}
		ahead.keep(t, merchants)
	}
	return leased, nil
}

// leaseThenEvents runs lease, then reads the deliveries' events in one
// statement, for an engine whose UPDATE … RETURNING cannot sit in a WITH.
func (t *tx) leaseThenEvents(lease string, args ...any) ([]store.Leased, error) {
	rows, err := t.query(lease, args...)
	if err != nil {
		return nil, err
	}
	ds, err := collect(rows, scanDelivery)
	if err != nil || len(ds) == 0 {
		return nil, err
	}
	var ids []string
	seen := map[string]bool{}
	for _, d := range ds {
		if !seen[d.EventID] {
			seen[d.EventID] = true
			ids = append(ids, d.EventID)
		}
	}
	evs, err := t.GetEvents(ids)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]malipo.Event, len(evs))
	for _, ev := range evs {
		byID[ev.ID] = ev
	}
	leased := make([]store.Leased, len(ds))
	for i, d := range ds {
		leased[i] = store.Leased{Delivery: d, Event: byID[d.EventID]}
	}
	return leased, nil
}

// likeEscaper escapes LIKE's wildcards and its escape character.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// qualified prefixes each of a list of columns with table.
func qualified(table, columns string) string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		cols[i] = table + "." + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}

func (t *tx) Backlog(now time.Time) (store.Backlog, error) {
	var b store.Backlog
	var oldestDue, oldestSent int64
	if err := t.row(`SELECT COUNT(*), COALESCE(MIN(next_attempt_at), 0) FROM deliveries WHERE status = 'pending' AND next_attempt_at <= ?`,
		micros(now)).Scan(&b.DeliveriesDue, &oldestDue); err != nil {
		return b, err
	}
	if err := t.row(`SELECT COUNT(*), COALESCE(MIN(created_at), 0) FROM rail_attempts WHERE status IN ('sending', 'pending')`).
		Scan(&b.AttemptsInFlight, &oldestSent); err != nil {
		return b, err
	}
	b.OldestDeliveryDue, b.OldestAttemptSentAt = fromMicros(oldestDue), fromMicros(oldestSent)
	return b, nil
}

func (t *tx) AddAttempt(a malipo.Attempt) error {
	return t.insertLater(laterAttempts, nil, a.DeliveryID, a.Number, micros(a.At), a.StatusCode, a.Latency.Microseconds(), a.Response, a.Error)
}

func (t *tx) ListAttempts(deliveryID string) ([]malipo.Attempt, error) {
	rows, err := t.query(`SELECT delivery_id, number, at, status_code, latency_us, response, error FROM delivery_attempts
		WHERE delivery_id = ? ORDER BY number`, deliveryID)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r interface{ Scan(...any) error }) (malipo.Attempt, error) {
		var a malipo.Attempt
		var at, latency int64
		err := r.Scan(&a.DeliveryID, &a.Number, &at, &a.StatusCode, &latency, &a.Response, &a.Error)
		a.At, a.Latency = fromMicros(at), time.Duration(latency)*time.Microsecond
		return a, err
	})
}
