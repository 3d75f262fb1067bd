package hub

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// Prefix marks a Hub model where a path would go: hf:meta-llama/Llama-3.2-1B.
const Prefix = "hf:"

// DefaultRevision is the branch the Hub serves when none is named.
const DefaultRevision = "main"

// maxRepoID is the longest repository id the Hub accepts (huggingface_hub's validate_repo_id).
const maxRepoID = 96

// repoPart is one part of a repository id as huggingface_hub's validate_repo_id accepts it: letters,
// digits, '-', '_' and '.', not starting or ending with '-' or '.'.
var repoPart = regexp.MustCompile(`^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$`)

// commitHash is a full git commit id, which needs no resolving and never changes.
var commitHash = regexp.MustCompile(`^[0-9a-f]{40}$`)

// Ref names a model repository on the Hub at a revision.
type Ref struct {
	Repo     string // "meta-llama/Llama-3.2-1B", or a legacy id without owner ("gpt2")
	Revision string // a branch, tag or commit; DefaultRevision when none was given
}

// String is the ref as a person writes it: hf:org/name, or hf:org/name@rev for another revision.
func (r Ref) String() string {
	if r.Revision == DefaultRevision || r.Revision == "" {
		return Prefix + r.Repo
	}
	return Prefix + r.Repo + "@" + r.Revision
}

// Page is the model's page on the Hub, where its licence is accepted.
func (r Ref) Page(endpoint string) string {
	return strings.TrimSuffix(endpoint, "/") + "/" + r.Repo
}

// IsRef reports whether s names a Hub model rather than a file: "hf:…" or an http(s) URL. A URL that
// is not a model page is still a ref, so that ParseRef can say what is wrong with it.
func IsRef(s string) bool {
	return strings.HasPrefix(s, Prefix) || strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://")
}

// hubHosts are the hosts of the Hub's model pages; the host of HF_ENDPOINT (a mirror) is accepted too.
var hubHosts = []string{"huggingface.co", "www.huggingface.co", "hf.co"}

// ParseRef reads hf:ORG/NAME, hf:ORG/NAME@REVISION, or a model page URL: https://huggingface.co/ORG/NAME
// and …/tree/REVISION (the revision URL-escaped, as the Hub writes refs/pr/1). endpoint is the
// endpoint in use, whose host is accepted in URLs too.
func ParseRef(s, endpoint string) (Ref, error) {
	if strings.HasPrefix(s, Prefix) {
		id, rev, found := strings.Cut(strings.TrimPrefix(s, Prefix), "@")
		if found && rev == "" {
			return Ref{}, fmt.Errorf("%s: the revision after @ is empty", quote(s))
		}
		if !found {
			rev = DefaultRevision
		}
		r := Ref{Repo: strings.TrimSuffix(id, "/"), Revision: rev}
		return r, r.check(s)
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return Ref{}, fmt.Errorf("%s: not a URL of a model on the Hugging Face Hub", quote(s))
	}
	if !hubHost(u.Host, endpoint) {
		return Ref{}, fmt.Errorf("%s: %s is not the Hugging Face Hub (huggingface.co, or the HF_ENDPOINT in use)", quote(s), quote(u.Host))
	}
	parts := strings.Split(strings.Trim(u.EscapedPath(), "/"), "/")
	if len(parts) > 0 && (parts[0] == "datasets" || parts[0] == "spaces") {
		return Ref{}, fmt.Errorf("%s: a %s, not a model", quote(s), strings.TrimSuffix(parts[0], "s"))
	}
	var r Ref
	switch {
	case len(parts) == 2 || len(parts) == 1 && parts[0] != "":
		r = Ref{Repo: strings.Join(parts, "/"), Revision: DefaultRevision}
	case len(parts) == 4 && parts[2] == "tree":
		rev, err := url.PathUnescape(parts[3])
		if err != nil || rev == "" {
			return Ref{}, fmt.Errorf("%s: the revision after /tree/ is not readable", quote(s))
		}
		r = Ref{Repo: parts[0] + "/" + parts[1], Revision: rev}
	default:
		return Ref{}, fmt.Errorf("%s: not a model page: expected https://huggingface.co/ORG/NAME or …/ORG/NAME/tree/REVISION", quote(s))
	}
	return r, r.check(s)
}

func hubHost(host, endpoint string) bool {
	for _, h := range hubHosts {
		if strings.EqualFold(host, h) {
			return true
		}
	}
	e, err := url.Parse(endpoint)
	return err == nil && e.Host != "" && strings.EqualFold(host, e.Host)
}

// check refuses ids the Hub would refuse, before any request carries them into a URL.
func (r Ref) check(s string) error {
	parts := strings.Split(r.Repo, "/")
	if r.Repo == "" || len(parts) > 2 || len(r.Repo) > maxRepoID {
		return fmt.Errorf("%s: not a model id: expected ORG/NAME (at most %d characters)", quote(s), maxRepoID)
	}
	for _, p := range parts {
		if !repoPart.MatchString(p) || strings.Contains(p, "--") || strings.Contains(p, "..") {
			return fmt.Errorf("%s: %s is not a valid model id: letters, digits, '-', '_' and '.', no '--' or '..'", quote(s), quote(r.Repo))
		}
	}
	if strings.IndexFunc(r.Revision, func(c rune) bool { return !unicode.IsPrint(c) || unicode.IsSpace(c) }) >= 0 || len(r.Revision) > 255 {
		return fmt.Errorf("%s: %s is not a valid revision", quote(s), quote(r.Revision))
	}
	return nil
}

// IsCommit reports whether the revision is a full commit id: its files never change.
func (r Ref) IsCommit() bool { return commitHash.MatchString(r.Revision) }

// quote prints user input as it is when plain, quoted when it holds spaces or control characters.
func quote(s string) string {
	if strings.IndexFunc(s, func(c rune) bool { return !unicode.IsGraphic(c) || unicode.IsSpace(c) }) >= 0 || s == "" {
		return strconv.Quote(s)
	}
	if len(s) > 200 {
		return strconv.Quote(s[:200] + "…")
	}
	return s
}
