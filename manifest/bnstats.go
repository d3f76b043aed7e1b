package manifest

import (
	"fmt"

	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/manifest/bundlepb"
	"google.golang.org/protobuf/proto"
)

// MarshalBNStats encodes BatchNorm statistics as the bnstats layer: binary
// bundlepb.BatchNormStats, deterministic, so the same statistics always give
// the same bytes.
func MarshalBNStats(s *artifact.BNStats) ([]byte, error) {
	msg := &bundlepb.BatchNormStats{}
	for _, l := range s.Layers {
		msg.Layers = append(msg.Layers, &bundlepb.BatchNormLayer{
			Name:              l.Name,
			Channels:          uint32(l.Channels),
			RunningMean:       l.RunningMean,
			RunningVar:        l.RunningVar,
			NumBatchesTracked: l.NumBatchesTracked,
			HasTracked:        l.HasTracked,
		})
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(msg)
	if err != nil {
		return nil, fmt.Errorf("encoding BatchNorm statistics: %w", err)
	}
	return b, nil
}

// ParseBNStats decodes a bnstats layer. The error wraps ErrInvalidBundle.
func ParseBNStats(b []byte) (*artifact.BNStats, error) {
	var msg bundlepb.BatchNormStats
	if err := proto.Unmarshal(b, &msg); err != nil {
		return nil, fmt.Errorf("%w: bnstats layer: %w", ErrInvalidBundle, err)
	}
	s := &artifact.BNStats{}
	for _, l := range msg.GetLayers() {
		s.Layers = append(s.Layers, artifact.BNLayer{
			Name:              l.GetName(),
			Channels:          int(l.GetChannels()),
			RunningMean:       l.GetRunningMean(),
			RunningVar:        l.GetRunningVar(),
			NumBatchesTracked: l.GetNumBatchesTracked(),
			HasTracked:        l.GetHasTracked(),
		})
	}
	return s, nil
}
