package lenient

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// seedBodies are the request and response examples of every provider's
// document (kept under each face's testdata/seed) and the bodies their
// clients send as forms.
func seedBodies(f *testing.F) {
	files, _ := filepath.Glob("../*/testdata/seed/*")
	if len(files) == 0 {
		f.Fatal("no seed examples found under ../*/testdata/seed")
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	// The request bodies of the documents' examples (seed conformance).
	examples, _ := filepath.Glob("../*/testdata/conformance/*.txt")
	for _, name := range examples {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		if _, rest, ok := strings.Cut(string(b), "-- request --\n"); ok {
			body, _, _ := strings.Cut(rest, "-- response ")
			f.Add([]byte(body))
		}
	}
	for _, form := range []string{
		"apikey=k&site_id=1&transaction_id=t1&amount=100&currency=XOF&description=x",
		"invoice[total_amount]=5000&invoice[description]=x&store[name]=Choco&invoice[items][item_0][name]=a",
		"data[response_code]=00&data[hash]=ab&data[invoice][token]=t&data[custom_data][k]=v&a[]=1&a[]=2",
		"vid=demo&reference=r1&account=888880&amount=100.00&narration=acc&curr=KES&hash=00",
	} {
		f.Add([]byte(form))
	}
}

func FuzzParse(f *testing.F) {
	seedBodies(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			return
		}
		if hasNUL(m) {
			t.Fatalf("Parse(%q) let a NUL through", b)
		}
		// Whatever was read, every reader copes with it; an object's keys
		// in their order are the map's keys.
		for k, v := range m {
			if obj, ok := v.(Map); ok {
				if keys := ObjectKeys(b, k); keys != nil && len(keys) != len(obj) {
					t.Fatalf("ObjectKeys(%q, %q) = %q, the map has %d keys", b, k, keys, len(obj))
				}
			}
			Str(v)
			String(m, k)
			Entries(v)
			Scalars(m, k, k+".x")
		}
		// A parsed body written as JSON reads back as itself.
		out, err := json.Marshal(m)
		if err != nil {
			t.Fatalf("marshal %v: %v", m, err)
		}
		back, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse(%s) of a parsed body: %v", out, err)
		}
		again, _ := json.Marshal(back)
		if string(again) != string(out) {
			t.Fatalf("round trip: %s became %s", out, again)
		}
	})
}

// FuzzForm: what Form writes, a form parser reads back with the same values.
func FuzzForm(f *testing.F) {
	seedBodies(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil || len(m) == 0 {
			return
		}
		form := Form("data", m)
		vals, err := url.ParseQuery(form)
		if err != nil {
			t.Fatalf("Form wrote %q, which is no form: %v", form, err)
		}
		for k := range vals {
			if !strings.HasPrefix(k, "data") {
				t.Fatalf("Form wrote key %q outside its prefix", k)
			}
		}
	})
}
