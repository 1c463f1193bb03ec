package sqlstore

import (
	"context"
	"database/sql"
	"slices"
	"strings"

	"github.com/weaveproxy/weaveproxy/native/store"
)

// putChunk is how many rows one INSERT carries (9 parameters each).
const putChunk = 200

// PutItems writes items in one transaction, all or nothing. A nil field
// keeps the stored value of an existing row and is NULL in a new one;
// payload_size follows the payload. An id given twice is written twice, in
// order, so the last write wins field by field. The result holds, per
// item written without a Modified, the modified its row had before this
// call (nil for a new row); for items with a Modified it is nil on MySQL,
// which then reads no row before writing (see PutItems' body).
func (e *Engine) PutItems(ctx context.Context, id int64, collection string, items []store.WBO) ([]*store.Timestamp, error) {
	if err := checkName(collection); err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return []*store.Timestamp{}, nil
	}
	userID, err := e.userKey(ctx, id)
	if err != nil {
		return nil, err
	}
	// Rows are written in key order, the order a locking read takes them
	// in: a concurrent PHP write of the same rows, if it too goes in key
	// order (clients send ids sorted), then waits instead of deadlocking.
	// The sort is stable, so a repeated id keeps its writes' order.
	sorted := slices.Clone(items)
	slices.SortStableFunc(sorted, func(a, b store.WBO) int { return strings.Compare(a.ID, b.ID) })
	counted := e.canCount(items)
	var olds []*store.Timestamp
	err = e.withTx(ctx, func(tx querier) error {
		if err := e.serialize(ctx, tx, userID); err != nil {
			return err
		}
		cid, err := e.createCollectionID(ctx, tx, userID, collection)
		if err != nil {
			return err
		}
		st, err := e.sumsBegin(ctx, tx, userID, cid)
		if err != nil {
			return err
		}
		olds = make([]*store.Timestamp, len(items))
		var prev map[string]sql.NullInt64
		var sizes map[string]int64
		if !counted {
			if prev, sizes, err = e.lockModified(ctx, tx, userID, cid, items); err != nil {
				return err
			}
			fillOlds(olds, items, prev)
		}
		for chunk := range slices.Chunk(sorted, putChunk) {
			if err := e.upsert(ctx, tx, userID, cid, chunk, counted); err != nil {
				return err
			}
		}
		if err := e.writeTTLs(ctx, tx, userID, cid, items, prev, st.hasTTL); err != nil {
			return err
		}
		high := max(st.before, newestModified(items))
		if counted {
			return e.countedSumsEnd(ctx, tx, userID, cid, st, written(items), high)
		}
		return e.sumsEnd(ctx, tx, userID, cid, st, putDelta(items, sizes), func(after int64) bool {
			return after == high
		})
	})
	if err != nil {
		return nil, err
	}
	return olds, nil
}

// canCount says whether writing items can be a counted upsert: then the
// upsert itself tells how many rows it updated and how many payload bytes
// it replaced, which is all the sums need, so no row is read first (one
// round trip and a hundred row reads less on a POST of 100). That needs
// every item's final modified known without reading (the ttl rows are
// keyed by it) and no old modified asked for (PutItems reports it for
// items without one).
//
// The read it saves locked the rows before writing them; the upsert locks
// them as it goes, so a concurrent writer of the same rows still waits
// until this transaction ends. Another native write waits earlier, on
// the user's stamps row. A PHP write (PHP takes no stamps row) either
// committed before the upsert reached its rows, and the upsert counts
// what PHP wrote as what it replaces, exactly as the read would have seen
// it, or it waits on the upsert's row locks until the commit. What PHP
// changes in other rows of the collection is what the MAX(modified) check
// of the sums is for, as before.
func (e *Engine) canCount(items []store.WBO) bool {
	return e.d.countedUpsert && !slices.ContainsFunc(items, func(w store.WBO) bool { return w.Modified == nil })
}

// fillOlds sets each item's old modified from prev, the rows' modified
// before the write.
func fillOlds(olds []*store.Timestamp, items []store.WBO, prev map[string]sql.NullInt64) {
	for i, it := range items {
		if p := prev[it.ID]; p.Valid {
			ts := store.Timestamp(p.Int64)
			olds[i] = &ts
		}
	}
}

// written is the rows and payload bytes items write, new or not.
func written(items []store.WBO) sum {
	w := sum{items: int64(len(items))}
	for _, it := range items {
		if it.Payload != nil {
			w.bytes += int64(len(*it.Payload))
		}
	}
	return w
}

// newestModified is the newest modified items write (0 for none).
func newestModified(items []store.WBO) int64 {
	var newest int64
	for _, it := range items {
		if it.Modified != nil {
			newest = max(newest, int64(*it.Modified))
		}
	}
	return newest
}

// putDelta is what writing items changes in the collection's sums, given
// the payload sizes of the rows that existed (keyed by id).
func putDelta(items []store.WBO, sizes map[string]int64) (d sum) {
	final := make(map[string]int64, len(items))
	for _, it := range items {
		size, seen := final[it.ID]
		if !seen {
			old, existed := sizes[it.ID]
			if !existed {
				d.items++
			}
			size = old
		}
		if it.Payload != nil {
			size = int64(len(*it.Payload))
		}
		final[it.ID] = size
	}
	for id, size := range final {
		d.bytes += size - sizes[id]
	}
	return d
}

// serialize makes the transaction wait for every other native write of
// the user, as a sequenced one does (see Sequenced): the sums a write
// keeps are computed from what it read before writing. Inside a
// Sequenced view the stamps row is already locked.
func (e *Engine) serialize(ctx context.Context, tx querier, userID storageKey) error {
	if e.tx != nil {
		return nil
	}
	_, err := e.d.nextStamp(ctx, tx, e.d.quote(e.t.stamps), userID, 0)
	return e.wrap("serialize", err)
}

// lockModified reads (and on MySQL locks) the existing rows among items'
// ids: their modified (NULL-able) and payload sizes, keyed by id. An
// absent key is a new row. Locking the rows makes a concurrent writer of
// the same ids wait until this transaction ends.
func (e *Engine) lockModified(ctx context.Context, tx querier, userID storageKey, cid int, items []store.WBO) (map[string]sql.NullInt64, map[string]int64, error) {
	ids := make([]string, 0, len(items))
	for _, it := range items {
		ids = append(ids, it.ID)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	prev := make(map[string]sql.NullInt64, len(ids))
	sizes := make(map[string]int64, len(ids))
	for chunk := range slices.Chunk(ids, idChunk) {
		rows, err := tx.QueryContext(ctx, "SELECT id, modified, payload_size FROM "+e.d.quote(e.t.wbo)+
			" WHERE username = ? AND collection = ? AND id IN ("+marks(len(chunk))+")"+e.d.forUpdate,
			append([]any{userID, cid}, anys(chunk)...)...)
		if err != nil {
			return nil, nil, e.wrap("put items: read existing", err)
		}
		for rows.Next() {
			var id string
			var m, size sql.NullInt64
			if err := rows.Scan(&id, &m, &size); err != nil {
				rows.Close()
				return nil, nil, e.wrap("put items: read existing", err)
			}
			prev[id], sizes[id] = m, size.Int64
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, nil, e.wrap("put items: read existing", err)
		}
	}
	return prev, sizes, nil
}

// upsert inserts or partially updates rows. Since nil means "keep" and a
// write can never set a column to NULL, COALESCE(new, old) is exactly the
// partial update. Rows of one statement apply in order, so a repeated id
// sees the earlier write. counted (MySQL) adds, in the session variables
// sumsBegin zeroed, one to @wbo_updated for every row updated rather than
// inserted, and the old payload_size of every updated row whose payload
// is replaced to @wbo_replaced: the update list is evaluated once per
// updated row and, like CASE and AND, left to right. Each branch gives
// the right value even if the counters were NULL (countedSumsEnd then
// marks the sums for counting again).
func (e *Engine) upsert(ctx context.Context, tx querier, userID storageKey, cid int, items []store.WBO, counted bool) error {
	args := make([]any, 0, 9*len(items))
	for _, it := range items {
		var size int64
		if it.Payload != nil {
			size = int64(len(*it.Payload))
		}
		args = append(args, userID, cid, it.ID, nullable(it.ParentID), nullable(it.PredecessorID),
			nullable(it.SortIndex), nullableTS(it.Modified), nullable(it.Payload), size)
	}
	_, err := e.execUpsert(ctx, tx, e.upsertQuery(len(items), counted), args...)
	return e.wrap("put items", err)
}

// upsertQuery is the text of upsert for rows rows.
func (e *Engine) upsertQuery(rows int, counted bool) string {
	x := e.d.excluded
	var b strings.Builder
	b.WriteString("INSERT INTO " + e.d.quote(e.t.wbo) +
		" (username, collection, id, parentid, predecessorid, sortindex, modified, payload, payload_size) VALUES ")
	b.WriteString(strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, ?), ", rows), ", "))
	b.WriteString(e.d.upsert("username", "collection", "id"))
	// payload_size first: MySQL evaluates assignments left to right, and
	// it must look at the incoming payload, not the updated one.
	keep := x("payload") + " IS NULL THEN payload_size"
	if counted {
		b.WriteString("payload_size = CASE WHEN (@wbo_updated := @wbo_updated + 1) IS NOT NULL AND " + keep +
			" WHEN " + keep +
			" WHEN (@wbo_replaced := @wbo_replaced + COALESCE(payload_size, 0)) IS NOT NULL THEN " + x("payload_size") +
			" ELSE " + x("payload_size") + " END")
	} else {
		b.WriteString("payload_size = CASE WHEN " + keep + " ELSE " + x("payload_size") + " END")
	}
	for _, col := range []string{"parentid", "predecessorid", "sortindex", "modified", "payload"} {
		b.WriteString(", " + col + " = COALESCE(" + x(col) + ", " + col + ")")
	}
	return b.String()
}

// preparedRows are the row counts whose upserts run as prepared
// statements: a full batch, the Mozilla profile's batches of 10, a PUT,
// and a full chunk. Sent as text, the 35 KB statement of a POST of 100 is
// escaped by the driver and parsed by MariaDB each time; prepared, its
// values travel in binary: MariaDB CPU per upsert of 100 rows 8.50-8.80
// -> 7.64-7.68 ms (BenchmarkPutCost/turns-prepared). Other counts stay
// text, so that a client's odd sizes never fill the server's prepared
// statements (two shapes, counted or not, per count here).
var preparedRows = map[int]bool{1: true, 10: true, 100: true, putChunk: true}

// prepareUpserts prepares the upserts of preparedRows (Init does, before
// any transaction: see stmtCache.loaded); one the server refuses stays
// text.
func (e *Engine) prepareUpserts(ctx context.Context) {
	if !e.d.prepareWrites {
		return
	}
	for rows := range preparedRows {
		for _, counted := range []bool{false, e.d.countedUpsert} {
			e.wstmts.stmt(ctx, e.upsertQuery(rows, counted))
		}
	}
}

// execUpsert runs an upsert in tx, prepared when Init
// prepared its text (database/sql then prepares it once more on each
// pooled connection it runs on, on that connection). A prepare the server
// refuses there (its prepared statements at their cap, a handle it
// dropped) runs the statement as text, which is safe: the failed one
// never ran. Other errors, a lost deadlock among them, are the caller's:
// InnoDB has rolled back the transaction by then, and running the
// statement again would run it outside of one.
func (e *Engine) execUpsert(ctx context.Context, tx querier, query string, args ...any) (sql.Result, error) {
	t, isTx := tx.(*sql.Tx)
	st := e.wstmts.loaded(query)
	if !isTx || st == nil {
		return tx.ExecContext(ctx, query, args...)
	}
	res, err := t.StmtContext(ctx, st).ExecContext(ctx, args...)
	switch mysqlErrno(err) {
	case 1461, 1243: // max_prepared_stmt_count reached, unknown statement handler
		return tx.ExecContext(ctx, query, args...)
	}
	return res, err
}

// writeTTLs records each item's ttl beside its row, keyed by the modified
// the row now has. A write without ttl makes the item permanent: its ttl
// row goes; hasTTL false says the collection has none to go (sumsBegin).
// prev holds the rows' modified before the write; it may lack the ids
// whose items all carry a Modified.
func (e *Engine) writeTTLs(ctx context.Context, tx querier, userID storageKey, cid int, items []store.WBO, prev map[string]sql.NullInt64, hasTTL bool) error {
	if !hasTTL && !slices.ContainsFunc(items, func(w store.WBO) bool { return w.TTL != nil }) {
		return nil // no ttl row to clear, none to set: most POSTs
	}
	type final struct {
		modified sql.NullInt64
		ttl      *int64
	}
	state := make(map[string]*final, len(items))
	var order []string
	for _, it := range items {
		f := state[it.ID]
		if f == nil {
			f = &final{modified: prev[it.ID]}
			state[it.ID] = f
			order = append(order, it.ID)
		}
		if it.Modified != nil {
			f.modified = sql.NullInt64{Int64: int64(*it.Modified), Valid: true}
		}
		f.ttl = it.TTL
	}
	t := e.d.quote(e.t.ttl)
	for chunk := range slices.Chunk(order, idChunk) {
		if !hasTTL {
			break
		}
		if _, err := e.exec(ctx, tx, "put items: clear ttl", "DELETE FROM "+t+
			" WHERE username = ? AND collection = ? AND id IN ("+marks(len(chunk))+")",
			append([]any{userID, cid}, anys(chunk)...)...); err != nil {
			return err
		}
	}
	var rows []any
	for _, id := range order {
		if f := state[id]; f.ttl != nil {
			rows = append(rows, userID, cid, id, f.modified, *f.ttl)
		}
	}
	for chunk := range slices.Chunk(rows, 5*putChunk) {
		_, err := e.exec(ctx, tx, "put items: set ttl", "INSERT INTO "+t+
			" (username, collection, id, modified, ttl) VALUES "+
			strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?), ", len(chunk)/5), ", "), chunk...)
		if err != nil {
			return err
		}
	}
	return nil
}

func nullable[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

func nullableTS(p *store.Timestamp) any {
	if p == nil {
		return nil
	}
	return int64(*p)
}
