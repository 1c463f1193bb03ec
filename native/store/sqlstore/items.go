package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/weaveproxy/weaveproxy/native/store"
)

// idChunk is the most ids one statement carries. Both servers take far more
// placeholders (MySQL 65535, SQLite 32766); a bound keeps statements and
// their plans small. Longer lists are split, see GetItems.
const idChunk = 1000

// GetItems returns the live items of a collection matching q.
func (e *Engine) GetItems(ctx context.Context, id int64, collection string, q store.Query) ([]store.WBO, error) {
	userID, err := e.userKey(ctx, id)
	if err != nil {
		return nil, err
	}
	out := []store.WBO{}
	if idsGiven(q) && len(q.IDs) == 0 {
		return out, nil
	}
	r := e.reader()
	cid, ok, err := e.collectionID(ctx, r, userID, collection, false)
	if err != nil || !ok {
		return out, err
	}
	if len(q.IDs) <= idChunk {
		return e.getItems(ctx, r, userID, cid, q, q.IDs, out)
	}
	// Each chunk is read whole; order, offset and limit then apply to the
	// union, as they would have to one statement.
	for ids := range slices.Chunk(q.IDs, idChunk) {
		part := q
		part.Limit, part.Offset, part.Sort = 0, 0, store.SortNone
		if out, err = e.getItems(ctx, r, userID, cid, part, ids, out); err != nil {
			return nil, err
		}
	}
	store.SortItems(out, q.Sort)
	return store.Window(out, q.Limit, q.Offset), nil
}

func idsGiven(q store.Query) bool { return q.HasIDs || q.IDs != nil }

func (e *Engine) getItems(ctx context.Context, r querier, userID storageKey, cid int, q store.Query, ids []string, out []store.WBO) ([]store.WBO, error) {
	where, args := filter("w.", q, ids)
	lim, limArgs := limitArgs(q)
	query := "SELECT " + itemColumns + e.liveJoinGuarded() + " WHERE w.username = ? AND w.collection = ?" + liveCond + where + order("w.", q) + lim
	args = append(append([]any{userID, cid, userID, cid, q.Now.Seconds()}, args...), limArgs...)
	var rows *sql.Rows
	var err error
	if len(ids) <= 1 {
		// Prepared (the shape of the query, not its values, is in the text).
		rows, err = e.readQuery(ctx, r, query, args...)
	} else {
		rows, err = r.QueryContext(ctx, query, args...)
	}
	if err != nil {
		return nil, e.wrap("get items", err)
	}
	defer rows.Close()
	if q.Limit > 0 && len(ids) == 0 {
		out = slices.Grow(out, min(q.Limit, idChunk))
	}
	var cols itemCols
	dest := cols.dest()
	ir := newItemReader(q.Limit)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, e.wrap("get items", err)
		}
		w, err := ir.wbo(&cols)
		if err != nil {
			return nil, e.wrap("get items", err)
		}
		out = append(out, w)
	}
	return out, e.wrap("get items", rows.Err())
}

// GetItem returns one live item, or store.ErrNotFound.
func (e *Engine) GetItem(ctx context.Context, userID int64, collection, id string, now store.Timestamp) (store.WBO, error) {
	items, err := e.GetItems(ctx, userID, collection, store.Query{IDs: []string{id}, HasIDs: true, Now: now})
	if err != nil {
		return store.WBO{}, err
	}
	if len(items) == 0 {
		return store.WBO{}, fmt.Errorf("sqlstore: %s/%s: %w", collection, id, store.ErrNotFound)
	}
	return items[0], nil
}

// DeleteItems deletes the items matching q, ttl regardless, and returns
// how many went. With a limit, the rows to delete are chosen first (in q's
// order, after q's offset) and then deleted by id: neither backend can
// DELETE with an OFFSET.
func (e *Engine) DeleteItems(ctx context.Context, id int64, collection string, q store.Query) (int64, error) {
	if idsGiven(q) && len(q.IDs) == 0 {
		return 0, nil
	}
	if err := checkName(collection); err != nil {
		return 0, err
	}
	userID, err := e.userKey(ctx, id)
	if err != nil {
		return 0, err
	}
	var n int64
	err = e.withTx(ctx, func(tx querier) error {
		n = 0
		if err := e.serialize(ctx, tx, userID); err != nil {
			return err
		}
		cid, ok, err := e.collectionID(ctx, tx, userID, collection, false)
		if err != nil || !ok {
			return err
		}
		st, err := e.sumsBegin(ctx, tx, userID, cid)
		if err != nil {
			return err
		}
		var gone sum
		if q.Limit > 0 {
			n, gone, err = e.deleteChosen(ctx, tx, userID, cid, q)
		} else {
			n, gone, err = e.deleteMatching(ctx, tx, userID, cid, q, st)
		}
		if err != nil {
			return err
		}
		if err := e.dropOrphanTTLs(ctx, tx, userID, cid); err != nil {
			return err
		}
		// A delete cannot raise the newest modified; and it removed what
		// it counted, or a row it did not count was there.
		return e.sumsEnd(ctx, tx, userID, cid, st, sum{-gone.items, -gone.bytes}, func(after int64) bool {
			return after <= st.before && gone.items == n
		})
	})
	return n, err
}

// deleteMatching deletes the rows q selects, without a limit, and returns
// how many went and the sums it removed: counted first (locking the rows)
// where q filters, all of the collection's where it does not.
func (e *Engine) deleteMatching(ctx context.Context, tx querier, userID storageKey, cid int, q store.Query, st sumsState) (int64, sum, error) {
	var n int64
	var gone sum
	for ids := range chunks(q.IDs, idsGiven(q)) {
		where, args := filter("", q, ids)
		args = append([]any{userID, cid}, args...)
		if where != "" && st.exact {
			var v sum
			err := tx.QueryRowContext(ctx, "SELECT COUNT(*), COALESCE(SUM(payload_size), 0) FROM "+e.d.quote(e.t.wbo)+
				" WHERE username = ? AND collection = ?"+where+e.d.forUpdate, args...).Scan(&v.items, &v.bytes)
			if err != nil {
				return 0, sum{}, e.wrap("count items to delete", err)
			}
			gone = sum{gone.items + v.items, gone.bytes + v.bytes}
		}
		m, err := e.exec(ctx, tx, "delete items", "DELETE FROM "+e.d.quote(e.t.wbo)+
			" WHERE username = ? AND collection = ?"+where, args...)
		if err != nil {
			return 0, sum{}, err
		}
		n += m
		if where == "" {
			gone = st.sum
		}
	}
	return n, gone, nil
}

func (e *Engine) deleteChosen(ctx context.Context, tx querier, userID storageKey, cid int, q store.Query) (int64, sum, error) {
	split := len(q.IDs) > idChunk
	var chosen []store.WBO
	for chunk := range chunks(q.IDs, idsGiven(q)) {
		part := q
		if split {
			part.Limit, part.Offset = 0, 0
		}
		where, args := filter("", part, chunk)
		rows, err := tx.QueryContext(ctx, "SELECT id, modified, sortindex, payload_size FROM "+e.d.quote(e.t.wbo)+
			" WHERE username = ? AND collection = ?"+where+order("", part)+limit(part)+e.d.forUpdate,
			append([]any{userID, cid}, args...)...)
		if err != nil {
			return 0, sum{}, e.wrap("choose items to delete", err)
		}
		for rows.Next() {
			var w store.WBO
			var modified, sortindex, size sql.NullInt64
			if err := rows.Scan(&w.ID, &modified, &sortindex, &size); err != nil {
				rows.Close()
				return 0, sum{}, e.wrap("choose items to delete", err)
			}
			if modified.Valid {
				ts := store.Timestamp(modified.Int64)
				w.Modified = &ts
			}
			w.SortIndex, w.PayloadSize = intPtr(sortindex), size.Int64
			chosen = append(chosen, w)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return 0, sum{}, e.wrap("choose items to delete", err)
		}
	}
	if split {
		store.SortItems(chosen, q.Sort)
		chosen = store.Window(chosen, q.Limit, q.Offset)
	}
	var n int64
	for chunk := range slices.Chunk(chosen, idChunk) {
		ids := make([]any, len(chunk))
		for i, w := range chunk {
			ids[i] = w.ID
		}
		m, err := e.exec(ctx, tx, "delete items", "DELETE FROM "+e.d.quote(e.t.wbo)+
			" WHERE username = ? AND collection = ? AND id IN ("+marks(len(ids))+")",
			append([]any{userID, cid}, ids...)...)
		if err != nil {
			return 0, sum{}, err
		}
		n += m
	}
	gone := sum{items: int64(len(chosen))}
	for _, w := range chosen {
		gone.bytes += w.PayloadSize
	}
	return n, gone, nil
}

// dropOrphanTTLs removes the ttl rows of a collection whose item is gone.
func (e *Engine) dropOrphanTTLs(ctx context.Context, tx querier, userID storageKey, cid int) error {
	t, w := e.d.quote(e.t.ttl), e.d.quote(e.t.wbo)
	_, err := e.exec(ctx, tx, "delete ttl", "DELETE FROM "+t+" WHERE username = ? AND collection = ?"+
		" AND NOT EXISTS (SELECT 1 FROM "+w+" w WHERE w.username = "+t+".username"+
		" AND w.collection = "+t+".collection AND w.id = "+t+".id)", userID, cid)
	return err
}

func (e *Engine) exec(ctx context.Context, q querier, op, query string, args ...any) (int64, error) {
	res, err := q.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, e.wrap(op, err)
	}
	n, err := res.RowsAffected()
	return n, e.wrap(op, err)
}

// filter renders q's conditions other than ttl, ANDed, on columns named
// with prefix p; ids replaces q.IDs (a chunk of them).
func filter(p string, q store.Query, ids []string) (string, []any) {
	var b strings.Builder
	var args []any
	add := func(cond string, arg any) {
		b.WriteString(" AND " + p + cond)
		args = append(args, arg)
	}
	if ids != nil {
		b.WriteString(" AND " + p + "id IN (" + marks(len(ids)) + ")")
		args = append(args, anys(ids)...)
	}
	if q.ParentID != nil {
		add("parentid = ?", *q.ParentID)
	}
	if q.PredecessorID != nil {
		add("predecessorid = ?", *q.PredecessorID)
	}
	if q.Older != nil {
		add("modified < ?", int64(*q.Older))
	}
	if q.Newer != nil {
		add("modified > ?", int64(*q.Newer))
	}
	if q.IndexAbove != nil {
		add("sortindex > ?", *q.IndexAbove)
	}
	if q.IndexBelow != nil {
		add("sortindex < ?", *q.IndexBelow)
	}
	return b.String(), args
}

func order(p string, q store.Query) string {
	switch q.Sort {
	case store.SortOldest:
		return " ORDER BY " + p + "modified"
	case store.SortNewest:
		return " ORDER BY " + p + "modified DESC"
	case store.SortIndex:
		return " ORDER BY " + p + "sortindex DESC"
	}
	return ""
}

func limit(q store.Query) string {
	if q.Limit <= 0 {
		return ""
	}
	s := " LIMIT " + strconv.Itoa(q.Limit)
	if q.Offset > 0 {
		s += " OFFSET " + strconv.Itoa(q.Offset)
	}
	return s
}

// limitArgs is limit with placeholders, for a statement prepared once
// whatever the limit.
func limitArgs(q store.Query) (string, []any) {
	switch {
	case q.Limit <= 0:
		return "", nil
	case q.Offset > 0:
		return " LIMIT ? OFFSET ?", []any{int64(q.Limit), int64(q.Offset)}
	}
	return " LIMIT ?", []any{int64(q.Limit)}
}

// chunks yields ids in chunks of idChunk, or a single nil chunk (no ids
// filter) when the filter is not given.
func chunks(ids []string, given bool) func(func([]string) bool) {
	return func(yield func([]string) bool) {
		if !given {
			yield(nil)
			return
		}
		for c := range slices.Chunk(ids, idChunk) {
			if !yield(c) {
				return
			}
		}
	}
}

func marks(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func intPtr(n sql.NullInt64) *int64 {
	if !n.Valid {
		return nil
	}
	return &n.Int64
}
