package artifact

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
)

func TestParseScaler(t *testing.T) {
	tests := []struct {
		name string
		json string
		want string // fmt of the parsed scaler
	}{
		{"full", `{"mean_":[1,2],"scale_":[0.5,4],"var_":[0.25,16],"n_samples_seen_":100,"n_features_in_":2,"feature_names_in_":["a","b"],"with_mean":true,"with_std":true,"copy":true}`,
			"&{Mean:[1 2] Scale:[0.5 4] Var:[0.25 16] NSamplesSeen:100 SamplesSeen:[] NFeaturesIn:2 FeatureNames:[a b] WithMean:true WithStd:true}"},
		{"python non-finite", `{"mean_":[NaN, -Infinity],"scale_":[Infinity,1],"var_":[1,1],"n_samples_seen_":NaN,"feature_names_in_":["NaN","x\"NaN"]}`,
			`&{Mean:[NaN -Inf] Scale:[+Inf 1] Var:[1 1] NSamplesSeen:NaN SamplesSeen:[] NFeaturesIn:0 FeatureNames:[NaN x"NaN] WithMean:true WithStd:true}`},
		{"with_mean false, mean_ null", `{"mean_":null,"scale_":[2],"var_":[4],"n_samples_seen_":3,"with_mean":false,"with_std":true}`,
			"&{Mean:[] Scale:[2] Var:[4] NSamplesSeen:3 SamplesSeen:[] NFeaturesIn:0 FeatureNames:[] WithMean:false WithStd:true}"},
		{"with_std false", `{"mean_":[2],"scale_":null,"var_":null,"n_samples_seen_":3,"with_std":false}`,
			"&{Mean:[2] Scale:[] Var:[] NSamplesSeen:3 SamplesSeen:[] NFeaturesIn:0 FeatureNames:[] WithMean:true WithStd:false}"},
		{"flags default to presence", `{"var_":[4]}`,
			"&{Mean:[] Scale:[] Var:[4] NSamplesSeen:0 SamplesSeen:[] NFeaturesIn:0 FeatureNames:[] WithMean:false WithStd:false}"},
		{"per-feature samples", `{"mean_":[0,0],"scale_":[1,1],"n_samples_seen_":[10, 7]}`,
			"&{Mean:[0 0] Scale:[1 1] Var:[] NSamplesSeen:7 SamplesSeen:[10 7] NFeaturesIn:0 FeatureNames:[] WithMean:true WithStd:true}"},
		{"passthrough", `{"mean_":null,"scale_":null,"var_":null,"n_samples_seen_":3,"with_mean":false,"with_std":false}`,
			"&{Mean:[] Scale:[] Var:[] NSamplesSeen:3 SamplesSeen:[] NFeaturesIn:0 FeatureNames:[] WithMean:false WithStd:false}"},
		{"null entry", `{"mean_":[null]}`,
			"&{Mean:[NaN] Scale:[] Var:[] NSamplesSeen:0 SamplesSeen:[] NFeaturesIn:0 FeatureNames:[] WithMean:true WithStd:false}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseScaler([]byte(tt.json))
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprintf("%+v", s); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestParseScalerKeepsNil(t *testing.T) {
	s, err := ParseScaler([]byte(`{"scale_":[1],"n_samples_seen_":5}`))
	if err != nil {
		t.Fatal(err)
	}
	if s.Mean != nil || s.Var != nil || s.SamplesSeen != nil || s.FeatureNames != nil {
		t.Errorf("absent attributes read as non-nil: %+v", s)
	}
}

func TestParseScalerInvalid(t *testing.T) {
	tests := []struct{ name, json, want string }{
		{"empty", ``, "unexpected end of JSON input"},
		{"not json", `mean_=1`, "invalid character"},
		{"array", `[1,2]`, "cannot unmarshal array"},
		{"string number", `{"mean_":["1"]}`, `"1" is not a number`},
		{"bare word", `{"mean_":[nan]}`, "invalid character"},
		{"scalar mean", `{"mean_":1}`, "cannot unmarshal number"},
		{"names not strings", `{"feature_names_in_":[1]}`, "cannot unmarshal number"},
		{"bad samples", `{"n_samples_seen_":"many"}`, `n_samples_seen_: "many" is not a number`},
		{"bad samples array", `{"n_samples_seen_":[true]}`, "n_samples_seen_: true is not a number"},
		{"float n_features", `{"n_features_in_":2.5}`, "cannot unmarshal number 2.5"},
		{"empty object", `{}`, "none of mean_, scale_ and var_"},
		{"key twice", `{"mean_":[1],"scale_":[2],"mean_":[3]}`, `"mean_" is given twice`},
		{"key twice, NaN values", `{"mean_":[NaN],"mean_":[NaN]}`, `"mean_" is given twice`},
		{"names only", `{"feature_names_in_":["age"],"n_samples_seen_":3}`, "not a fitted StandardScaler's attributes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseScaler([]byte(tt.json))
			if !errors.Is(err, ErrInvalidScaler) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want ErrInvalidScaler saying %q", err, tt.want)
			}
		})
	}
}

func TestReadScalerSizeCap(t *testing.T) {
	big := append([]byte(`{"x":"`), bytes.Repeat([]byte("a"), MaxScalerSize)...)
	big = append(big, `"}`...)
	if _, err := ReadScaler(bytes.NewReader(big)); !errors.Is(err, ErrInvalidScaler) || !strings.Contains(err.Error(), "larger than 67108864 bytes") {
		t.Errorf("error %v, want the size cap", err)
	}
	s, err := ReadScaler(strings.NewReader(`{"scale_":[2]}`))
	if err != nil || s.Scale[0] != 2 {
		t.Errorf("ReadScaler = %+v, %v", s, err)
	}
}

func TestQuoteNonFinite(t *testing.T) {
	tests := []struct{ in, want string }{
		{`[NaN,Infinity,-Infinity,1]`, `["NaN","Infinity","-Infinity",1]`},
		{`{"NaN":"-Infinity \" NaN","k\\":NaN}`, `{"NaN":"-Infinity \" NaN","k\\":"NaN"}`},
		{`-1.5e3`, `-1.5e3`},
	}
	for _, tt := range tests {
		if got := string(quoteNonFinite([]byte(tt.in))); got != tt.want {
			t.Errorf("quoteNonFinite(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestScalerFeatureCountAndTable(t *testing.T) {
	tests := []struct {
		name  string
		s     Scaler
		names []string
		count int
		table string
	}{
		{"n_features_in_ wins", Scaler{NFeaturesIn: 3, Mean: []float64{1}, WithMean: true}, nil, 3, "[{x0 1 1} {x1 0 1} {x2 0 1}]"},
		{"mean length", Scaler{Mean: []float64{1, 2}, Scale: []float64{3, 4}, FeatureNames: []string{"a", "b"}, WithMean: true, WithStd: true}, []string{"p", "q"}, 2, "[{a 1 3} {b 2 4}]"},
		{"with_mean and with_std false", Scaler{Mean: []float64{1, 2}, Scale: []float64{3, 4}}, nil, 2, "[{x0 0 1} {x1 0 1}]"},
		{"scale length, model names", Scaler{Scale: []float64{3}, WithStd: true}, []string{"p"}, 1, "[{p 0 3}]"},
		{"names only", Scaler{FeatureNames: []string{"a"}}, nil, 1, "[{a 0 1}]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.FeatureCount(); got != tt.count {
				t.Errorf("FeatureCount = %d, want %d", got, tt.count)
			}
			if got := fmt.Sprint(tt.s.Table(tt.names)); got != tt.table {
				t.Errorf("Table = %s, want %s", got, tt.table)
			}
		})
	}
}

// TestParseScalerInterop reads the scikit-learn 1.2 fixtures.
func TestParseScalerInterop(t *testing.T) {
	for _, c := range []struct {
		dir     string
		nanMean int
	}{{"mlp", -1}, {"scaler-nan", 3}} {
		data, err := os.ReadFile("../testdata/interop/" + c.dir + "/scaler.json")
		if err != nil {
			t.Fatal(err)
		}
		s, err := ParseScaler(data)
		if err != nil {
			t.Fatal(err)
		}
		if s.FeatureCount() != 6 || s.FeatureNames[5] != "credit_score" || s.NSamplesSeen != 1024 {
			t.Errorf("%s: %+v", c.dir, s)
		}
		for i, m := range s.Mean {
			if math.IsNaN(m) != (i == c.nanMean) {
				t.Errorf("%s: mean_[%d] = %v", c.dir, i, m)
			}
		}
	}
}

func TestFloatJSON(t *testing.T) {
	in := []Float{Float(math.NaN()), Float(math.Inf(1)), Float(math.Inf(-1)), 1.5, -2e-300}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `["NaN","Infinity","-Infinity",1.5,-2e-300]` {
		t.Errorf("marshalled %s", b)
	}
	var back []Float
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(back) != fmt.Sprint(in) {
		t.Errorf("round trip %v, want %v", back, in)
	}
}
