package bundlepb_test

import (
	"os"
	"os/exec"
	"testing"
)

// TestGeneratedCodeIsCurrent regenerates the Go code from bundle.proto and
// fails when it differs from the committed bundle.pb.go.
func TestGeneratedCodeIsCurrent(t *testing.T) {
	if _, err := exec.LookPath("protoc"); err != nil {
		if os.Getenv("NORMREG_TEST_REQUIRE") == "1" {
			t.Fatal("protoc not found (apt-get install -y protobuf-compiler) and NORMREG_TEST_REQUIRE=1")
		}
		t.Skip("protoc not found; install protobuf-compiler to check the generated code")
	}
	out, err := exec.Command("../../scripts/gen-proto.sh", "--check").CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/gen-proto.sh --check: %v\n%s", err, out)
	}
}
