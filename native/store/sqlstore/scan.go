package sqlstore

import (
	"fmt"
	"strconv"

	"github.com/weaveproxy/weaveproxy/native/store"
)

// Reading a page of items is the hot path of every collection GET: 100
// rows of eight columns. Scanning each column through sql.NullString and
// sql.NullInt64 cost about eight allocations a row (a copy per string, a
// string per number parsed, a pointer per nullable field) and
// database/sql's reflective conversions; the collector then had to scan
// it all. Here a column scans into a col without conversion or copy, a
// row's strings are copied once into one string, and the pointed-to
// values of a page live in slabs.

// col is one column of the current row as the driver gave it. Its bytes
// are the driver's and valid only until the next Next: a row is turned
// into a WBO before that.
type col struct {
	null  bool
	b     []byte // text (MySQL sends every value as text)
	n     int64  // an integer the driver gave as one (SQLite)
	isInt bool
}

// Scan implements sql.Scanner without copying.
func (c *col) Scan(src any) error {
	*c = col{}
	switch v := src.(type) {
	case nil:
		c.null = true
	case []byte:
		c.b = v
	case string:
		c.b = []byte(v) // SQLite only; MySQL gives bytes
	case int64:
		c.n, c.isInt = v, true
	default:
		return fmt.Errorf("sqlstore: unexpected column type %T", src)
	}
	return nil
}

// int is the column as an integer (a NULL is 0; see null).
func (c *col) int() (int64, error) {
	if c.isInt || c.null {
		return c.n, nil
	}
	return parseInt(c.b)
}

// parseInt reads a decimal integer, without allocating when it has up to
// 18 digits (a timestamp has 12).
func parseInt(b []byte) (int64, error) {
	neg := len(b) > 0 && b[0] == '-'
	digits := b
	if neg {
		digits = b[1:]
	}
	if len(digits) > 18 {
		n, err := strconv.ParseInt(string(b), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("sqlstore: %w", err)
		}
		return n, nil
	}
	if len(digits) == 0 {
		return 0, fmt.Errorf("sqlstore: not an integer: %q", b)
	}
	var n int64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("sqlstore: not an integer: %q", b)
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, nil
}

// itemCols are the columns of an item read, in the order of itemColumns.
type itemCols struct {
	id, parent, pred, sortindex, modified, payload, size, ttl col
}

// itemColumns selects what itemCols scans, from wbo (alias w) and the
// ttl table (alias t).
const itemColumns = "w.id, w.parentid, w.predecessorid, w.sortindex, w.modified, w.payload, w.payload_size, t.ttl"

func (r *itemCols) dest() []any {
	return []any{&r.id, &r.parent, &r.pred, &r.sortindex, &r.modified, &r.payload, &r.size, &r.ttl}
}

// itemVals holds the values a WBO's pointer fields point to.
type itemVals struct {
	modified              store.Timestamp
	sortindex, ttl        int64
	parent, pred, payload string
}

// itemReader turns scanned rows into WBOs, allocating the values of
// slabSize rows at once.
type itemReader struct {
	slab     []itemVals
	slabSize int
	text     []byte // the current row's strings, before they become one
}

func newItemReader(limit int) *itemReader {
	n := 64
	if limit > 0 && limit < n {
		n = limit
	}
	return &itemReader{slabSize: n}
}

func (ir *itemReader) wbo(r *itemCols) (store.WBO, error) {
	if len(ir.slab) == cap(ir.slab) {
		ir.slab = make([]itemVals, 0, ir.slabSize)
	}
	ir.slab = ir.slab[:len(ir.slab)+1]
	v := &ir.slab[len(ir.slab)-1]
	// One string for the row's id, parentid, predecessorid and payload.
	ir.text = append(append(append(append(ir.text[:0], r.id.b...), r.parent.b...), r.pred.b...), r.payload.b...)
	all := string(ir.text)
	cut := func(c *col) string {
		s := all[:len(c.b)]
		all = all[len(c.b):]
		return s
	}
	w := store.WBO{ID: cut(&r.id)}
	if p := cut(&r.parent); !r.parent.null {
		v.parent, w.ParentID = p, &v.parent
	}
	if p := cut(&r.pred); !r.pred.null {
		v.pred, w.PredecessorID = p, &v.pred
	}
	if !r.payload.null {
		v.payload, w.Payload = all, &v.payload
	}
	var err error
	if !r.sortindex.null {
		v.sortindex, err = r.sortindex.int()
		w.SortIndex = &v.sortindex
	}
	if !r.modified.null && err == nil {
		var m int64
		m, err = r.modified.int()
		v.modified, w.Modified = store.Timestamp(m), &v.modified
	}
	if !r.ttl.null && err == nil {
		v.ttl, err = r.ttl.int()
		w.TTL = &v.ttl
	}
	if !r.size.null && err == nil {
		w.PayloadSize, err = r.size.int()
	}
	return w, err
}
