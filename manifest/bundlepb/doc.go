// Package bundlepb holds the protobuf messages of a normreg bundle: the
// BundleConfig carried (as protojson) in the bundle's config blob and the
// BatchNormStats carried (as binary protobuf) in its bnstats layer.
//
// bundle.pb.go is generated from bundle.proto by scripts/gen-proto.sh; edit
// the .proto and regenerate, never the Go.
package bundlepb
