package weights

import "slices"

// LengthBytes is how many bytes open a safetensors file: the little-endian header length. A reader
// that fetches headers over the network asks for these first, then for the header alone.
const LengthBytes = lengthBytes

// Remote is a safetensors file known by its header only: a file on the Hugging Face Hub, of which
// nothing but the header was fetched.
type Remote struct {
	// Name names the file in the Set and in errors, as its reader chose ("hf:org/name@1a2b3c4/model.safetensors").
	Name string
	// Head holds the file's first bytes: the 8-byte header length and the whole header, nothing more.
	Head []byte
	Size int64 // the whole file's size, data included
}

// HeaderLength reads the header length from a file's first 8 bytes and checks it against the format's
// limit and the file's size, so a reader that fetches the header next never asks for, or allocates,
// more than a valid file can hold. name only names the file in errors.
func HeaderLength(name string, first []byte, size int64) (int64, error) {
	if size < 0 {
		return 0, errorf(name, "has a negative size (%d)", size)
	}
	n, err := headerLength(first, uint64(size))
	if err != nil {
		return 0, errorf(name, "%v", err)
	}
	return int64(n), nil
}

// ParseRemote parses the header of a remote file with the same checks as a local one (offsets, sizes,
// dtypes, the file length), without its data.
func ParseRemote(r Remote) ([]Tensor, error) {
	if r.Size < 0 {
		return nil, errorf(r.Name, "has a negative size (%d)", r.Size)
	}
	n, err := checkFramingSize(r.Head, uint64(r.Size))
	if err != nil {
		return nil, errorf(r.Name, "%v", err)
	}
	if uint64(len(r.Head)) != lengthBytes+n {
		return nil, errorf(r.Name, "holds %d bytes before the data, not the %d of its header", len(r.Head), lengthBytes+n)
	}
	// Our own reader, not nlpodyssey's: the library checks offsets against the bytes in hand and would
	// need the whole file. parseOwn applies the same checks against the file's size, and
	// FuzzReadHeader keeps the two in agreement.
	ts, err := parseOwn(r.Head[lengthBytes:], uint64(r.Size)-lengthBytes-n)
	if err != nil {
		return nil, errorf(r.Name, "%v", err)
	}
	for i := range ts {
		ts[i].File = r.Name
	}
	return ts, nil
}

// FromRemote builds a Set from the headers of remote files, in the order given, the way ReadFolder
// does from local ones: with an index's weight_map (nil when there is no index), the files are its
// shards and the index is checked against them. Each file's Name must end in "/" and its file name in
// the repository, which is what the index names.
func FromRemote(files []Remote, weightMap map[string]string) (*Set, error) {
	s := newSet()
	for _, f := range files {
		ts, err := ParseRemote(f)
		if err != nil {
			return nil, err
		}
		if err := s.add(f.Name, ts); err != nil {
			return nil, err
		}
		s.Files = append(s.Files, f.Name)
	}
	if weightMap == nil {
		return s, nil
	}
	// checkIndex compares the index with the base names of Tensor.File, which for a remote file is its
	// name in the repository as long as the reader's names end in it.
	s.Warnings = append(s.Warnings, checkIndex(s, weightMap)...)
	return s, nil
}

// Shards lists the shard file names an index's weight_map names, sorted (model-00001-of-00004 first).
func Shards(weightMap map[string]string) []string {
	seen := map[string]bool{}
	var out []string
	for _, shard := range weightMap {
		if !seen[shard] {
			seen[shard] = true
			out = append(out, shard)
		}
	}
	slices.Sort(out)
	return out
}
