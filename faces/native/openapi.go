package native

import (
	"encoding/json"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

var (
	openAPIOnce sync.Once
	openAPIDoc  []byte
)

// OpenAPI returns the OpenAPI 3.1 document of the API, built from the
// route table and the wire types themselves.
func (a *API) OpenAPI() []byte {
	openAPIOnce.Do(func() { openAPIDoc = buildOpenAPI(a.routes()) })
	return openAPIDoc
}

type object = map[string]any

func buildOpenAPI(routes []route) []byte {
	schemas := object{"Error": schemaOf(reflect.TypeOf(errorBody{}), nil)}
	paths := object{}
	for _, rt := range routes {
		op := object{
			"summary":     rt.summary,
			"operationId": operationID(rt),
			"responses": object{
				strconv.Itoa(rt.status): object{"description": "success", "content": jsonContent(ref(rt.response, schemas))},
				"default":               object{"description": "an error", "content": jsonContent(object{"$ref": "#/components/schemas/Error"})},
			},
		}
		var params []any
		for _, p := range rt.query {
			typ := "string"
			if p.integer {
				typ = "integer"
			}
			pm := object{"name": p.name, "in": p.in, "required": p.in == "path", "schema": object{"type": typ}}
			if p.description != "" {
				pm["description"] = p.description
			}
			params = append(params, pm)
		}
		if rt.method == "POST" {
			params = append(params, object{"name": "Idempotency-Key", "in": "header", "required": false,
				"description": "same key and body within 24 h replays the first answer", "schema": object{"type": "string", "maxLength": 255}})
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		if rt.request != nil {
			op["requestBody"] = object{"required": true, "content": jsonContent(ref(rt.request, schemas))}
		}
		if rt.auth {
			op["security"] = []any{object{"secretKey": []any{}}}
		}
		item, _ := paths[rt.path].(object)
		if item == nil {
			item = object{}
			paths[rt.path] = item
		}
		item[strings.ToLower(rt.method)] = op
	}
	doc := object{
		"openapi": "3.1.0",
		"info": object{"title": "Malipo native API", "version": "1",
			"description": "Payments, balances, webhook endpoints, events and the sandbox of the Malipo gateway. Amounts are integers in the currency's minor unit."},
		"paths": paths,
		"components": object{
			"schemas":         schemas,
			"securitySchemes": object{"secretKey": object{"type": "http", "scheme": "bearer", "description": "sk_test_… or sk_live_…"}},
		},
	}
	b, err := json.MarshalIndent(doc, "", "  ") // maps marshal with sorted keys: stable output
	if err != nil {
		panic(err)
	}
	return append(b, '\n')
}

func operationID(rt route) string {
	parts := []string{strings.ToLower(rt.method)}
	for _, seg := range strings.Split(strings.Trim(rt.path, "/"), "/")[1:] {
		parts = append(parts, strings.Trim(seg, "{}"))
	}
	return strings.Join(parts, "_")
}

func jsonContent(schema any) object {
	return object{"application/json": object{"schema": schema}}
}

// ref registers v's type as a named schema and returns a reference to it.
func ref(v any, schemas object) object {
	t := reflect.TypeOf(v)
	name := schemaName(t)
	if _, ok := schemas[name]; !ok {
		schemas[name] = schemaOf(t, schemas)
	}
	return object{"$ref": "#/components/schemas/" + name}
}

func schemaName(t reflect.Type) string {
	n := strings.TrimSuffix(strings.TrimSuffix(t.Name(), "Resource"), "Wire")
	return strings.ToUpper(n[:1]) + n[1:]
}

var timeType = reflect.TypeOf(time.Time{})

// schemaOf writes a JSON Schema for a wire type. Pointers are nullable;
// fields without omitempty are required, unless tagged `doc:"…"` saying
// otherwise.
func schemaOf(t reflect.Type, schemas object) object {
	nullable := false
	for t.Kind() == reflect.Pointer {
		t, nullable = t.Elem(), true
	}
	var s object
	switch {
	case t == timeType:
		s = object{"type": "string", "format": "date-time"}
	case t.Kind() == reflect.String:
		s = object{"type": "string"}
	case t.Kind() == reflect.Bool:
		s = object{"type": "boolean"}
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		s = object{"type": "integer", "format": "int64"}
	case t.Kind() == reflect.Slice:
		s = object{"type": "array", "items": schemaOf(t.Elem(), schemas)}
	case t.Kind() == reflect.Map:
		s = object{"type": "object", "additionalProperties": schemaOf(t.Elem(), schemas)}
	case t.Kind() == reflect.Struct:
		props := object{}
		var required []string
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			name, opts, _ := strings.Cut(tag, ",")
			if name == "-" || !f.IsExported() {
				continue
			}
			fs := schemaOf(f.Type, schemas)
			doc := f.Tag.Get("doc")
			if doc != "" {
				fs["description"] = doc
			}
			props[name] = fs
			if strings.HasPrefix(doc, "required") || (!strings.Contains(opts, "omitempty") && f.Type.Kind() != reflect.Pointer && !strings.HasPrefix(t.Name(), "create")) {
				required = append(required, name)
			}
		}
		sort.Strings(required)
		s = object{"type": "object", "properties": props}
		if len(required) > 0 {
			s["required"] = required
		}
		if strings.HasSuffix(t.Name(), "Request") {
			s["additionalProperties"] = false
		}
	default:
		s = object{}
	}
	if nullable {
		if typ, ok := s["type"].(string); ok {
			s["type"] = []string{typ, "null"}
		}
	}
	return s
}
