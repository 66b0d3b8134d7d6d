// Package lenient reads request bodies the way providers' clients really
// send them: JSON whatever the Content-Type says (PHP clients post JSON
// labelled form-urlencoded), or form-urlencoded with PHP bracket keys
// (data[invoice][token]=…), into one nested map. It also writes PHP
// bracket forms, as PayDunya's callbacks are. Provider faces share it.
package lenient

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Map is a parsed body: values are strings, float64/json.Number, bools,
// nil, []any or Map.
type Map = map[string]any

// ErrTooLarge is returned for bodies over the cap.
var ErrTooLarge = errors.New("the request body is too large")

// Read parses the body of r, at most max bytes: JSON if it looks like
// JSON, else a form. An empty body is an empty map.
func Read(w http.ResponseWriter, r *http.Request, max int64) (Map, error) {
	_, m, err := ReadRaw(w, r, max)
	return m, err
}

// ReadRaw is Read that also returns the body as sent, for faces that
// need what a map forgets (the order of an object's keys).
func ReadRaw(w http.ResponseWriter, r *http.Request, max int64) ([]byte, Map, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, nil, ErrTooLarge
	}
	if err != nil {
		return nil, nil, err
	}
	m, err := Parse(b)
	return b, m, err
}

// ObjectKeys lists, in the order they were sent, the keys of the JSON
// object at key in the top-level object of body (nil if body is not JSON
// or has no such object). A key sent twice is listed once. If the
// top-level object has key twice, the last one counts, as it does for
// Parse.
func ObjectKeys(body []byte, key string) []string {
	var keys []string
	if !eachMember(body, func(k string, value json.RawMessage) {
		if k == key {
			keys = objectKeys(value)
		}
	}) {
		return nil
	}
	return keys
}

// objectKeys lists the keys of a JSON object once each, in order (nil if
// value is not an object).
func objectKeys(value json.RawMessage) []string {
	keys := []string{}
	if !eachMember(value, func(k string, _ json.RawMessage) {
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}) {
		return nil
	}
	return keys
}

// eachMember calls fn with each member of the JSON object b, in the order
// sent; it reports false if b is not an object or breaks off.
func eachMember(b []byte, fn func(key string, value json.RawMessage)) bool {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return false
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return false
		}
		var value json.RawMessage
		if dec.Decode(&value) != nil {
			return false
		}
		fn(k.(string), value)
	}
	return true
}

// Parse parses a body: JSON if it starts like a JSON object, else a form.
// A JSON object must be all there is; no key or value may hold a NUL
// character (no store can keep one).
func Parse(b []byte) (Map, error) {
	t := bytes.TrimSpace(b)
	if len(t) == 0 {
		return Map{}, nil
	}
	var m Map
	if !utf8.Valid(t) {
		return nil, errors.New("the body is not UTF-8")
	}
	if t[0] == '{' {
		dec := json.NewDecoder(bytes.NewReader(t))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			return nil, fmt.Errorf("the body is not valid JSON: %w", err)
		}
		if _, err := dec.Token(); err != io.EOF {
			return nil, errors.New("the body has more after its JSON object")
		}
	} else {
		vals, err := url.ParseQuery(string(t))
		if err != nil {
			return nil, fmt.Errorf("the body is neither JSON nor a form: %w", err)
		}
		m = FromForm(vals)
	}
	if hasNUL(m) {
		return nil, errors.New("the body holds a NUL character or text that is not UTF-8")
	}
	return m, nil
}

// badText reports text no store can keep: a NUL character, or bytes that
// are not UTF-8.
func badText(s string) bool { return strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s) }

// hasNUL reports whether any key or string in v is bad text (badText).
func hasNUL(v any) bool {
	switch x := v.(type) {
	case string:
		return badText(x)
	case Map:
		for k, e := range x {
			if badText(k) || hasNUL(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if hasNUL(e) {
				return true
			}
		}
	}
	return false
}

// TypeError is a field of a body holding a value of the wrong kind.
type TypeError struct {
	Field string // its path, dotted: "invoice.total_amount"
	Got   string
}

func (e *TypeError) Error() string {
	return fmt.Sprintf("%s must be a string or a number, not %s", e.Field, e.Got)
}

// Scalars checks that each field named (a dotted path), where the body
// has it, holds a string or a number: true, false, an object or a list
// where a provider takes a value is refused, never read as "1" or "".
// Fields not named are not looked at: unknown extras are ignored.
func Scalars(m Map, paths ...string) error {
	for _, p := range paths {
		var got string
		switch Get(m, strings.Split(p, ".")...).(type) {
		case nil, string, json.Number, float64, int, int64:
			continue
		case bool:
			got = "true or false"
		case Map:
			got = "an object"
		case []any:
			got = "a list"
		default:
			got = "of another kind"
		}
		return &TypeError{Field: p, Got: got}
	}
	return nil
}

// FromForm turns PHP bracket keys into nested maps: a[b][c]=1 becomes
// {"a":{"b":{"c":"1"}}}. Keys ending in [] collect lists.
func FromForm(vals url.Values) Map {
	root := Map{}
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts := splitKey(k)
		node := root
		for i, p := range parts {
			last := i == len(parts)-1
			if last {
				switch {
				case p == "":
					// a[]=x: handled by the parent as a list
				case len(vals[k]) > 1:
					list := make([]any, len(vals[k]))
					for j, v := range vals[k] {
						list[j] = v
					}
					node[p] = list
				default:
					node[p] = vals[k][0]
				}
				break
			}
			if parts[i+1] == "" { // p[]
				list := make([]any, len(vals[k]))
				for j, v := range vals[k] {
					list[j] = v
				}
				node[p] = list
				break
			}
			child, ok := node[p].(Map)
			if !ok {
				child = Map{}
				node[p] = child
			}
			node = child
		}
	}
	return root
}

func splitKey(k string) []string {
	i := strings.IndexByte(k, '[')
	if i < 0 || !strings.HasSuffix(k, "]") {
		return []string{k}
	}
	parts := []string{k[:i]}
	for _, p := range strings.Split(k[i+1:len(k)-1], "][") {
		parts = append(parts, p)
	}
	return parts
}

// Form writes a nested value as a PHP bracket form, keys in the order
// given by Ordered maps or sorted otherwise, under prefix.
func Form(prefix string, v any) string {
	var pairs []string
	var walk func(key string, v any)
	walk = func(key string, v any) {
		switch x := v.(type) {
		case Ordered:
			for _, kv := range x {
				walk(key+"["+kv.Key+"]", kv.Value)
			}
		case Map:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				walk(key+"["+k+"]", x[k])
			}
		case []any:
			for i, e := range x {
				walk(key+"["+strconv.Itoa(i)+"]", e)
			}
		case nil:
			pairs = append(pairs, url.QueryEscape(key)+"=")
		default:
			pairs = append(pairs, url.QueryEscape(key)+"="+url.QueryEscape(Str(x)))
		}
	}
	walk(prefix, v)
	return strings.Join(pairs, "&")
}

// KV is one entry of an Ordered map.
type KV struct {
	Key   string
	Value any
}

// Ordered is a map that keeps its keys in order, for JSON and forms whose
// order matters to their readers.
type Ordered []KV

// MarshalJSON writes the entries in order.
func (o Ordered) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, kv := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(kv.Key)
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(kv.Value)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// Get walks m along path; nil when any step is missing.
func Get(m Map, path ...string) any {
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(Map)
		if !ok {
			return nil
		}
		cur = mm[p]
	}
	return cur
}

// Str renders a scalar as a string ("" for nil, maps and lists).
func Str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case bool:
		if x {
			return "1"
		}
		return "0"
	}
	return ""
}

// String reads the string at path.
func String(m Map, path ...string) string { return strings.TrimSpace(Str(Get(m, path...))) }

// Entries returns the values of a keyed object ({"item_0":…,"item_1":…},
// in key order) or of a list, whichever the client sent.
func Entries(v any) []Map {
	var out []Map
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			if m, ok := e.(Map); ok {
				out = append(out, m)
			}
		}
	case Map:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return naturalLess(keys[i], keys[j]) })
		for _, k := range keys {
			if m, ok := x[k].(Map); ok {
				out = append(out, m)
			}
		}
	}
	return out
}

// naturalLess orders item_2 before item_10.
func naturalLess(a, b string) bool {
	ta, na := splitNum(a)
	tb, nb := splitNum(b)
	if ta != tb {
		return ta < tb
	}
	return na < nb
}

func splitNum(s string) (string, int) {
	i := len(s)
	for i > 0 && s[i-1] >= '0' && s[i-1] <= '9' {
		i--
	}
	n, _ := strconv.Atoi(s[i:])
	return s[:i], n
}
