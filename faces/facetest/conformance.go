package facetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/malipo/malipo"
)

// An Example is one request of a provider's document and the answer the
// document gives for it, kept as a file under a face's
// testdata/conformance:
//
//	# where it is in the seed
//	POST /paydunya/sandbox-api/v1/checkout-invoice/create
//	Content-Type: application/json
//	PAYDUNYA-TOKEN: {{token}}
//	@before pay {{invoice}} 774563209
//	@vary response_text token
//	@extra receipt_identifier
//	@capture invoice=token
//	-- request --
//	{"invoice": …}
//	-- response 200 --
//	{"response_code":"00", …}
//
// The request is sent exactly as written, after {{name}} is replaced by
// a credential or a value captured from an earlier example. The answer
// must have the document's shape: the same field names (more only where
// @extra lists them), the same JSON types, and the same values except
// under the paths @vary lists (IDs, tokens, times, URLs). @before runs
// an action first; @capture keeps a value of the answer for later
// examples. Examples run in the order of their file names.
type Example struct {
	Name           string
	Method, Path   string
	Header         http.Header
	Before         [][]string
	Vary, Extra    []string
	Capture        map[string]string
	Body           string
	Status         int
	Response       string // empty when the document shows none
	ResponseIsJSON bool
}

var placeholder = regexp.MustCompile(`\{\{([a-z0-9_]+)\}\}`)

// LoadExamples reads every example under dir.
func LoadExamples(t testing.TB, dir string) []Example {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.txt"))
	if len(files) == 0 {
		t.Fatalf("no examples under %s", dir)
	}
	var out []Example
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		ex, err := parseExample(string(b))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ex.Name = strings.TrimSuffix(filepath.Base(name), ".txt")
		out = append(out, ex)
	}
	return out
}

func parseExample(s string) (Example, error) {
	ex := Example{Header: http.Header{}, Capture: map[string]string{}}
	head, rest, ok := strings.Cut(s, "-- request --\n")
	if !ok {
		return ex, fmt.Errorf("no -- request -- line")
	}
	first := true
	for _, line := range strings.Split(head, "\n") {
		line = strings.TrimRight(line, "\r")
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case first:
			method, path, ok := strings.Cut(line, " ")
			if !ok {
				return ex, fmt.Errorf("the first line must be METHOD PATH, not %q", line)
			}
			ex.Method, ex.Path, first = method, path, false
		case strings.HasPrefix(line, "@before "):
			ex.Before = append(ex.Before, strings.Fields(strings.TrimPrefix(line, "@before ")))
		case strings.HasPrefix(line, "@vary "):
			ex.Vary = append(ex.Vary, strings.Fields(strings.TrimPrefix(line, "@vary "))...)
		case strings.HasPrefix(line, "@extra "):
			ex.Extra = append(ex.Extra, strings.Fields(strings.TrimPrefix(line, "@extra "))...)
		case strings.HasPrefix(line, "@capture "):
			for _, kv := range strings.Fields(strings.TrimPrefix(line, "@capture ")) {
				k, v, _ := strings.Cut(kv, "=")
				ex.Capture[k] = v
			}
		default:
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				return ex, fmt.Errorf("%q is neither a header nor a directive", line)
			}
			ex.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		}
	}
	i := strings.Index(rest, "-- response ")
	if i < 0 {
		return ex, fmt.Errorf("no -- response NNN -- line")
	}
	ex.Body = strings.TrimSuffix(rest[:i], "\n")
	line, resp, _ := strings.Cut(rest[i:], "\n")
	status, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(line, "-- response "), " --"))
	if err != nil {
		return ex, fmt.Errorf("bad response line %q", line)
	}
	ex.Status, ex.Response = status, strings.TrimSpace(resp)
	ex.ResponseIsJSON = strings.HasPrefix(ex.Response, "{") || strings.HasPrefix(ex.Response, "[")
	return ex, nil
}

// An Action is what an example's @before line runs, with its arguments
// (placeholders replaced).
type Action func(t *testing.T, args []string)

// Actions are what every face's examples may do before their request:
//
//	delay D          the sandbox answers after D (0: at once)
//	advance D        the clock moves on by D
//	topup N CUR      the integration's balance gets N minor units
//	pay REF PHONE [NAME EMAIL]  the customer pays the payment REF by
//	                 mobile money on its checkout, giving name and email
//	cancel REF       the customer cancels the payment REF on its checkout
func (s *Stack) Actions(in malipo.Integration) map[string]Action {
	payment := func(t *testing.T, ref string) malipo.Payment {
		p, err := s.Service.PaymentByReference(context.Background(), in, ref)
		if err != nil {
			t.Fatalf("payment %s: %v", ref, err)
		}
		return p
	}
	return map[string]Action{
		"delay": func(t *testing.T, a []string) {
			d, err := time.ParseDuration(a[0])
			if err != nil {
				t.Fatal(err)
			}
			s.Sandbox.MobileMoney.Delay, s.Sandbox.Payouts.Delay = d, d
		},
		"advance": func(t *testing.T, a []string) {
			d, err := time.ParseDuration(a[0])
			if err != nil {
				t.Fatal(err)
			}
			s.Clock.Advance(d)
		},
		"topup": func(t *testing.T, a []string) {
			n, _ := strconv.ParseInt(a[0], 10, 64)
			if _, err := s.Service.Topup(context.Background(), in, n, a[1]); err != nil {
				t.Fatal(err)
			}
		},
		"pay": func(t *testing.T, a []string) {
			p := payment(t, a[0])
			if len(a) >= 4 {
				if err := s.Service.NameCustomer(context.Background(), p.CheckoutToken, strings.ReplaceAll(a[2], "_", " "), a[3]); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := s.Service.PayWithMobileMoney(context.Background(), p.CheckoutToken, a[1], ""); err != nil {
				t.Fatal(err)
			}
		},
		"cancel": func(t *testing.T, a []string) {
			if _, err := s.Service.CancelCheckout(context.Background(), payment(t, a[0]).CheckoutToken); err != nil {
				t.Fatal(err)
			}
		},
	}
}

// Conform sends each example under dir to the server at base, in order,
// and checks each answer against the document's. vars holds the
// credentials the examples name; captured values are added to it. sign,
// if given, finishes each request body (placeholders filled) before it is
// sent, for providers whose requests carry a signature of their fields.
func Conform(t *testing.T, base, dir string, vars map[string]string, actions map[string]Action, sign ...func(body string) string) {
	t.Helper()
	fill := func(s string) string {
		return placeholder.ReplaceAllStringFunc(s, func(m string) string {
			k := m[2 : len(m)-2]
			v, ok := vars[k]
			if !ok {
				t.Fatalf("no value for {{%s}}", k)
			}
			return v
		})
	}
	for _, ex := range LoadExamples(t, dir) {
		if !t.Run(ex.Name, func(t *testing.T) {
			for _, b := range ex.Before {
				act, ok := actions[b[0]]
				if !ok {
					t.Fatalf("no action %q", b[0])
				}
				args := make([]string, len(b)-1)
				for i, a := range b[1:] {
					args[i] = fill(a)
				}
				act(t, args)
			}
			var body io.Reader
			if ex.Body != "" {
				b := fill(ex.Body)
				for _, s := range sign {
					b = s(b)
				}
				body = strings.NewReader(b)
			}
			req, err := http.NewRequest(ex.Method, base+fill(ex.Path), body)
			if err != nil {
				t.Fatal(err)
			}
			for k, vs := range ex.Header {
				for _, v := range vs {
					req.Header.Add(k, fill(v))
				}
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != ex.Status {
				t.Errorf("HTTP %d, the document's example answers %d: %s", res.StatusCode, ex.Status, got)
			}
			if len(ex.Capture) > 0 {
				have, err := decode(got)
				if err != nil {
					t.Fatalf("the answer is not JSON, nothing to capture: %s", got)
				}
				for k, path := range ex.Capture {
					v, ok := lookup(have, path)
					if !ok {
						t.Fatalf("no %s in the answer to capture", path)
					}
					vars[k] = fmt.Sprint(v)
				}
			}
			if ex.Response == "" {
				return
			}
			if !ex.ResponseIsJSON {
				if strings.TrimSpace(string(got)) != fill(ex.Response) {
					t.Errorf("answer %q, the document's %q", got, ex.Response)
				}
				return
			}
			want, err := decode([]byte(fill(ex.Response)))
			if err != nil {
				t.Fatalf("the example's answer is not JSON: %v", err)
			}
			have, err := decode(got)
			if err != nil {
				t.Fatalf("the answer is not JSON: %v\n%s", err, got)
			}
			for _, problem := range Shape(want, have, ex.Vary, ex.Extra) {
				t.Errorf("%s", problem)
			}
			if t.Failed() {
				t.Logf("answer: %s", got)
			}
		}) {
			// Later examples build on earlier ones.
			return
		}
	}
}

func decode(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

// lookup finds the value at a dotted path ("data.token", "reply.0.token").
func lookup(v any, path string) (any, bool) {
	for _, k := range strings.Split(path, ".") {
		switch c := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = c[k]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			v = c[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// Shape compares an answer with the document's: every field the document
// shows, no other (but those under extra), each of the same JSON type,
// and of the same value unless under a path in vary ("token", "data.url";
// an array's elements are "list[]").
func Shape(want, have any, vary, extra []string) []string {
	var out []string
	under := func(path string, list []string) bool {
		for _, p := range list {
			if path == p || strings.HasPrefix(path, p+".") || strings.HasPrefix(path, p+"[") {
				return true
			}
		}
		return false
	}
	var walk func(path string, w, h any)
	walk = func(path string, w, h any) {
		name := path
		if name == "" {
			name = "the answer"
		}
		if kindOf(w) != kindOf(h) {
			out = append(out, fmt.Sprintf("%s is %s %s, the document's is %s %s", name, kindOf(h), show(h), kindOf(w), show(w)))
			return
		}
		join := func(k string) string {
			if path == "" {
				return k
			}
			return path + "." + k
		}
		switch w := w.(type) {
		case map[string]any:
			h := h.(map[string]any)
			for k, wv := range w {
				hv, ok := h[k]
				if !ok {
					out = append(out, fmt.Sprintf("%s is missing", join(k)))
					continue
				}
				walk(join(k), wv, hv)
			}
			for k := range h {
				if _, ok := w[k]; !ok && !under(join(k), extra) {
					out = append(out, fmt.Sprintf("%s is not in the document's answer", join(k)))
				}
			}
		case []any:
			h := h.([]any)
			if under(path+"[]", vary) || under(path, vary) {
				if len(w) > 0 {
					for _, hv := range h {
						walk(path+"[]", w[0], hv)
					}
				}
				return
			}
			if len(w) != len(h) {
				out = append(out, fmt.Sprintf("%s has %d elements, the document's %d", name, len(h), len(w)))
				return
			}
			for i := range w {
				walk(path+"[]", w[i], h[i])
			}
		default:
			if !under(path, vary) && !sameValue(w, h) {
				out = append(out, fmt.Sprintf("%s is %s, the document's is %s", name, show(h), show(w)))
			}
		}
	}
	walk("", want, have)
	slices.Sort(out)
	return out
}

func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func sameValue(w, h any) bool {
	if wn, ok := w.(json.Number); ok {
		a, err1 := wn.Float64()
		b, err2 := h.(json.Number).Float64()
		return err1 == nil && err2 == nil && a == b
	}
	return w == h
}

func show(v any) string {
	switch v.(type) {
	case map[string]any:
		return "{…}"
	case []any:
		return "[…]"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// ConformJSON checks a body Malipo sends (a callback) against an example
// of the document kept in file: the same shape as Shape checks.
func ConformJSON(t *testing.T, file string, body []byte, vary, extra []string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	want, err := decode(b)
	if err != nil {
		t.Fatalf("%s is not JSON: %v", file, err)
	}
	have, err := decode(body)
	if err != nil {
		t.Fatalf("the body is not JSON: %v\n%s", err, body)
	}
	for _, problem := range Shape(want, have, vary, extra) {
		t.Errorf("%s: %s", filepath.Base(file), problem)
	}
	if t.Failed() {
		t.Logf("body: %s", body)
	}
}
