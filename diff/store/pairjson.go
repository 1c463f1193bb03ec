package store

import (
	"encoding/base64"
	"net/http"
	"sort"
	"time"
	"unicode/utf8"

	"github.com/weaveproxy/weaveproxy/diff"
)

// storedPair is a sample's pair as kept in the database: headers as
// sorted [name, value] lists, bodies as text (or base64 when they are not
// UTF-8), each cut to MaxBodyBytes.
type storedPair struct {
	Route   string         `json:"route"`
	AtNS    int64          `json:"at_ns"`
	DryRun  bool           `json:"dry_run,omitempty"`
	Request storedExchange `json:"request"`
	Legacy  storedAnswer   `json:"legacy"`
	Native  storedAnswer   `json:"native"`
	Legacy2 *storedAnswer  `json:"legacy2,omitempty"`
}

type storedExchange struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	storedBody
}

type storedAnswer struct {
	Status int `json:"status"`
	storedBody
}

type storedBody struct {
	Header  [][2]string `json:"headers,omitempty"`
	Body    string      `json:"body,omitempty"`
	BodyB64 string      `json:"body_b64,omitempty"`
	// Size is the body's full length when it was cut.
	Size int `json:"cut_from,omitempty"`
}

func storeBody(h http.Header, b []byte, max int) storedBody {
	sb := storedBody{Header: headerList(h)}
	if len(b) > max {
		sb.Size = len(b)
		b = b[:max]
		for len(b) > 0 && !utf8.Valid(b) && len(b) > max-4 {
			b = b[:len(b)-1] // a cut through a character is not binary
		}
	}
	if utf8.Valid(b) {
		sb.Body = string(b)
	} else {
		sb.BodyB64 = base64.StdEncoding.EncodeToString(b)
	}
	return sb
}

func (sb storedBody) header() http.Header {
	h := http.Header{}
	for _, kv := range sb.Header {
		h.Add(kv[0], kv[1])
	}
	return h
}

func (sb storedBody) body() []byte {
	if sb.BodyB64 != "" {
		b, _ := base64.StdEncoding.DecodeString(sb.BodyB64)
		return b
	}
	return []byte(sb.Body)
}

func headerList(h http.Header) [][2]string {
	var out [][2]string
	for k, vs := range h {
		for _, v := range vs {
			out = append(out, [2]string{k, v})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

func storeAnswer(a diff.Answer, max int) storedAnswer {
	return storedAnswer{Status: a.Status, storedBody: storeBody(a.Header, a.Body, max)}
}

func storePair(p diff.Pair, max int) storedPair {
	sp := storedPair{
		Route: p.Route, AtNS: p.At.UnixNano(), DryRun: p.DryRun,
		Request: storedExchange{Method: p.Request.Method, Path: p.Request.Path,
			storedBody: storeBody(p.Request.Header, p.Request.Body, max)},
		Legacy: storeAnswer(p.Legacy, max),
		Native: storeAnswer(p.Native, max),
	}
	if p.Legacy2 != nil {
		l2 := storeAnswer(*p.Legacy2, max)
		sp.Legacy2 = &l2
	}
	return sp
}

func (a storedAnswer) answer() diff.Answer {
	return diff.Answer{Status: a.Status, Header: a.header(), Body: a.body()}
}

func (sp storedPair) pair() diff.Pair {
	p := diff.Pair{
		Route: sp.Route, At: time.Unix(0, sp.AtNS).UTC(), DryRun: sp.DryRun,
		Request: diff.Exchange{Method: sp.Request.Method, Path: sp.Request.Path,
			Header: sp.Request.header(), Body: sp.Request.body()},
		Legacy: sp.Legacy.answer(),
		Native: sp.Native.answer(),
	}
	if sp.Legacy2 != nil {
		l2 := sp.Legacy2.answer()
		p.Legacy2 = &l2
	}
	return p
}

// cut reports which parts of a sample were cut to MaxBodyBytes.
func (sp storedPair) cut() bool {
	c := sp.Request.Size > 0 || sp.Legacy.Size > 0 || sp.Native.Size > 0
	return c || (sp.Legacy2 != nil && sp.Legacy2.Size > 0)
}
