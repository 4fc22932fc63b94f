package localhost

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestQueueMessages: the messages the host writes for a queue output binding's
// value (HttpScriptInvocationResultExtensions.GetBindingValue, then
// FunctionBinding.ReadAsEnumerable and BindAsyncCollectorAsync).
func TestQueueMessages(t *testing.T) {
	for _, tc := range []struct {
		name    string
		value   string
		binary  bool
		want    []string
		notImit bool // errNotImitated
		err     bool // another error
	}{
		{name: "plain string", value: `"hello world"`, want: []string{"hello world"}},
		{name: "string of base64 is decoded", value: `"d2FrZQ=="`, want: []string{"wake"}},
		{name: "base64 with white space", value: `"d2Fr\r\nZQ=="`, want: []string{"wake"}},
		{name: "short word that is base64", value: `"true"`, want: []string{"\xb6\xbb\x9e"}},
		{name: "base64 kept with dataType binary", value: `"d2FrZQ=="`, binary: true, want: []string{"d2FrZQ=="}},
		{name: "empty string decodes to no bytes", value: `""`, want: []string{""}},
		{name: "array of strings", value: `["a", "{\"run\":\"r\",\"wake\":true}"]`, want: []string{"a", `{"run":"r","wake":true}`}},
		{name: "array elements are not base64-decoded", value: `["d2FrZQ=="]`, want: []string{"d2FrZQ=="}},
		{name: "string holding an array", value: `" [\"p\",\"q\"] "`, want: []string{"p", "q"}},
		{name: "empty array", value: `[]`, want: []string{}},
		{name: "null", value: `null`, want: nil},
		{name: "array of objects", value: `[{"x":1}]`, notImit: true},
		{name: "array of numbers", value: `[1]`, notImit: true},
		{name: "object", value: `{"x":1}`, notImit: true},
		{name: "string holding an object", value: `"{\"x\":1}"`, notImit: true},
		{name: "number", value: `3`, notImit: true},
		{name: "boolean", value: `true`, notImit: true},
		{name: "string holding broken JSON", value: `"[\"p\""`, want: []string{`["p"`}},
		{name: "string holding an invalid array", value: `"[p]"`, err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msgs, err := queueMessages(json.RawMessage(tc.value), tc.binary)
			switch {
			case tc.notImit:
				if !errors.Is(err, errNotImitated) {
					t.Fatalf("err = %v, want errNotImitated", err)
				}
				return
			case tc.err:
				if err == nil || errors.Is(err, errNotImitated) {
					t.Fatalf("err = %v, want a parse error", err)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			var got []string
			if msgs != nil {
				got = []string{}
			}
			for _, m := range msgs {
				got = append(got, string(m))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("messages (-want +got):\n%s", diff)
			}
		})
	}
}
