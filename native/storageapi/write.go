package storageapi

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/weaveproxy/weaveproxy/native/cef"
	"github.com/weaveproxy/weaveproxy/native/store"
	"github.com/weaveproxy/weaveproxy/native/weave"
)

// quotaWarnKB: below this many KB left, writes carry X-Weave-Quota-Remaining.
const quotaWarnKB = 1024

// quota is the state of the user's quota before a write.
type quota struct {
	on     bool
	leftKB float64
}

// checkQuota refuses a write when the user has no space left (400 code
// 14), as the Python server did before PUT and before writing a batch.
// Usage counts payload bytes of live items.
func (h *Handler) checkQuota(rq *request) (quota, error) {
	if !h.cfg.Quota {
		return quota{}, nil
	}
	used, err := h.eng.TotalSize(rq.r.Context(), rq.user.ID, rq.ts)
	if err != nil {
		return quota{}, fmt.Errorf("quota of user %d: %w", rq.user.ID, err)
	}
	q := quota{on: true, leftKB: h.cfg.QuotaKB - float64(used)/1024}
	if q.leftKB <= 0 {
		h.events.Emit(rq.r, cef.Event{Signature: "OverQuota", Name: "User over quota", Severity: 5,
			Username:   rq.user.Username,
			Extensions: [][2]string{{"cn1Label", "usedBytes"}, {"cn1", strconv.FormatInt(used, 10)}}})
		return q, weave.BadRequest(weave.CodeOverQuota, "user %d over quota: %d bytes", rq.user.ID, used)
	}
	return q, nil
}

// warn adds X-Weave-Quota-Remaining, in KB as measured before the write.
func (q quota) warn(rq *request) {
	if q.on && q.leftKB <= quotaWarnKB {
		rq.w.Header().Set("X-Weave-Quota-Remaining", rq.d.FormatHeaderFloat(q.leftKB))
	}
}

// precondition enforces X-If-Unmodified-Since on the collection (412 code 4
// when something in it is newer) and returns the collection's newest
// modified (0 when it has none), the floor of the write's timestamp. A
// header that is not a number is a 400 code 1.
func (h *Handler) precondition(rq *request) (store.Timestamp, error) {
	since, given := rq.r.Header["X-If-Unmodified-Since"]
	var limit store.Timestamp
	if given {
		var ok bool
		if limit, ok = weave.ParseTimestamp(since[0]); !ok {
			return 0, weave.BadRequest(weave.CodeIllegalMethod, "invalid X-If-Unmodified-Since %q", since[0])
		}
	}
	maxTS, exists, err := h.eng.CollectionMax(rq.r.Context(), rq.user.ID, rq.collection)
	switch {
	case err == nil:
	case !given && errors.Is(err, store.ErrUnavailable):
		// Without the header the maximum only raises the write's
		// timestamp. A collection that cannot tell it (tabs kept in
		// memcache alone, memcache down) still gets its write attempted,
		// as the Python server did, and the write reports the failure:
		// a PUT 503, a batch's items "db error".
		exists = false
	default:
		return 0, fmt.Errorf("max timestamp of %s: %w", rq.collection, err)
	}
	if given && exists && maxTS > limit {
		return 0, &weave.Error{Status: http.StatusPreconditionFailed, Code: weave.CodeInvalidWrite,
			Err: fmt.Errorf("%s modified at %d, after %d", rq.collection, maxTS, limit)}
	}
	if !exists {
		maxTS = 0
	}
	return maxTS, nil
}

// write runs fn, the request's writes, with the write's timestamp in
// rq.ts: the request's time, raised above floor (the collection's newest
// modified) and above every earlier write of the user, so that no two
// writes of a user share a timestamp, a write never sorts before what it
// replaces, and timestamps increase in commit order (a client syncing
// with newer= never skips a write that commits late). An engine that is a
// store.Sequencer keeps that order in the database, for every instance on
// it; fn then runs inside its transaction and may run twice. Any other
// engine gets this handler's memory of stamps and a per-user lock around
// the write, which hold within this process only.
func (h *Handler) write(rq *request, floor store.Timestamp, fn func(s store.Storage) error) error {
	if sq, ok := h.eng.(store.Sequencer); ok {
		at := max(rq.ts, floor+1)
		err := sq.Sequenced(rq.r.Context(), rq.user.ID, at, func(ts store.Timestamp, tx store.Engine) error {
			rq.ts = ts
			return fn(tx)
		})
		if !errors.Is(err, store.ErrNotSequenced) {
			return err
		}
	}
	defer h.writers.lock(rq.user.ID)()
	rq.ts = h.issued.reserve(rq.user.ID, rq.ts, floor)
	return fn(h.eng)
}

// readBody reads the request body within the configured cap, into a
// buffer the size the request announces (up to presizeMax), not grown
// from 512 bytes by doubling: a POST of 100 WBOs (35 KB) otherwise
// allocated 69 KB and copied it seven times.
func (h *Handler) readBody(rq *request) ([]byte, error) {
	body := rq.r.Body
	if body == nil {
		return nil, nil
	}
	if h.cfg.MaxBodyBytes > 0 {
		body = http.MaxBytesReader(rq.w, body, h.cfg.MaxBodyBytes)
	}
	size := rq.r.ContentLength
	if size < 0 || size > presizeMax {
		size = 0 // unknown, or not to be trusted with memory: grow as read
	}
	if h.cfg.MaxBodyBytes > 0 {
		size = min(size, h.cfg.MaxBodyBytes)
	}
	b := make([]byte, 0, size+1) // +1: room to see the end without growing
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := body.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading body: %w", err)
		}
	}
}

// presizeMax bounds the buffer a request's Content-Length makes readBody
// allocate before a byte has arrived.
const presizeMax = 2 << 20
