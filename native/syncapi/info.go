package syncapi

import "strconv"

// infoCollections answers each collection's last modified. Expired items
// count, as in the spec: the time is a change marker, not a content view.
func (h *Handler) infoCollections(c *call) error {
	m, err := h.cfg.Engine.CollectionTimestamps(c.r.Context(), c.user.ID)
	if err != nil {
		return err
	}
	c.w.Header().Set("X-Weave-Records", strconv.Itoa(len(m)))
	return c.reply(c.d.AppendTimestampMap(nil, m))
}

func (h *Handler) infoCounts(c *call) error {
	m, err := h.cfg.Engine.CollectionCounts(c.r.Context(), c.user.ID, c.now)
	if err != nil {
		return err
	}
	c.w.Header().Set("X-Weave-Records", strconv.Itoa(len(m)))
	return c.reply(c.d.AppendCountMap(nil, m))
}

// infoQuota answers [used KB, quota KB or null].
func (h *Handler) infoQuota(c *call) error {
	used, err := h.cfg.Engine.TotalSize(c.r.Context(), c.user.ID, c.now)
	if err != nil {
		return err
	}
	return c.reply(c.d.AppendQuota(nil, used, h.cfg.QuotaKB))
}

// infoUsage answers each collection's live payload KB. The Python server
// sent no X-Weave-Records here.
func (h *Handler) infoUsage(c *call) error {
	m, err := h.cfg.Engine.CollectionUsage(c.r.Context(), c.user.ID, c.now)
	if err != nil {
		return err
	}
	return c.reply(c.d.AppendUsageMap(nil, m))
}
