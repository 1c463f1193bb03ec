// Package replay reads recorded request/response pairs (the JSON Lines
// format of ../shared/recordings/README.md) and sends the requests to a
// server, so that its answers go through the same comparison, store and
// report as shadowed traffic.
package replay

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/weaveproxy/weaveproxy/diff"
	"github.com/weaveproxy/weaveproxy/diff/rules"
)

// Entry is one recorded pair.
type Entry struct {
	Seq      int
	Scenario string
	Request  diff.Exchange
	// RequestHeaders keeps the recorded request headers in wire order,
	// names as spelled; Request.Header holds the same values.
	RequestHeaders [][2]string
	// Response is what the recorded (legacy) server answered.
	Response  diff.Answer
	ElapsedMS float64
	At        time.Time
}

type wireMsg struct {
	Method  string      `json:"method"`
	Path    string      `json:"path"`
	Status  int         `json:"status"`
	Headers [][2]string `json:"headers"`
	Body    *string     `json:"body"`
	BodyB64 *string     `json:"body_b64"`
}

type wireEntry struct {
	Seq       int     `json:"seq"`
	Scenario  string  `json:"scenario"`
	Request   wireMsg `json:"request"`
	Response  wireMsg `json:"response"`
	ElapsedMS float64 `json:"elapsed_ms"`
	At        float64 `json:"at"`
}

// Load reads a recordings file; the entries come sorted by seq.
func Load(path string) ([]Entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	defer f.Close()
	es, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("replay: %s: %w", path, err)
	}
	return es, nil
}

// Parse reads recordings from r; the entries come sorted by seq, which
// must be unique.
func Parse(r io.Reader) ([]Entry, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	var out []Entry
	seen := map[int]int{}
	for line := 1; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		e, err := parseLine(b)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if prev, dup := seen[e.Seq]; dup {
			return nil, fmt.Errorf("line %d: seq %d already on line %d", line, e.Seq, prev)
		}
		seen[e.Seq] = line
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out, nil
}

func parseLine(b []byte) (Entry, error) {
	var w wireEntry
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return Entry{}, err
	}
	if w.Request.Method == "" || !strings.HasPrefix(w.Request.Path, "/") {
		return Entry{}, fmt.Errorf("seq %d: request needs a method and a path starting with /", w.Seq)
	}
	reqBody, err := body(w.Request)
	if err != nil {
		return Entry{}, fmt.Errorf("seq %d: request: %w", w.Seq, err)
	}
	respBody, err := body(w.Response)
	if err != nil {
		return Entry{}, fmt.Errorf("seq %d: response: %w", w.Seq, err)
	}
	sec, frac := math.Modf(w.At)
	return Entry{
		Seq: w.Seq, Scenario: w.Scenario, ElapsedMS: w.ElapsedMS,
		At:             time.Unix(int64(sec), int64(math.Round(frac*1e6))*1e3).UTC(),
		RequestHeaders: w.Request.Headers,
		Request: diff.Exchange{Method: w.Request.Method, Path: w.Request.Path,
			Header: header(w.Request.Headers), Body: reqBody},
		Response: diff.Answer{Status: w.Response.Status, Header: header(w.Response.Headers), Body: respBody},
	}, nil
}

func body(m wireMsg) ([]byte, error) {
	switch {
	case m.Body != nil && m.BodyB64 != nil:
		return nil, errors.New("both body and body_b64")
	case m.BodyB64 != nil:
		return base64.StdEncoding.DecodeString(*m.BodyB64)
	case m.Body != nil:
		return []byte(*m.Body), nil
	}
	return nil, nil
}

// header keeps names as recorded: http.Header's canonical form would hide
// nothing the comparison needs, but samples show what was on the wire.
func header(kvs [][2]string) http.Header {
	h := http.Header{}
	for _, kv := range kvs {
		h[kv[0]] = append(h[kv[0]], kv[1])
	}
	return h
}

// notSent are recorded request headers the replay does not copy: Host
// names the recorded server (the one thing a replay rewrites), and the
// others describe the recorded connection, which Go's client writes
// itself for the new one.
var notSent = map[string]bool{"host": true, "content-length": true, "connection": true,
	"transfer-encoding": true, "keep-alive": true, "te": true, "upgrade": true}

// Run sends the entries' requests to baseURL in seq order, rewriting
// nothing but the host: method, raw target (percent-encoding untouched),
// headers and body go as recorded. Each answer reaches sink as the Native
// side of a pair whose Legacy side is the recorded response; Route is
// rules.RouteOf the request. A transport error stops the run.
func Run(ctx context.Context, entries []Entry, baseURL string, client *http.Client, sink func(diff.Pair)) error {
	base, err := url.Parse(baseURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return fmt.Errorf("replay: base URL %q: want http(s)://host[:port]", baseURL)
	}
	if base.Path != "" && base.Path != "/" {
		return fmt.Errorf("replay: base URL %q: a replay rewrites the host only, not the path", baseURL)
	}
	if client == nil {
		client = &http.Client{Timeout: time.Minute}
	}
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	ordered := append([]Entry(nil), entries...)
	sort.SliceStable(ordered, func(i, j int) bool { return ordered[i].Seq < ordered[j].Seq })
	for _, e := range ordered {
		ans, err := send(ctx, &c, base, e)
		if err != nil {
			return fmt.Errorf("replay: seq %d (%s %s): %w", e.Seq, e.Request.Method, e.Request.Path, err)
		}
		sink(diff.Pair{
			Route:   rules.RouteOf(e.Request.Method, e.Request.Path),
			Request: e.Request,
			Legacy:  e.Response,
			Native:  ans,
			At:      time.Now(),
		})
	}
	return nil
}

func send(ctx context.Context, c *http.Client, base *url.URL, e Entry) (diff.Answer, error) {
	p, q, _ := strings.Cut(e.Request.Path, "?")
	u := &url.URL{Scheme: base.Scheme, Host: base.Host, Opaque: p, RawQuery: q}
	if strings.HasPrefix(p, "//") {
		// An opaque starting with // would read as a host: keep the raw
		// path in RawPath instead.
		u = &url.URL{Scheme: base.Scheme, Host: base.Host, Path: p, RawPath: p, RawQuery: q}
	}
	var rd io.Reader = http.NoBody
	if len(e.Request.Body) > 0 {
		rd = bytes.NewReader(e.Request.Body)
	}
	req, err := http.NewRequestWithContext(ctx, e.Request.Method, base.String(), rd)
	if err != nil {
		return diff.Answer{}, err
	}
	req.URL = u
	req.Host = base.Host
	req.ContentLength = int64(len(e.Request.Body))
	hasUA := false
	for _, kv := range e.RequestHeaders {
		if notSent[strings.ToLower(kv[0])] {
			continue
		}
		hasUA = hasUA || strings.EqualFold(kv[0], "User-Agent")
		req.Header[kv[0]] = append(req.Header[kv[0]], kv[1])
	}
	if !hasUA {
		req.Header["User-Agent"] = []string{""} // Go would add its own
	}
	resp, err := c.Do(req)
	if err != nil {
		return diff.Answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return diff.Answer{}, err
	}
	return diff.Answer{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}
