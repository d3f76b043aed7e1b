package artifact

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseWeightsMetadata(t *testing.T) {
	yes, no := true, false
	hex := strings.Repeat("ab", 32)
	tests := []struct {
		name string
		md   map[string]string
		want WeightsMetadata
	}{
		{"empty", nil, WeightsMetadata{}},
		{"other keys ignored", map[string]string{"format": "pt"}, WeightsMetadata{}},
		{"all keys", map[string]string{
			MetaMode: "eval", MetaScalerSHA256: strings.ToUpper(hex), MetaFeatures: "age, income,tenure",
			MetaInputTensor: "net.0.weight", MetaBatchSize: "32", MetaBNFrozen: "true",
		}, WeightsMetadata{Mode: ModeEval, ScalerSHA256: hex, Features: []string{"age", "income", "tenure"}, InputTensor: "net.0.weight", BatchSize: 32, BNFrozen: &yes}},
		{"train, not frozen", map[string]string{MetaMode: "train", MetaBNFrozen: "false"}, WeightsMetadata{Mode: ModeTrain, BNFrozen: &no}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseWeightsMetadata(tt.md)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("got %+v, want %+v", *got, tt.want)
			}
		})
	}
}

func TestParseWeightsMetadataInvalid(t *testing.T) {
	tests := []struct {
		key, value, want string
	}{
		{MetaMode, "EVAL", "must be eval or train"},
		{MetaMode, "", "must be eval or train"},
		{MetaScalerSHA256, "sha256:" + strings.Repeat("a", 64), "must be 64 hex digits"},
		{MetaScalerSHA256, strings.Repeat("g", 64), "must be 64 hex digits"},
		{MetaFeatures, "a,,b", "position 1 (from 0) is empty"},
		{MetaFeatures, "", "lists no feature names"},
		{MetaFeatures, " ", "lists no feature names"},
		{MetaFeatures, "a,b,a", `feature "a" is at positions 0 and 2`},
		{MetaInputTensor, "", "must name a tensor"},
		{MetaBatchSize, "0", "positive integer"},
		{MetaBatchSize, "32.0", "positive integer"},
		{MetaBNFrozen, "yes", "true or false"},
	}
	for _, tt := range tests {
		t.Run(tt.key+"="+tt.value, func(t *testing.T) {
			_, err := ParseWeightsMetadata(map[string]string{tt.key: tt.value})
			if !errors.Is(err, ErrInvalidMetadata) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.key) {
				t.Errorf("error %v, want ErrInvalidMetadata naming %s and saying %q", err, tt.key, tt.want)
			}
		})
	}
}

func TestParseWeightsMetadataJoinsErrors(t *testing.T) {
	got, err := ParseWeightsMetadata(map[string]string{MetaMode: "x", MetaBatchSize: "-1", MetaInputTensor: "in"})
	if err == nil || !strings.Contains(err.Error(), MetaMode) || !strings.Contains(err.Error(), MetaBatchSize) {
		t.Fatalf("error %v, want both bad keys named", err)
	}
	if got.InputTensor != "in" {
		t.Errorf("InputTensor %q, want the good key still read", got.InputTensor)
	}
}
