package shadow

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"time"

	"github.com/weaveproxy/weaveproxy/diff"
	"github.com/weaveproxy/weaveproxy/internal/capture"
)

// captured is a request as the client sent it, detached from the
// client's connection: the worker replays it after the client has gone.
type captured struct {
	method string
	target string // raw request target, as on the request line
	header http.Header
	body   []byte
	// proto is a template for replays: URL, headers and TLS state of the
	// client's request, with no body and no context of its own.
	proto *http.Request
}

func detach(r *http.Request, body []byte) *captured {
	target := r.RequestURI
	if target == "" {
		target = r.URL.RequestURI()
	}
	proto := r.Clone(context.Background())
	proto.Body, proto.GetBody = nil, nil
	return &captured{method: r.Method, target: target, header: r.Header.Clone(), body: body, proto: proto}
}

// request builds a fresh request for one replay (native, dry run, or a
// second legacy read): every handler gets its own body reader and header
// map, since handlers may consume or change them.
func (c *captured) request(ctx context.Context) *http.Request {
	r := c.proto.Clone(ctx)
	r.ContentLength = int64(len(c.body))
	r.Body = http.NoBody
	if len(c.body) > 0 {
		r.Body = io.NopCloser(bytes.NewReader(c.body))
	}
	return r
}

func (c *captured) size() int64 {
	n := int64(len(c.body) + len(c.target))
	for k, vs := range c.header {
		for _, v := range vs {
			n += int64(len(k) + len(v))
		}
	}
	return n
}

func (c *captured) exchange() diff.Exchange {
	return diff.Exchange{Method: c.method, Path: c.target, Header: c.header, Body: c.body}
}

// answer is one side's response, kept in memory.
type answer struct {
	status    int
	header    http.Header
	body      []byte
	truncated bool // only the start of the body was kept
	err       error
	took      time.Duration
}

// answerOf keeps a captured answer (legacy's through a capture.Tee, or
// native's from capture.Record).
func answerOf(c *capture.Response) *answer {
	return &answer{status: c.Status, header: c.Header, body: c.Body,
		truncated: c.Truncated, err: c.Err, took: c.Duration}
}

func (a *answer) diff() diff.Answer {
	return diff.Answer{Status: a.status, Header: a.header, Body: a.body}
}

func (a *answer) size() int64 {
	n := int64(len(a.body))
	for k, vs := range a.header {
		for _, v := range vs {
			n += int64(len(k) + len(v))
		}
	}
	return n
}

// run serves r with h into memory. A panic is recorded, not propagated
// (http.ErrAbortHandler included): the client has (or will get) legacy's
// answer whatever native does, and workers have no client at all.
func run(h http.Handler, r *http.Request, limit int64) *answer {
	return answerOf(capture.Record(h, r, limit))
}
