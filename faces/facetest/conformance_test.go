package facetest

import (
	"strings"
	"testing"
)

func TestShape(t *testing.T) {
	doc := `{"code":"201","n":5,"data":{"token":"abc","url":"x"},"list":[{"a":1},{"a":2}]}`
	cases := []struct {
		name, answer string
		vary, extra  []string
		problems     string
	}{
		{"same", doc, nil, nil, ""},
		{"a varying token", `{"code":"201","n":5,"data":{"token":"zzz","url":"x"},"list":[{"a":1},{"a":2}]}`, []string{"data.token"}, nil, ""},
		{"a token that may not vary", `{"code":"201","n":5,"data":{"token":"zzz","url":"x"},"list":[{"a":1},{"a":2}]}`, nil, nil, `data.token is "zzz"`},
		{"a number as a string", `{"code":201,"n":5,"data":{"token":"abc","url":"x"},"list":[{"a":1},{"a":2}]}`, nil, nil, "code is a number 201, the document's is a string"},
		{"a missing field", `{"code":"201","n":5,"data":{"token":"abc"},"list":[{"a":1},{"a":2}]}`, nil, nil, "data.url is missing"},
		{"a field of our own", `{"code":"201","n":5.0,"more":1,"data":{"token":"abc","url":"x"},"list":[{"a":1},{"a":2}]}`, nil, nil, "more is not in the document's answer"},
		{"an allowed field of our own", `{"code":"201","n":5,"more":1,"data":{"token":"abc","url":"x"},"list":[{"a":1},{"a":2}]}`, nil, []string{"more"}, ""},
		{"a varying list", `{"code":"201","n":5,"data":{"token":"abc","url":"x"},"list":[{"a":7}]}`, []string{"list"}, nil, ""},
		{"a varying list of the wrong shape", `{"code":"201","n":5,"data":{"token":"abc","url":"x"},"list":[{"b":7}]}`, []string{"list"}, nil, "list[].a is missing"},
	}
	for _, c := range cases {
		want, _ := decode([]byte(doc))
		have, _ := decode([]byte(c.answer))
		got := strings.Join(Shape(want, have, c.vary, c.extra), "\n")
		if (c.problems == "") != (got == "") || !strings.Contains(got, c.problems) {
			t.Errorf("%s: %q, want %q", c.name, got, c.problems)
		}
	}
}
