package native

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/malipo/malipo"
)

// FuzzDecode feeds every request body type of the API (from its route
// table) to the decoder: it answers an input error or a value that
// encodes and decodes back to itself, and never panics.
func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob("testdata/seed/*.json")
	if len(files) == 0 {
		f.Fatal("no seed bodies in testdata/seed")
	}
	for _, name := range files {
		b, _ := os.ReadFile(name)
		f.Add(b)
	}
	for _, b := range []string{`{"amount":5000,"currency":"XOF","reference":"r"}}`, `{"amount":true}`, `{"description":"\u0000"}`, `[]`, ``} {
		f.Add([]byte(b))
	}
	var types []reflect.Type
	for _, rt := range (&API{}).routes() {
		if rt.request != nil {
			types = append(types, reflect.TypeOf(rt.request))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, typ := range types {
			v := reflect.New(typ)
			err := decode(b, v.Interface())
			if err != nil {
				if k := malipo.KindOf(err); k != malipo.KindInvalid {
					t.Fatalf("decode %s into %s: %v is not an input error", b, typ, err)
				}
				continue
			}
			if req, ok := v.Interface().(*createPaymentRequest); ok {
				if _, err := req.input(); err != nil && malipo.KindOf(err) != malipo.KindInvalid {
					t.Fatalf("input of %s: %v", b, err)
				}
			}
			out, err := json.Marshal(v.Interface())
			if err != nil {
				t.Fatalf("encode %s: %v", typ, err)
			}
			w := reflect.New(typ)
			if err := decode(out, w.Interface()); err != nil && !strings.Contains(err.Error(), "NUL") {
				t.Fatalf("%s decoded from %s, encoded as %s, does not decode again: %v", typ, b, out, err)
			}
		}
	})
}
