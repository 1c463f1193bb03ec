package syncapi

import (
	"net/http"

	"weaveproxy/native/cef"
	"weaveproxy/native/weave"
)

// quotaWarnKB is the space left below which a write's answer carries
// X-Weave-Quota-Remaining.
const quotaWarnKB = 1024

// errOverQuota is the Python server's answer to a write by a full account.
var errOverQuota = weave.BadRequest(weave.CodeOverQuota, "over quota")

// quota is the state of a user's quota before a write.
type quota struct {
	on   bool
	left float64 // KB
}

// checkQuota refuses a write when the user's live payloads already fill
// the quota, as the Python server did: the write that crosses the line
// is still accepted, the next one is refused.
func (h *Handler) checkQuota(c *call) (quota, error) {
	if h.cfg.QuotaKB <= 0 {
		return quota{}, nil
	}
	used, err := h.cfg.Engine.TotalSize(c.r.Context(), c.user.ID, c.now)
	if err != nil {
		return quota{}, err
	}
	left := float64(h.cfg.QuotaKB) - float64(used)/1024
	if left <= 0 {
		h.cfg.Events.Emit(c.r, cef.OverQuota(c.user.Username, used/1024, int64(h.cfg.QuotaKB)))
		return quota{}, errOverQuota
	}
	return quota{on: true, left: left}, nil
}

// warn sets X-Weave-Quota-Remaining on a successful write: the KB left
// before it, as Python's str(float), in both dialects (the legacy server
// had no quota, so there is no PHP form to copy).
func (q quota) warn(w http.ResponseWriter) {
	if q.on && q.left <= quotaWarnKB {
		w.Header().Set("X-Weave-Quota-Remaining", weave.Python.FormatHeaderFloat(q.left))
	}
}
