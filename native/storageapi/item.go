package storageapi

import (
	"fmt"

	"github.com/weaveproxy/weaveproxy/native/store"
	"github.com/weaveproxy/weaveproxy/native/weave"
)

// getItem answers one live item as JSON (no Accept negotiation), or 404
// "record not found" for a missing or expired one.
func (h *Handler) getItem(rq *request) error {
	w, err := h.eng.GetItem(rq.r.Context(), rq.user.ID, rq.collection, rq.id, rq.ts)
	if err != nil {
		return fmt.Errorf("get %s/%s: %w", rq.collection, rq.id, err)
	}
	return rq.replyJSON(rq.d.AppendWBO(nil, &w))
}

// putItem stores one item, in the Python server's order: quota, then
// X-If-Unmodified-Since, then the body. The URL id wins over the body's.
func (h *Handler) putItem(rq *request) error {
	q, err := h.checkQuota(rq)
	if err != nil {
		return err
	}
	floor, err := h.precondition(rq)
	if err != nil {
		return err
	}
	body, err := h.readBody(rq)
	if err != nil {
		return err
	}
	it, err := weave.ParseWBO(body, rq.id)
	if err != nil {
		return err
	}
	return h.storeOne(rq, it, q, floor)
}

// storeOne writes a single item and answers its timestamp: the server
// time when a payload was written, else the row's previous modified (null
// for a row created without one), as the Python server did.
func (h *Handler) storeOne(rq *request, it weave.Item, q quota, floor store.Timestamp) error {
	var w store.WBO
	var olds []*store.Timestamp
	err := h.write(rq, floor, func(s store.Storage) error {
		w = it.Stored(rq.ts)
		var err error
		olds, err = s.PutItems(rq.r.Context(), rq.user.ID, rq.collection, []store.WBO{w})
		return err
	})
	if err != nil {
		return fmt.Errorf("put %s/%s: %w", rq.collection, w.ID, err)
	}
	answer := w.Modified
	if answer == nil && len(olds) == 1 {
		answer = olds[0]
	}
	q.warn(rq)
	return rq.replyJSON(rq.d.AppendModified(nil, answer))
}

// deleteItem deletes one item; a missing item is no error.
func (h *Handler) deleteItem(rq *request) error {
	floor, err := h.precondition(rq)
	if err != nil {
		return err
	}
	err = h.write(rq, floor, func(s store.Storage) error {
		q := store.Query{IDs: []string{rq.id}, HasIDs: true, Now: rq.ts}
		_, err := s.DeleteItems(rq.r.Context(), rq.user.ID, rq.collection, q)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete %s/%s: %w", rq.collection, rq.id, err)
	}
	return rq.replyJSON(rq.d.AppendTimestamp(nil, rq.ts))
}
