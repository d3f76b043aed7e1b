package manifest

import "github.com/normreg/normreg/artifact"

// Media types of a normreg bundle (DESIGN.md "The bundle: an OCI artifact").
const (
	// ArtifactTypeBundle is the image manifest's artifactType.
	ArtifactTypeBundle = "application/vnd.normreg.bundle.v1"
	// MediaTypeConfig is the config blob: the protojson of bundlepb.BundleConfig.
	MediaTypeConfig = "application/vnd.normreg.config.v1+json"
	// MediaTypeWeights is the weights layer in safetensors format.
	MediaTypeWeights = "application/vnd.normreg.weights.v1.safetensors"
	// MediaTypeScaler is the scaler layer: the scaler JSON file's exact bytes.
	MediaTypeScaler = "application/vnd.normreg.scaler.v1+json"
	// MediaTypeBNStats is the BatchNorm statistics layer: binary bundlepb.BatchNormStats.
	MediaTypeBNStats = "application/vnd.normreg.bnstats.v1+protobuf"
)

// File names given to the layers in the org.opencontainers.image.title
// annotation, so `oras pull` writes them under these names.
const (
	FileWeights = "weights.safetensors"
	FileScaler  = "scaler.json"
	FileBNStats = "bnstats.pb"
)

// AnnotationTitle is the OCI annotation holding a layer's file name.
const AnnotationTitle = "org.opencontainers.image.title"

// Size caps for the blobs read whole when a bundle is checked.
const (
	MaxConfigSize  = 1 << 20                // config blob
	MaxScalerSize  = artifact.MaxScalerSize // scaler layer, as the scaler reader bounds it
	MaxBNStatsSize = 64 << 20               // bnstats layer
)
