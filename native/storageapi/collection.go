package storageapi

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"

	"github.com/weaveproxy/weaveproxy/native/store"
	"github.com/weaveproxy/weaveproxy/native/weave"
)

// getCollection lists ids, or full items with "full", in the format the
// Accept header negotiates. X-Weave-Records always carries the count.
func (h *Handler) getCollection(rq *request) error {
	cq, err := weave.ParseQuery(rq.r.URL.Query())
	if err != nil {
		return err
	}
	cq.Now = rq.ts
	items, err := h.eng.GetItems(rq.r.Context(), rq.user.ID, rq.collection, cq.Query)
	if err != nil {
		return fmt.Errorf("get %s: %w", rq.collection, err)
	}
	f := weave.NegotiateFormat(rq.r.Header.Get("Accept"))
	buf := bodies.Get().(*[]byte)
	defer putBody(buf)
	if cq.Full {
		*buf = rq.d.AppendWBOs((*buf)[:0], f, items)
	} else {
		*buf = rq.d.AppendIDs((*buf)[:0], f, items)
	}
	rq.w.Header().Set("X-Weave-Records", strconv.Itoa(len(items)))
	return rq.reply(f.ContentType(), *buf)
}

// bodies holds the buffers collection pages are rendered into: a page of
// 100 full items is some 40 KB, which each GET allocated anew (and the
// collector then scanned) before the pool.
var bodies = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledBody keeps a rare huge page from staying in the pool.
const maxPooledBody = 1 << 20

func putBody(b *[]byte) {
	if cap(*b) <= maxPooledBody {
		bodies.Put(b)
	}
}

// deleteCollection deletes the items the query selects (all of them
// without filters); expired items count as present.
func (h *Handler) deleteCollection(rq *request) error {
	cq, err := weave.ParseQuery(rq.r.URL.Query())
	if err != nil {
		return err
	}
	floor, err := h.precondition(rq)
	if err != nil {
		return err
	}
	err = h.write(rq, floor, func(s store.Storage) error {
		cq.Now = rq.ts
		_, err := s.DeleteItems(rq.r.Context(), rq.user.ID, rq.collection, cq.Query)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete %s: %w", rq.collection, err)
	}
	return rq.replyJSON(rq.d.AppendTimestamp(nil, rq.ts))
}

// postCollection writes a batch (a JSON list) or, for a single object, acts
// as a PUT of that object's id. X-If-Unmodified-Since is checked before the
// body is read.
func (h *Handler) postCollection(rq *request) error {
	floor, err := h.precondition(rq)
	if err != nil {
		return err
	}
	body, err := h.readBody(rq)
	if err != nil {
		return err
	}
	lim := weave.BatchLimits{MaxCount: h.cfg.BatchMaxCount, MaxBytes: h.cfg.BatchMaxBytes}
	if kept, res, ok := weave.ParseBatch(body, lim); ok {
		return h.storeBatch(rq, kept, res, floor)
	}
	v, err := weave.DecodeJSON(body)
	if err != nil {
		return err
	}
	switch x := v.(type) {
	case map[string]any:
		it, msg := weave.BuildItem(x, "")
		if msg == "" && !it.HasID {
			msg = weave.MsgInvalidID
		}
		if msg != "" {
			return weave.BadRequest(weave.CodeInvalidWBO, "%s", msg)
		}
		q, err := h.checkQuota(rq)
		if err != nil {
			return err
		}
		return h.storeOne(rq, it, q, floor)
	case []any:
		kept, res := weave.SplitBatch(x, lim)
		return h.storeBatch(rq, kept, res, floor)
	}
	return weave.BadRequest(weave.CodeInvalidWBO, "POST body is neither a list nor an object")
}

// storeBatch checks the quota once and writes the items validation kept
// in one transaction: all of them or none. All share the request's
// timestamp. A failed write is reported per item ("db error") in a 200,
// as the Python server did, unless the failure is the client's.
func (h *Handler) storeBatch(rq *request, kept []weave.Item, res *weave.BatchResult, floor store.Timestamp) error {
	q, err := h.checkQuota(rq)
	if err != nil {
		return err
	}
	res.Success = make([]string, 0, len(kept))
	if len(kept) > 0 {
		ws := make([]store.WBO, len(kept))
		err := h.write(rq, floor, func(s store.Storage) error {
			for i, it := range kept {
				ws[i] = it.Stored(rq.ts)
			}
			_, err := s.PutItems(rq.r.Context(), rq.user.ID, rq.collection, ws)
			return err
		})
		switch {
		case err == nil:
			for _, w := range ws {
				res.Success = append(res.Success, w.ID)
			}
		case h.render.Classify(err).Status < http.StatusInternalServerError:
			return fmt.Errorf("post %s: %w", rq.collection, err)
		default:
			h.log.ErrorContext(rq.r.Context(), "batch write failed", "collection", rq.collection,
				"user", rq.user.ID, "items", len(ws), "err", err)
			for _, w := range ws {
				res.FailBare(w.ID, weave.MsgDBError)
			}
		}
	}
	q.warn(rq)
	return rq.replyJSON(rq.d.AppendBatchResult(nil, res, rq.ts))
}

// deleteStorage wipes the user's storage, only with X-Confirm-Delete
// (any value); without it, 400 code 4.
func (h *Handler) deleteStorage(rq *request) error {
	if _, ok := rq.r.Header["X-Confirm-Delete"]; !ok {
		return weave.BadRequest(weave.CodeInvalidWrite, "DELETE storage without X-Confirm-Delete")
	}
	err := h.write(rq, 0, func(s store.Storage) error {
		return s.DeleteStorage(rq.r.Context(), rq.user.ID)
	})
	if err != nil {
		return fmt.Errorf("delete storage of user %d: %w", rq.user.ID, err)
	}
	return rq.replyJSON(rq.d.AppendTimestamp(nil, rq.ts))
}
