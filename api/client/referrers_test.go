package client_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/normreg/normreg/api/client"
	"github.com/normreg/normreg/api/client/registrytest"
	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/manifest"
)

// TestReferrersOnNormreg attaches two artifacts to a manifest on normreg's
// registry (fs driver, real HTTP) and lists them through the referrers API.
func TestReferrersOnNormreg(t *testing.T) {
	host, _ := registrytest.Normreg(t)
	ctx := context.Background()
	c := client.New(host, client.Options{PageSize: 1})
	subject, _ := pushImage(t, c, "team/model", "v1")
	sdesc, err := c.ResolveManifest(ctx, "team/model", subject.String())
	if err != nil {
		t.Fatal(err)
	}
	empty := []byte("{}")
	emptyDesc := artifact.Descriptor{MediaType: "application/vnd.oci.empty.v1+json", Digest: artifact.FromBytes(artifact.SHA256, empty), Size: 2}
	if err := c.PushBlob(ctx, "team/model", emptyDesc, strings.NewReader("{}")); err != nil {
		t.Fatal(err)
	}
	want := map[string]artifact.Digest{}
	for _, at := range []string{"application/vnd.example.eval-report", "application/vnd.example.signature"} {
		mf, _ := json.Marshal(map[string]any{
			"schemaVersion": 2, "mediaType": manifest.MediaTypeImageManifest, "artifactType": at,
			"config": emptyDesc, "layers": []artifact.Descriptor{emptyDesc}, "subject": sdesc,
		})
		rd, err := c.PushManifest(ctx, "team/model", artifact.FromBytes(artifact.SHA256, mf).String(), manifest.MediaTypeImageManifest, mf)
		if err != nil {
			t.Fatalf("pushing a referrer: %v", err)
		}
		want[at] = rd
	}
	all, err := c.Referrers(ctx, "team/model", subject, "")
	if err != nil || len(all) != 2 {
		t.Fatalf("Referrers = %+v, %v; want both", all, err)
	}
	only, err := c.Referrers(ctx, "team/model", subject, "application/vnd.example.signature")
	if err != nil || len(only) != 1 || only[0].Digest != want["application/vnd.example.signature"] {
		t.Fatalf("Referrers(signature) = %+v, %v; want %s", only, err, want["application/vnd.example.signature"])
	}
}
