package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An error goes once its cause is fixed; the settings' title names the run a token file makes.
func TestImportanceErrorGoesAndTokenFileShape(t *testing.T) {
	w, p := importanceWindow(t, &fakeEngine{steps: 1, result: fakeResult(4)})
	openAndWait(w, modelWithTokenizer(t, "tiny", 4))
	p.samples.SetText("x")
	p.start()
	p.runs.Wait()
	if p.state != stateFailed || !strings.Contains(labels(p.message), "Samples") {
		t.Fatalf("state %v, message %q: want the samples refused", p.state, labels(p.message))
	}
	p.samples.SetText("8")
	if p.state == stateFailed || strings.Contains(labels(p.message), "Samples") {
		t.Errorf("fixed, the error stays: state %v, message %q", p.state, labels(p.message))
	}

	path := filepath.Join(t.TempDir(), "ids.json")
	if err := os.WriteFile(path, []byte("[[1,2,3,4,5],[6,7,8],[9,10,11,12,13]]"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p.file, p.fileShape = path, tokenFileShape(path, f)
	p.source.SetSelectedIndex(int(textFile))
	if !strings.Contains(p.settings.Title, "3 × 5") {
		t.Errorf("settings title %q, want the file's 3 × 5", p.settings.Title)
	}
}
