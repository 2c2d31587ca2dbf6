package sdk_test

import (
	"bytes"
	"compress/gzip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/lethe-privacy/lethe/sdk"
)

// sizeBudget is the goal for the SDK over the wire: minified and gzipped,
// at most 5 KB.
const sizeBudget = 5 * 1024

func gzipSize(t *testing.T, b []byte) int {
	t.Helper()
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Len()
}

// The source gzipped already fits the budget, so its minified form (which
// only gets smaller) does too; with esbuild at hand (ESBUILD=path, or on
// PATH: npm i esbuild@0.28.2) the minified size is measured as well.
func TestSDK_SizeWithinBudget(t *testing.T) {
	src := gzipSize(t, sdk.Script)
	t.Logf("source: %d bytes, gzip -9: %d bytes", len(sdk.Script), src)
	if src > sizeBudget {
		t.Errorf("the SDK source gzipped is %d bytes, over the %d-byte budget", src, sizeBudget)
	}
	esbuild := os.Getenv("ESBUILD")
	if esbuild == "" {
		esbuild, _ = exec.LookPath("esbuild")
	}
	if esbuild == "" {
		t.Log("esbuild not found: minified size not measured (the source bound above holds)")
		return
	}
	out := filepath.Join(t.TempDir(), "lethe-chat.min.js")
	cmd := exec.Command(esbuild, "js/src/lethe-chat.js", "--minify", "--format=esm", "--target=es2020", "--outfile="+out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("esbuild: %v\n%s", err, b)
	}
	min, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	gz := gzipSize(t, min)
	t.Logf("minified: %d bytes, minified + gzip -9: %d bytes", len(min), gz)
	if gz > sizeBudget {
		t.Errorf("minified + gzip is %d bytes, over the %d-byte budget", gz, sizeBudget)
	}
}
