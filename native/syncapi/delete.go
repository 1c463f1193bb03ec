package syncapi

import (
	"weaveproxy/native/store"
	"weaveproxy/native/weave"
)

// errNoConfirm is the Python server's answer to DELETE storage without
// X-Confirm-Delete.
var errNoConfirm = weave.BadRequest(weave.CodeInvalidWrite, "DELETE storage without X-Confirm-Delete")

// deleteCollection deletes the items matching the query (all of them
// without filters; ttl is ignored) and answers the time of the delete.
func (h *Handler) deleteCollection(c *call) error {
	q, err := weave.ParseQuery(c.r.URL.Query())
	if err != nil {
		return err
	}
	q.Now = c.now
	return h.deleteWith(c, c.coll, func() error {
		_, err := h.cfg.Engine.DeleteItems(c.r.Context(), c.user.ID, c.coll, q.Query)
		return err
	})
}

// deleteItem deletes one item; a missing one is still a 200.
func (h *Handler) deleteItem(c *call) error {
	q := store.Query{IDs: []string{c.id}, HasIDs: true, Now: c.now}
	return h.deleteWith(c, c.coll, func() error {
		_, err := h.cfg.Engine.DeleteItems(c.r.Context(), c.user.ID, c.coll, q)
		return err
	})
}

// deleteStorage wipes the account's storage when X-Confirm-Delete is
// present (any value). X-If-Unmodified-Since does not apply, as in the
// Python server.
func (h *Handler) deleteStorage(c *call) error {
	if _, ok := c.r.Header["X-Confirm-Delete"]; !ok {
		return errNoConfirm
	}
	return h.deleteWith(c, "", func() error {
		return h.cfg.Engine.DeleteStorage(c.r.Context(), c.user.ID)
	})
}

// deleteWith runs a delete under the user's write lock and answers its
// timestamp, issued like a write's so that every change of one user has a
// strictly later time than the one before.
func (h *Handler) deleteWith(c *call, coll string, fn func() error) error {
	ts, err := h.locked(c, coll, func(store.Timestamp) error { return fn() })
	if err != nil {
		return err
	}
	c.setTimestamp(ts)
	return c.replyTimestamp(ts)
}
