package storageapi

import (
	"fmt"
	"strconv"
)

// infoCollections maps each collection with rows to its newest modified.
func (h *Handler) infoCollections(rq *request) error {
	m, err := h.eng.CollectionTimestamps(rq.r.Context(), rq.user.ID)
	if err != nil {
		return fmt.Errorf("info/collections: %w", err)
	}
	rq.w.Header().Set("X-Weave-Records", strconv.Itoa(len(m)))
	return rq.replyJSON(rq.d.AppendTimestampMap(nil, m))
}

// infoCounts maps each collection to its number of live items.
func (h *Handler) infoCounts(rq *request) error {
	m, err := h.eng.CollectionCounts(rq.r.Context(), rq.user.ID, rq.ts)
	if err != nil {
		return fmt.Errorf("info/collection_counts: %w", err)
	}
	rq.w.Header().Set("X-Weave-Records", strconv.Itoa(len(m)))
	return rq.replyJSON(rq.d.AppendCountMap(nil, m))
}

// infoQuota answers [used KB, quota KB or null].
func (h *Handler) infoQuota(rq *request) error {
	used, err := h.eng.TotalSize(rq.r.Context(), rq.user.ID, rq.ts)
	if err != nil {
		return fmt.Errorf("info/quota: %w", err)
	}
	return rq.replyJSON(rq.d.AppendQuota(nil, used, h.cfg.QuotaKB, h.cfg.Quota))
}

// infoUsage maps each collection to the KB of its live payloads.
func (h *Handler) infoUsage(rq *request) error {
	m, err := h.eng.CollectionUsage(rq.r.Context(), rq.user.ID, rq.ts)
	if err != nil {
		return fmt.Errorf("info/collection_usage: %w", err)
	}
	return rq.replyJSON(rq.d.AppendUsageMap(nil, m))
}
