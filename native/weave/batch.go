package weave

import "github.com/weaveproxy/weaveproxy/native/store"

// Batch failure messages that only a POST produces.
const (
	MsgRetryWBO   = "retry wbo"   // beyond the batch's item limit
	MsgRetryBytes = "retry bytes" // beyond the batch's payload byte limit
	MsgDBError    = "db error"    // the write of the kept items failed
)

// BatchResult is the answer of a collection POST: ids written, and reasons
// per id for the others. Failed keeps the order in which ids first failed;
// a later failure of the same id replaces the reasons in place, as a
// Python dict did.
type BatchResult struct {
	Success []string
	keys    []string
	failed  map[string]failure
}

type failure struct {
	reasons []string
	bare    bool // a bare string instead of a list ("db error")
}

// Fail records the reasons id failed validation.
func (br *BatchResult) Fail(id string, reasons ...string) {
	br.set(id, failure{reasons: reasons})
}

// FailBare records a failure rendered as a bare string, the way the
// Python server reported a failed write ("db error").
func (br *BatchResult) FailBare(id, reason string) {
	br.set(id, failure{reasons: []string{reason}, bare: true})
}

func (br *BatchResult) set(id string, f failure) {
	if br.failed == nil {
		br.failed = map[string]failure{}
	}
	if _, ok := br.failed[id]; !ok {
		br.keys = append(br.keys, id)
	}
	br.failed[id] = f
}

// Failed returns the reasons recorded for id.
func (br *BatchResult) Failed(id string) ([]string, bool) {
	f, ok := br.failed[id]
	return f.reasons, ok
}

// FailedIDs lists the failed ids in order.
func (br *BatchResult) FailedIDs() []string { return br.keys }

// AppendBatchResult renders the POST answer. Legacy: no "modified", and
// "failed" is [] when empty (PHP's empty array). Python: "failed" is always
// an object and "modified" carries the batch's timestamp.
func (d Dialect) AppendBatchResult(b []byte, br *BatchResult, modified store.Timestamp) []byte {
	b = append(b, `{"success":[`...)
	for i, id := range br.Success {
		if i > 0 {
			b = append(b, ',')
		}
		b = d.AppendString(b, id)
	}
	b = append(b, `],"failed":`...)
	if len(br.keys) == 0 {
		b = d.appendEmptyMap(b)
	} else {
		b = append(b, '{')
		for i, id := range br.keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = d.AppendString(b, id)
			b = append(b, ':')
			b = d.appendFailure(b, br.failed[id])
		}
		b = append(b, '}')
	}
	if d == Python {
		b = append(b, `,"modified":`...)
		b = d.AppendTimestamp(b, modified)
	}
	return append(b, '}')
}

func (d Dialect) appendFailure(b []byte, f failure) []byte {
	if f.bare && len(f.reasons) == 1 {
		return d.AppendString(b, f.reasons[0])
	}
	b = append(b, '[')
	for i, r := range f.reasons {
		if i > 0 {
			b = append(b, ',')
		}
		b = d.AppendString(b, r)
	}
	return append(b, ']')
}

// BatchLimits bound one POST, as the Python server's batch_max_count and
// batch_max_bytes did.
type BatchLimits struct {
	MaxCount int // items at index ≥ MaxCount fail with "retry wbo"; ≤ 0: 100
	MaxBytes int // a running payload total reaching MaxBytes fails the item with "retry bytes"; ≤ 0: 1 MiB
}

// Defaults of the Python server.
const (
	DefaultBatchMaxCount = 100
	DefaultBatchMaxBytes = 1048576
)

// SplitBatch sorts the elements of a POSTed list into the items to write
// and the failures, in the Python server's order of checks: not an object
// of scalars ("invalid wbo", under the id ""), no id ("invalid id" under
// ""), validation, the item limit (the index counts invalid elements too),
// then the running payload byte total (which counts the bytes of items it
// refuses). Nothing is written here.
func SplitBatch(elems []any, lim BatchLimits) ([]Item, *BatchResult) {
	sp := newSplitter(lim, len(elems))
	for i, el := range elems {
		it, msg := BuildItem(el, "")
		sp.add(i, it, msg)
	}
	return sp.kept, sp.res
}

// splitter sorts a batch's elements one by one (see SplitBatch).
type splitter struct {
	maxCount, maxBytes int
	res                *BatchResult
	kept               []Item
	total              int
}

func newSplitter(lim BatchLimits, n int) *splitter {
	sp := &splitter{maxCount: lim.MaxCount, maxBytes: lim.MaxBytes, res: &BatchResult{}}
	if sp.maxCount <= 0 {
		sp.maxCount = DefaultBatchMaxCount
	}
	if sp.maxBytes <= 0 {
		sp.maxBytes = DefaultBatchMaxBytes
	}
	sp.kept = make([]Item, 0, min(n, sp.maxCount))
	return sp
}

// add sorts the element at index i, built into it with message msg.
func (sp *splitter) add(i int, it Item, msg string) {
	switch {
	case msg == MsgInvalidWBO:
		sp.res.Fail("", MsgInvalidWBO)
		return
	case !it.HasID:
		sp.res.Fail("", MsgInvalidID)
		return
	case msg != "":
		sp.res.Fail(it.WBO.ID, msg)
		return
	case i >= sp.maxCount:
		sp.res.Fail(it.WBO.ID, MsgRetryWBO)
		return
	}
	sp.total += int(it.WBO.PayloadSize)
	if sp.total >= sp.maxBytes {
		sp.res.Fail(it.WBO.ID, MsgRetryBytes)
		return
	}
	sp.kept = append(sp.kept, it)
}
