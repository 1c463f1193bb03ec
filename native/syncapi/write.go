package syncapi

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"weaveproxy/native/store"
	"weaveproxy/native/weave"
)

// errModified is the 412 of X-If-Unmodified-Since, with PHP's body 4 (the
// Python server sent a webob page; the Weave bodies are kept on 1.1 too).
var errModified = &weave.Error{Status: http.StatusPreconditionFailed, Code: weave.CodeInvalidWrite,
	Err: errors.New("collection modified since X-If-Unmodified-Since")}

// ifUnmodifiedSince reads X-If-Unmodified-Since; ok is false when it is
// absent or empty. A value that is not a number is a 400 code 1 (the
// Python server crashed on it with a 500).
func ifUnmodifiedSince(r *http.Request) (ts store.Timestamp, ok bool, err error) {
	v := r.Header.Get("X-If-Unmodified-Since")
	if v == "" {
		return 0, false, nil
	}
	ts, ok = weave.ParseTimestamp(v)
	if !ok {
		return 0, false, weave.BadRequest(weave.CodeIllegalMethod, "invalid X-If-Unmodified-Since %q", v)
	}
	return ts, true, nil
}

// checkUnmodified answers 412 when the collection changed after the
// client's X-If-Unmodified-Since. It runs where the Python server ran it
// (PUT: after the quota check, before the body is parsed); locked checks
// again under the user's write lock, so the answer holds at commit.
func (h *Handler) checkUnmodified(c *call) error {
	since, ok, err := ifUnmodifiedSince(c.r)
	if err != nil || !ok {
		return err
	}
	collMax, has, err := h.cfg.Engine.CollectionMax(c.r.Context(), c.user.ID, c.coll)
	if err != nil {
		return err
	}
	if has && collMax > since {
		return errModified
	}
	return nil
}

// locked runs fn under the user's write lock with the change's timestamp
// (see writers). With a collection, the collection's maximum is read
// under the lock, X-If-Unmodified-Since is checked against it and the
// timestamp is issued above it.
func (h *Handler) locked(c *call, coll string, fn func(ts store.Timestamp) error) (store.Timestamp, error) {
	ctx := c.r.Context()
	w, unlock, err := h.writers.lock(ctx, c.user.ID)
	if err != nil {
		return 0, fmt.Errorf("syncapi: waiting for user %d's write lock: %w", c.user.ID, err)
	}
	defer unlock()
	var collMax store.Timestamp
	var has bool
	if coll != "" {
		if collMax, has, err = h.cfg.Engine.CollectionMax(ctx, c.user.ID, coll); err != nil {
			return 0, err
		}
		since, ok, err := ifUnmodifiedSince(c.r)
		if err != nil {
			return 0, err
		}
		if ok && has && collMax > since {
			return 0, errModified
		}
	}
	ts := w.issue(c.now, collMax, has)
	return ts, fn(ts)
}

// readBody reads the request body, refusing one over MaxBodyBytes (the
// renderer answers http.MaxBytesError with 400 code 8).
func (h *Handler) readBody(c *call) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(c.w, c.r.Body, h.cfg.MaxBodyBytes))
	if err != nil {
		return nil, fmt.Errorf("syncapi: reading request body: %w", err)
	}
	return body, nil
}

// putItem is PUT storage/<coll>/<id>, in the Python server's order: quota,
// X-If-Unmodified-Since, body. The id of the URL wins over the body's.
func (h *Handler) putItem(c *call) error {
	q, err := h.checkQuota(c)
	if err != nil {
		return err
	}
	if err := h.checkUnmodified(c); err != nil {
		return err
	}
	body, err := h.readBody(c)
	if err != nil {
		return err
	}
	it, err := weave.ParseWBO(body, c.id)
	if err != nil {
		return err
	}
	return h.putOne(c, it, q)
}

// putOne writes one item and answers its timestamp: the write's when it
// carried a payload (equal to X-Weave-Timestamp byte for byte), else the
// row's previous modified, or null for a row created without one.
func (h *Handler) putOne(c *call, it weave.Item, q quota) error {
	var old *store.Timestamp
	ts, err := h.locked(c, c.coll, func(ts store.Timestamp) error {
		olds, err := h.cfg.Engine.PutItems(c.r.Context(), c.user.ID, c.coll, []store.WBO{it.Stored(ts)})
		if err == nil && len(olds) == 1 {
			old = olds[0]
		}
		return err
	})
	if err != nil {
		return err
	}
	c.setTimestamp(ts)
	q.warn(c.w)
	if it.WBO.Payload != nil {
		return c.reply(c.d.AppendTimestamp(nil, ts))
	}
	return c.reply(c.d.AppendModified(nil, old))
}

// postCollection is POST (or PUT) storage/<coll>: a list is a batch; a
// single object is a PUT of that item, answered with a timestamp, as in
// the Python server; anything else is 400 code 8.
func (h *Handler) postCollection(c *call) error {
	if err := h.checkUnmodified(c); err != nil {
		return err
	}
	body, err := h.readBody(c)
	if err != nil {
		return err
	}
	v, err := weave.DecodeJSON(body)
	if err != nil {
		return err
	}
	switch x := v.(type) {
	case []any:
		return h.postBatch(c, x)
	case map[string]any:
		it, msg := weave.BuildItem(x, "")
		if msg == "" && !it.HasID {
			msg = weave.MsgInvalidID
		}
		if msg != "" {
			return weave.BadRequest(weave.CodeInvalidWBO, "POSTed object: %s", msg)
		}
		q, err := h.checkQuota(c)
		if err != nil {
			return err
		}
		return h.putOne(c, it, q)
	}
	return weave.BadRequest(weave.CodeInvalidWBO, "POST body is neither a list nor an object")
}

// postBatch validates the elements, checks the quota once, and writes
// every valid item in one transaction with one timestamp.
func (h *Handler) postBatch(c *call, elems []any) error {
	kept, res := weave.SplitBatch(elems, weave.BatchLimits{
		MaxCount: h.cfg.BatchMaxCount, MaxBytes: h.cfg.BatchMaxBytes})
	q, err := h.checkQuota(c)
	if err != nil {
		return err
	}
	ts := c.now
	if len(kept) > 0 {
		if ts, err = h.writeBatch(c, kept, res); err != nil {
			return err
		}
	}
	c.setTimestamp(ts)
	q.warn(c.w)
	return c.reply(c.d.AppendBatchResult(nil, res, ts))
}

// writeBatch writes kept all or nothing. A failure of the database or of
// memcache (tabs) is not the client's fault: as in the Python server, each
// item is then reported as "db error" in an answer that is still a 200.
// A failure that is the client's (a 412, a bad collection name) fails the
// request.
func (h *Handler) writeBatch(c *call, kept []weave.Item, res *weave.BatchResult) (store.Timestamp, error) {
	ts, err := h.locked(c, c.coll, func(ts store.Timestamp) error {
		wbos := make([]store.WBO, len(kept))
		for i := range kept {
			wbos[i] = kept[i].Stored(ts)
		}
		_, err := h.cfg.Engine.PutItems(c.r.Context(), c.user.ID, c.coll, wbos)
		return err
	})
	if err != nil {
		if we := h.rd.Classify(err); we.Status < http.StatusInternalServerError {
			return 0, err
		}
		h.cfg.Logger.ErrorContext(c.r.Context(), "syncapi: batch write failed",
			"user", c.user.ID, "collection", c.coll, "items", len(kept), "err", err)
		for i := range kept {
			res.FailBare(kept[i].WBO.ID, weave.MsgDBError)
		}
		return max(ts, c.now), nil
	}
	for i := range kept {
		res.Success = append(res.Success, kept[i].WBO.ID)
	}
	return ts, nil
}
