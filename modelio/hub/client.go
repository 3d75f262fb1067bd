// Package hub opens models on the Hugging Face Hub by their id without downloading their weights: it
// fetches config.json, model.safetensors.index.json and, by HTTP range requests, the header of each
// safetensors shard (8 bytes for the header length, then the header), and hands the headers to
// package weights, which parses them with the same checks as local files.
//
// Why not github.com/gomlx/go-huggingface (v0.3.1), the Hub library DESIGN.md names: its hub package
// downloads whole files into the Hugging Face cache, and even building a file's URL (Repo.FileURL)
// first creates folders and writes the repository info there, which Layerscope must never do; it has
// no range requests, does not read the token files (the caller passes the token), and its redirects
// keep Go's default header policy. What it would give (the resolve URL pattern and HF_ENDPOINT) is a
// line each here, so this package depends on nothing but the standard library.
//
// The Hub is an untrusted server like any other: every answer is read through a size limit, every
// request has a deadline, redirects are followed by hand (so the token goes to the Hub's own host and
// never to the CDN it redirects to), and every fault is a one-line error naming the URL.
package hub

import (
	"context"
	"errors"
	"fmt"
	"golang.org/x/net/http/httpproxy"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// DefaultEndpoint is the Hub's address when HF_ENDPOINT is not set.
const DefaultEndpoint = "https://huggingface.co"

// DefaultTimeout bounds one request, from connecting to the last byte of the answer: a header is at
// most a few megabytes, and a stalled CDN must not hang the window.
const DefaultTimeout = 30 * time.Second

// maxRedirects is how many redirects one request follows: the Hub answers with one (to its CDN), two
// for a renamed repository; more is a misconfigured mirror.
const maxRedirects = 10

// Client talks to one Hub endpoint.
type Client struct {
	// Endpoint is the Hub's base URL: DefaultEndpoint, or HF_ENDPOINT for a mirror.
	Endpoint string
	// Token is sent as "Authorization: Bearer" to the endpoint's own host and to no other; "" for none.
	Token string
	// TokenSource says where Token came from ("HF_TOKEN", a file), for errors about it.
	TokenSource string
	// Offline refuses the network (HF_HUB_OFFLINE): only what the header cache holds opens.
	Offline bool
	// CacheDir holds fetched configs and headers, keyed by repository and commit; "" caches nothing.
	CacheDir string
	// Timeout bounds each request; DefaultTimeout when 0.
	Timeout time.Duration
	// HTTP makes the requests; its redirects are turned off and followed by the client itself.
	HTTP *http.Client
	// Progress, when set, is called as the headers arrive, from the fetching goroutines one at a time.
	Progress func(Progress)
	// Parallel is how many headers are fetched at once; DefaultParallel when 0.
	Parallel int
}

// FromEnv makes a client as huggingface_hub would configure itself: HF_ENDPOINT, HF_TOKEN (else the
// token file), HF_HUB_OFFLINE, and the proxy of HTTPS_PROXY / HTTP_PROXY / NO_PROXY. The header
// cache is under the user's cache folder (os.UserCacheDir()/layerscope/hub), never inside the
// Hugging Face cache, which belongs to huggingface_hub.
func FromEnv() (*Client, error) {
	endpoint := strings.TrimSuffix(os.Getenv("HF_ENDPOINT"), "/")
	if endpoint == "" {
		endpoint = DefaultEndpoint
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("HF_ENDPOINT=%s: not an http(s) URL", quote(endpoint))
	}
	token, source, err := findToken()
	if err != nil {
		return nil, err
	}
	c := &Client{Endpoint: endpoint, Token: token, TokenSource: source, Offline: envTrue("HF_HUB_OFFLINE"), HTTP: newHTTPClient()}
	if dir, err := os.UserCacheDir(); err == nil {
		c.CacheDir = dir + string(os.PathSeparator) + "layerscope" + string(os.PathSeparator) + "hub"
	}
	return c, nil
}

// envTrue reads a boolean variable the way huggingface_hub's constants do: 1, ON, YES or TRUE.
func envTrue(name string) bool {
	switch strings.ToUpper(strings.TrimSpace(os.Getenv(name))) {
	case "1", "ON", "YES", "TRUE":
		return true
	}
	return false
}

// newHTTPClient is Go's default transport (HTTP/2, keep-alive) with redirects left to the caller and
// the proxy that HTTPS_PROXY, HTTP_PROXY and NO_PROXY name when the client is made. x/net's httpproxy
// reads them as http.ProxyFromEnvironment does, but each time it is asked rather than once per process,
// so a proxy set after the first request is still used (and a test can set one).
func newHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	proxy := httpproxy.FromEnvironment().ProxyFunc()
	t.Proxy = func(r *http.Request) (*url.URL, error) { return proxy(r.URL) }
	t.ResponseHeaderTimeout = DefaultTimeout
	return &http.Client{
		Transport:     t,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// userAgent names Layerscope to the Hub, as huggingface_hub names itself.
var userAgent = "layerscope; golang/" + runtime.Version()

// answer is a successful response whose body is still to be read.
type answer struct {
	resp *http.Response
	url  *url.URL // where the answer came from, after redirects
}

// get sends a GET for rawURL, with a Range header when first ≤ last, follows redirects by hand and
// returns the first answer that is not a redirect. A failure status is turned into an error here;
// the caller reads (and closes) the body of a success. ctx should carry the request's deadline.
func (c *Client) get(ctx context.Context, rawURL string, first, last int64, ref Ref) (*answer, error) {
	endpoint, err := url.Parse(c.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("HF_ENDPOINT=%s: %v", quote(c.Endpoint), err)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", quote(rawURL), err)
	}
	seen := map[string]bool{}
	for hop := 0; ; hop++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", showURL(u), err)
		}
		req.Header.Set("User-Agent", userAgent)
		if first <= last {
			req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", first, last))
		}
		// The token is for the Hub alone: a redirect to its CDN (or anywhere else) carries a signed
		// URL instead, and a token sent there would leak to whoever runs that host.
		if c.Token != "" && sameOrigin(u, endpoint) {
			req.Header.Set("Authorization", "Bearer "+c.Token)
		}
		seen[u.String()] = true
		resp, err := c.HTTP.Do(req)
		if err != nil {
			return nil, netError(u, err)
		}
		switch resp.StatusCode {
		case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
			drain(resp)
			loc := resp.Header.Get("Location")
			next, err := u.Parse(loc)
			if loc == "" || err != nil || (next.Scheme != "https" && next.Scheme != "http") {
				return nil, fmt.Errorf("%s: redirect (HTTP %d) to an unusable address %s", showURL(u), resp.StatusCode, quote(loc))
			}
			if u.Scheme == "https" && next.Scheme == "http" {
				return nil, fmt.Errorf("%s: redirect from https to plain http (%s) refused", showURL(u), showURL(next))
			}
			if seen[next.String()] {
				return nil, fmt.Errorf("%s: redirect loop (it leads back to %s)", showURL(u), showURL(next))
			}
			if hop+1 >= maxRedirects {
				return nil, fmt.Errorf("%s: more than %d redirects", showURL(u), maxRedirects)
			}
			u = next
			continue
		}
		if resp.StatusCode >= 300 || resp.StatusCode < 200 {
			defer drain(resp)
			return nil, c.statusError(u, resp, ref)
		}
		return &answer{resp: resp, url: u}, nil
	}
}

// sameOrigin reports whether u is on the endpoint's own scheme and host (port included).
func sameOrigin(u, endpoint *url.URL) bool {
	return strings.EqualFold(u.Scheme, endpoint.Scheme) && strings.EqualFold(u.Host, endpoint.Host)
}

// drain throws away a little of a body so the connection can be reused, and closes it.
func drain(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
}

// showURL prints a URL for an error: without its query, which on a CDN is a signature nobody needs
// to read, and escaped, so a hostile Location cannot break the line.
func showURL(u *url.URL) string {
	c := *u
	c.RawQuery, c.Fragment, c.User = "", "", nil
	return quote(c.String())
}

// netError words a failed request: a timeout, a refused connection, a proxy or TLS failure.
func netError(u *url.URL, err error) error {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("%s: no answer in time (timed out)", showURL(u))
	case errors.Is(err, context.Canceled):
		return cancelled{u}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("%s: %s", showURL(u), oneLine(err.Error()))
}

// statusError turns a failure status into the one line a person can act on. The Hub says what went
// wrong in X-Error-Code (the codes huggingface_hub's hf_raise_for_status reads): a gated repository,
// a missing repository (401 when no token was sent, so as not to reveal private ones), revision or file.
func (c *Client) statusError(u *url.URL, resp *http.Response, ref Ref) error {
	code := resp.Header.Get("X-Error-Code")
	msg := resp.Header.Get("X-Error-Message")
	page := ref.Page(c.Endpoint)
	status := resp.StatusCode
	switch {
	case code == "GatedRepo" && c.Token == "":
		return fmt.Errorf("%s is a gated model and no token was sent: accept its licence at %s, then set HF_TOKEN (or log in with `hf auth login`)", ref, page)
	case code == "GatedRepo":
		return fmt.Errorf("%s is a gated model and the token from %s has no access to it yet: accept its licence at %s with that account (access can take a while to be granted)", ref, c.TokenSource, page)
	case status == http.StatusUnauthorized && msg == "Invalid credentials in Authorization header":
		return fmt.Errorf("%s: the token from %s is not valid (HTTP 401): set HF_TOKEN to a current token from %s/settings/tokens", ref, c.TokenSource, strings.TrimSuffix(c.Endpoint, "/"))
	case code == "RevisionNotFound":
		return fmt.Errorf("%s: the model has no revision %s (HTTP %d)", ref, quote(ref.Revision), status)
	case code == "EntryNotFound":
		return fmt.Errorf("%s: no such file in the model (HTTP %d)", showURL(u), status)
	case code == "RepoNotFound" || status == http.StatusUnauthorized || (status == http.StatusNotFound && isAPI(u)):
		if c.Token == "" {
			return fmt.Errorf("%s: no such model on %s, or it is private: check the id at %s, or set HF_TOKEN to a token that can read it", ref, c.Endpoint, page)
		}
		return fmt.Errorf("%s: no such model on %s, or the token from %s cannot read it: check the id at %s", ref, c.Endpoint, c.TokenSource, page)
	case status == http.StatusForbidden:
		return fmt.Errorf("%s: access refused (HTTP 403): if the model is gated, accept its licence at %s, and set HF_TOKEN", ref, page)
	case status == http.StatusNotFound:
		return fmt.Errorf("%s: not found (HTTP 404)", showURL(u))
	case status == http.StatusTooManyRequests:
		return fmt.Errorf("%s: the Hub is limiting requests (HTTP 429): try again in a minute, or set HF_TOKEN (logged-in users get more)", showURL(u))
	case status == http.StatusRequestedRangeNotSatisfiable:
		return fmt.Errorf("%s: the server refused the byte range (HTTP 416): the file is shorter than its header says", showURL(u))
	}
	return fmt.Errorf("%s: HTTP %d %s", showURL(u), status, quote(http.StatusText(status)))
}

func isAPI(u *url.URL) bool { return strings.Contains(u.Path, "/api/") }

// readAll reads a body of at most limit bytes; a longer one is an error, not a truncation.
func readAll(a *answer, limit int64) ([]byte, error) {
	defer a.resp.Body.Close()
	if a.resp.ContentLength > limit {
		return nil, fmt.Errorf("%s: the answer is %d bytes, over the %d expected of it", showURL(a.url), a.resp.ContentLength, limit)
	}
	data, err := io.ReadAll(io.LimitReader(a.resp.Body, limit+1))
	if err != nil {
		return nil, bodyError(a.url, err, len(data), a.resp.ContentLength)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: the answer is over the %d bytes expected of it", showURL(a.url), limit)
	}
	if a.resp.ContentLength >= 0 && int64(len(data)) != a.resp.ContentLength {
		return nil, fmt.Errorf("%s: the connection closed after %d of %d bytes", showURL(a.url), len(data), a.resp.ContentLength)
	}
	return data, nil
}

// cancelled is a request stopped by its caller (another shard failed, or the window closed).
type cancelled struct{ u *url.URL }

func (c cancelled) Error() string { return showURL(c.u) + ": cancelled" }
func (c cancelled) Unwrap() error { return context.Canceled }

// bodyError words a failure while a body was read.
func bodyError(u *url.URL, err error, got int, want int64) error {
	if errors.Is(err, context.Canceled) {
		return cancelled{u}
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%s: the answer stalled after %d bytes (timed out)", showURL(u), got)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || strings.Contains(err.Error(), "connection reset") {
		if want >= 0 {
			return fmt.Errorf("%s: the connection closed after %d of %d bytes", showURL(u), got, want)
		}
		return fmt.Errorf("%s: the connection closed after %d bytes", showURL(u), got)
	}
	return fmt.Errorf("%s: reading the answer: %s", showURL(u), oneLine(err.Error()))
}

// contentRange reads "bytes FIRST-LAST/SIZE" of a 206 answer.
func contentRange(h string) (first, last, size int64, ok bool) {
	rest, found := strings.CutPrefix(h, "bytes ")
	if !found {
		return 0, 0, 0, false
	}
	span, total, found := strings.Cut(rest, "/")
	a, b, found2 := strings.Cut(span, "-")
	if !found || !found2 {
		return 0, 0, 0, false
	}
	var err1, err2, err3 error
	first, err1 = strconv.ParseInt(a, 10, 64)
	last, err2 = strconv.ParseInt(b, 10, 64)
	size, err3 = strconv.ParseInt(total, 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || first < 0 || last < first || size <= last {
		return 0, 0, 0, false
	}
	return first, last, size, true
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// timeout is the deadline of one request.
func (c *Client) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}
