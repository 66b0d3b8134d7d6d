// Package requestid gives every HTTP request an ID that follows it: the
// client's own X-Request-Id when it sent a sensible one, else a fresh one;
// echoed in the answer's header, carried in the request's context for
// error bodies, and added to every log line written with that context.
package requestid

import (
	"context"
	"log/slog"
	"net/http"
)

// Header is the header that carries a request's ID both ways.
const Header = "X-Request-Id"

// maxLen bounds an ID taken from a client: longer ones are replaced, as
// are ones with anything but printable ASCII (they end up in logs).
const maxLen = 128

type ctxKey struct{}

// From returns the request ID ctx carries, or "".
func From(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

// With returns ctx carrying id.
func With(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// Handler gives each request an ID before next sees it: the client's
// X-Request-Id if it is 1 to 128 printable ASCII characters, else one
// from mint. The answer carries it in X-Request-Id.
func Handler(next http.Handler, mint func() string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(Header)
		if !acceptable(id) {
			id = mint()
		}
		w.Header().Set(Header, id)
		next.ServeHTTP(w, r.WithContext(With(r.Context(), id)))
	})
}

func acceptable(id string) bool {
	if id == "" || len(id) > maxLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

// LogHandler adds request_id to every record logged with a context that
// carries one (logger.InfoContext(ctx, …) and the like).
func LogHandler(h slog.Handler) slog.Handler { return logHandler{h} }

type logHandler struct{ slog.Handler }

func (h logHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := From(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return logHandler{h.Handler.WithAttrs(as)}
}

func (h logHandler) WithGroup(name string) slog.Handler { return logHandler{h.Handler.WithGroup(name)} }
