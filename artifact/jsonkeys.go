package artifact

import (
	"bytes"
	"encoding/json"
)

// duplicateKey returns the first key that the JSON object data names
// twice, or "" when none is (or data is not an object, which the caller's
// json.Unmarshal reports). encoding/json would keep the last value of a
// repeated key silently; a safetensors header or a scaler file that names
// one twice is malformed.
func duplicateKey(data []byte) string {
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return ""
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return ""
		}
		key, _ := t.(string)
		if seen[key] {
			return key
		}
		seen[key] = true
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return ""
		}
	}
	return ""
}
