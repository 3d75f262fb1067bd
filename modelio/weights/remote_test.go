package weights

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/layerscope/layerscope/modelio/weights/weightstest"
)

// remoteOf is what a Hub reader holds of a local file: its first 8 bytes, then the header they announce.
func remoteOf(t *testing.T, name string, data []byte) ([]Tensor, error) {
	t.Helper()
	n, err := HeaderLength(name, data[:min(len(data), LengthBytes)], int64(len(data)))
	if err != nil {
		return nil, err
	}
	return ParseRemote(Remote{Name: name, Head: data[:LengthBytes+n], Size: int64(len(data))})
}

// A header fetched alone reads as the same tensors as the whole file, and every file the local reader
// refuses is refused from its header alone, in one line naming the file.
func TestParseRemoteAgreesWithReadHeader(t *testing.T) {
	const name = "hf:org/model/model.safetensors"
	for _, specs := range [][]weightstest.Spec{
		{weightstest.T("a", "BF16", 4, 8), weightstest.T("b", "F32"), weightstest.T("c", "F8_E4M3", 3, 0)},
		{weightstest.T("model.embed_tokens.weight", "F4", 10, 6), weightstest.T("x", "I64", 2)},
	} {
		path := filepath.Join(t.TempDir(), "model.safetensors")
		weightstest.WriteFile(t, path, specs)
		want, err := ReadHeader(path)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(path)
		got, err := remoteOf(t, name, data)
		if err != nil {
			t.Fatal(err)
		}
		for i := range want {
			want[i].File = name
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("from the header alone:\n %v\nfrom the file:\n %v", got, want)
		}
	}
	for _, tc := range badHeaders {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "model.safetensors")
			tc.write(t, path)
			data, err := os.ReadFile(path)
			if err != nil || len(data) == 0 {
				t.Skip("not a file with bytes to fetch")
			}
			ts, err := remoteOf(t, name, data)
			checkError(t, ts, err, name, "")
		})
	}
	// What the fetched bytes themselves can get wrong.
	for _, tc := range []struct {
		name string
		head []byte
		size int64
		want string
	}{
		{"header length past the file", le64(5000), 1000, "header length 5000 runs past the end of the file (1000 bytes)"},
		{"header cut short", append(le64(100), `{"a":`...), 1000, "holds 5 of the header's 100 bytes"},
		{"more than the header", append(le64(2), "{}  "...), 1000, "holds 12 bytes before the data, not the 10 of its header"},
		{"negative size", le64(2), -1, "negative size"},
	} {
		_, err := ParseRemote(Remote{Name: name, Head: tc.head, Size: tc.size})
		checkError(t, nil, err, name, tc.want)
	}
}
