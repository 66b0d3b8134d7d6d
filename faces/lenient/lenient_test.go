package lenient

import (
	"encoding/json"
	"net/url"
	"reflect"
	"testing"
)

func TestParseJSONAndForms(t *testing.T) {
	j, err := Parse([]byte(` {"invoice":{"total_amount":5000,"items":null}}`))
	if err != nil || String(j, "invoice", "total_amount") != "5000" || Get(j, "invoice", "items") != nil {
		t.Errorf("JSON: %v %v", j, err)
	}
	f, err := Parse([]byte("data[invoice][token]=test_x&data[custom_data][k]=v&apikey=A&list[]=1&list[]=2&plain=a+b"))
	if err != nil {
		t.Fatal(err)
	}
	want := Map{"data": Map{"invoice": Map{"token": "test_x"}, "custom_data": Map{"k": "v"}}, "apikey": "A",
		"list": []any{"1", "2"}, "plain": "a b"}
	if !reflect.DeepEqual(f, want) {
		t.Errorf("form: %#v", f)
	}
	if _, err := Parse([]byte("{broken")); err == nil {
		t.Error("broken JSON parsed")
	}
}

func TestEntriesKeyedOrListed(t *testing.T) {
	keyed, _ := Parse([]byte(`{"items":{"item_10":{"name":"c"},"item_2":{"name":"b"},"item_1":{"name":"a"}}}`))
	listed, _ := Parse([]byte(`{"items":[{"name":"a"},{"name":"b"},{"name":"c"}]}`))
	for _, m := range []Map{keyed, listed} {
		var names []string
		for _, e := range Entries(m["items"]) {
			names = append(names, String(e, "name"))
		}
		if !reflect.DeepEqual(names, []string{"a", "b", "c"}) {
			t.Errorf("entries %v", names)
		}
	}
}

func TestFormRoundTrip(t *testing.T) {
	v := Ordered{{"response_code", "00"}, {"invoice", Ordered{{"token", "test_1"}, {"total_amount", json.Number("5000")}}},
		{"custom_data", Map{"b": "2", "a": "1"}}, {"fail_reason", nil}}
	s := Form("data", v)
	if s != "data%5Bresponse_code%5D=00&data%5Binvoice%5D%5Btoken%5D=test_1&data%5Binvoice%5D%5Btotal_amount%5D=5000&data%5Bcustom_data%5D%5Ba%5D=1&data%5Bcustom_data%5D%5Bb%5D=2&data%5Bfail_reason%5D=" {
		t.Errorf("form: %s", s)
	}
	vals, _ := url.ParseQuery(s)
	back := FromForm(vals)
	if String(back, "data", "invoice", "token") != "test_1" || String(back, "data", "custom_data", "b") != "2" {
		t.Errorf("round trip: %v", back)
	}
	b, _ := json.Marshal(v)
	if string(b) != `{"response_code":"00","invoice":{"token":"test_1","total_amount":5000},"custom_data":{"a":"1","b":"2"},"fail_reason":null}` {
		t.Errorf("ordered JSON: %s", b)
	}
}

// ObjectKeys gives the keys of the object Parse kept: in the order sent,
// once each, and of the last object when the key came twice.
func TestObjectKeysFollowWhatParseKept(t *testing.T) {
	for body, want := range map[string][]string{
		`{"invoice_data":{"b":1,"a":2,"b":3}}`:                  {"b", "a"},
		`{"invoice_data":{"x":1},"invoice_data":{"z":1,"y":2}}`: {"z", "y"},
		`{"invoice_data":{"x":1},"invoice_data":7}`:             nil,
		`{"invoice_data":{}}`:                                   {},
		`{"other":{"x":1}}`:                                     nil,
		`invoice_data[x]=1`:                                     nil,
	} {
		got := ObjectKeys([]byte(body), "invoice_data")
		if !reflect.DeepEqual(got, want) {
			t.Errorf("ObjectKeys(%s) = %#v, want %#v", body, got, want)
		}
		if m, err := Parse([]byte(body)); err == nil && got != nil {
			if obj, _ := m["invoice_data"].(Map); len(obj) != len(got) {
				t.Errorf("%s: Parse kept %d keys, ObjectKeys gave %d", body, len(obj), len(got))
			}
		}
	}
}
