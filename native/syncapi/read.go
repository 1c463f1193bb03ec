package syncapi

import (
	"strconv"

	"weaveproxy/native/store"
	"weaveproxy/native/weave"
)

// getCollection answers the ids, or with full the items, matching the
// query, in the format the Accept header negotiates. X-Weave-Records is
// always sent, 0 included, as the Python server did.
func (h *Handler) getCollection(c *call) error {
	q, err := weave.ParseQuery(c.r.URL.Query())
	if err != nil {
		return err
	}
	q.Now = c.now
	items, err := h.cfg.Engine.GetItems(c.r.Context(), c.user.ID, c.coll, q.Query)
	if err != nil {
		return err
	}
	f := weave.NegotiateFormat(c.r.Header.Get("Accept"))
	hd := c.w.Header()
	hd.Set("Content-Type", f.ContentType())
	hd.Set("X-Weave-Records", strconv.Itoa(len(items)))
	var body []byte
	if q.Full {
		body = c.d.AppendWBOs(make([]byte, 0, bodySize(items)), f, items)
	} else {
		body = c.d.AppendIDs(make([]byte, 0, 24*len(items)+2), f, items)
	}
	return c.reply(body)
}

// bodySize guesses the rendered size of full items so the answer is built
// without regrowing: payloads are mostly ASCII (base64 ciphertext in JSON).
func bodySize(items []store.WBO) int {
	n := 2
	for i := range items {
		n += 96 + len(items[i].ID)
		if p := items[i].Payload; p != nil {
			n += len(*p) + len(*p)/8
		}
	}
	return n
}

// getItem answers one live item, always as JSON; a missing or expired one
// is 404 "record not found".
func (h *Handler) getItem(c *call) error {
	w, err := h.cfg.Engine.GetItem(c.r.Context(), c.user.ID, c.coll, c.id, c.now)
	if err != nil {
		return err
	}
	return c.reply(c.d.AppendWBO(nil, &w))
}
