package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/weaveproxy/weaveproxy/native/store/overlay"
)

// Per-collection sums: info/collection_counts, info/collection_usage,
// info/quota and every write's quota check used to count and sum the
// user's rows, a cost that grows with the collection (5 s at a million
// rows). Our table <wbo>_sums keeps, per (user, collection), the number of
// rows and payload bytes, stamped with high: the collection's
// MAX(modified) (0 for none) when the sums were exact.
//
// The legacy PHP server writes the same rows and maintains nothing, so a
// sums row is only believed while high equals the collection's MAX
// (modified) now, a probe the (username, collection, modified) index
// answers in one dive per collection. PHP stamps what it writes with its
// current time, which moves the MAX past high: the sums are then counted
// again from the rows (one covering scan of the user's size_index) and
// stored. Writes of this engine keep the row exact in their own
// transaction and move high with the MAX. What the probe cannot see is
// written down in docs/performance.md: a legacy DELETE of rows other than
// the newest, and a legacy write stamped at or below a native write's
// timestamp that commits after it.

// sum is one collection's rows and payload bytes, ttl regardless.
type sum struct{ items, bytes int64 }

// sumsState is what a write found before changing a collection.
type sumsState struct {
	exact  bool  // the row held the collection's sums (or it had no rows)
	before int64 // COALESCE(MAX(modified), 0) before the write
	sum          // the sums before the write, when exact
	// hasTTL: some item of the collection has a ttl row. Only writes of
	// this engine add ttl rows (PHP knows nothing of them), each holding
	// the user's stamps row (Sequenced, serialize) that the reading
	// transaction holds too, so none can appear before it ends.
	hasTTL bool
}

// sumsBegin reads the collection's sums row, MAX(modified) and whether it
// has ttl rows inside a write's transaction, before the write changes
// anything: one round trip. On MySQL it also zeroes the counters a
// counted upsert adds to (see countedUpsert), on the transaction's own
// connection.
func (e *Engine) sumsBegin(ctx context.Context, tx querier, userID storageKey, cid int) (sumsState, error) {
	w, s, t := e.d.quote(e.t.wbo), e.d.quote(e.t.sums), e.d.quote(e.t.ttl)
	var items, bytes, high, mx, some, ttl, zero sql.NullInt64
	dest := []any{&items, &bytes, &high, &mx, &some, &ttl}
	if e.d.resetCounters != "" {
		dest = append(dest, &zero, &zero)
	}
	err := tx.QueryRowContext(ctx, "SELECT"+
		" (SELECT items FROM "+s+" WHERE username = ? AND collection = ?),"+
		" (SELECT bytes FROM "+s+" WHERE username = ? AND collection = ?),"+
		" (SELECT high FROM "+s+" WHERE username = ? AND collection = ?),"+
		" (SELECT MAX(modified) FROM "+w+" WHERE username = ? AND collection = ?),"+
		" (SELECT 1 FROM "+w+" WHERE username = ? AND collection = ? LIMIT 1),"+
		" (SELECT 1 FROM "+t+" WHERE username = ? AND collection = ? LIMIT 1)"+e.d.resetCounters,
		userID, cid, userID, cid, userID, cid, userID, cid, userID, cid, userID, cid).Scan(dest...)
	if err != nil {
		return sumsState{}, e.wrap("read sums", err)
	}
	if !some.Valid { // no rows: the sums are zero, whatever the row says
		return sumsState{exact: true, hasTTL: ttl.Valid}, nil
	}
	return sumsState{exact: high.Valid && high.Int64 == mx.Int64, before: mx.Int64,
		sum: sum{items.Int64, bytes.Int64}, hasTTL: ttl.Valid}, nil
}

// sumsEnd stores the sums after a write that changed them by d, if they
// were exact before and the collection's MAX(modified) is now what this
// write alone makes it (ok says so): anything else means a write this
// engine did not see, and the row is marked for counting again.
func (e *Engine) sumsEnd(ctx context.Context, tx querier, userID storageKey, cid int, st sumsState, d sum, ok func(after int64) bool) error {
	var after sql.NullInt64
	if st.exact {
		err := tx.QueryRowContext(ctx, "SELECT MAX(modified) FROM "+e.d.quote(e.t.wbo)+
			" WHERE username = ? AND collection = ?", userID, cid).Scan(&after)
		if err != nil {
			return e.wrap("read sums", err)
		}
	}
	if !st.exact || !ok(after.Int64) {
		return e.voidSums(ctx, tx, userID, cid)
	}
	return e.storeSums(ctx, tx, userID, cid, sum{st.items + d.items, st.bytes + d.bytes}, after.Int64)
}

func (e *Engine) voidSums(ctx context.Context, tx querier, userID storageKey, cid int) error {
	_, err := e.exec(ctx, tx, "void sums", "UPDATE "+e.d.quote(e.t.sums)+
		" SET high = -1 WHERE username = ? AND collection = ?", userID, cid)
	return err
}

// countedSumsEnd is sumsEnd after a counted upsert (MySQL), in one
// statement: written are the rows and payload bytes the upsert wrote, of
// which the counters say how many rows it updated (the others are new)
// and how many bytes it replaced; high is the MAX(modified) the write
// alone makes. A MAX that differs, like counters that were not set,
// stores the row marked for counting again. The MAX is read without a
// lock (READ COMMITTED: INSERT … SELECT reads the source consistently).
func (e *Engine) countedSumsEnd(ctx context.Context, tx querier, userID storageKey, cid int, st sumsState, written sum, high int64) error {
	if !st.exact {
		return e.voidSums(ctx, tx, userID, cid)
	}
	_, err := e.exec(ctx, tx, "store sums", "INSERT INTO "+e.d.quote(e.t.sums)+
		" (username, collection, items, bytes, high)"+
		" SELECT ?, ?, ? - @wbo_updated, ? - @wbo_replaced, IF(COALESCE(MAX(modified), 0) = ?"+
		" AND @wbo_updated IS NOT NULL AND @wbo_replaced IS NOT NULL, ?, -1) FROM "+e.d.quote(e.t.wbo)+
		" WHERE username = ? AND collection = ? ON DUPLICATE KEY UPDATE"+
		" items = VALUES(items), bytes = VALUES(bytes), high = VALUES(high)",
		userID, cid, st.items+written.items, st.bytes+written.bytes, high, high, userID, cid)
	return err
}

func (e *Engine) storeSums(ctx context.Context, q querier, userID storageKey, cid int, v sum, high int64) error {
	x := e.d.excluded
	_, err := e.exec(ctx, q, "store sums", "INSERT INTO "+e.d.quote(e.t.sums)+
		" (username, collection, items, bytes, high) VALUES (?, ?, ?, ?, ?)"+e.d.upsert("username", "collection")+
		"items = "+x("items")+", bytes = "+x("bytes")+", high = "+x("high"), userID, cid, v.items, v.bytes, high)
	return err
}

// liveSums maps each collection id with live items to its live sums at
// now: the stored sums where they are exact, counted again where not,
// minus the rows whose ttl has passed. One statement reads the MAX
// (modified) per collection, the stored sums and the expired rows, so all
// three come from one snapshot and one round trip.
func (e *Engine) liveSums(ctx context.Context, userID storageKey, now int64) (map[int]sum, error) {
	q := e.reader()
	w := e.d.quote(e.t.wbo)
	// Grouping by username too lets MySQL take one index dive per
	// collection (see CollectionTimestamps); without the hint a table
	// without fresh statistics is read through its clustered key.
	rows, err := q.QueryContext(ctx,
		"SELECT 0, collection, COALESCE(MAX(modified), 0), 0, 0 FROM "+w+e.d.notPrimary+
			" WHERE username = ? GROUP BY username, collection"+
			" UNION ALL SELECT 1, collection, high, items, bytes FROM "+e.d.quote(e.t.sums)+" WHERE username = ?"+
			" UNION ALL SELECT 2, w.collection, 0, COUNT(*), COALESCE(SUM(w.payload_size), 0) FROM "+
			e.d.quote(e.t.ttl)+" t JOIN "+w+" w ON w.username = t.username AND w.collection = t.collection"+
			" AND w.id = t.id AND t.modified "+e.d.nullSafeEq+" w.modified"+
			" WHERE t.username = ? AND t.ttl <= ? GROUP BY w.collection",
		userID, userID, userID, now)
	if err != nil {
		return nil, e.wrap("read sums", err)
	}
	type kept struct {
		high int64
		sum
	}
	highs := map[int]int64{}
	stored := map[int]kept{}
	expired := map[int]sum{}
	for rows.Next() {
		var kind, cid int
		var high int64
		var v sum
		if err := rows.Scan(&kind, &cid, &high, &v.items, &v.bytes); err != nil {
			rows.Close()
			return nil, e.wrap("read sums", err)
		}
		switch kind {
		case 0:
			highs[cid] = high
		case 1:
			stored[cid] = kept{high, v}
		case 2:
			expired[cid] = v
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, e.wrap("read sums", err)
	}
	out := make(map[int]sum, len(highs))
	for cid, high := range highs {
		if s, ok := stored[cid]; ok && s.high == high {
			out[cid] = s.sum
		}
	}
	if len(out) < len(highs) {
		if err := e.recount(ctx, q, userID, highs, out); err != nil {
			return nil, err
		}
	}
	for cid, v := range out {
		x := expired[cid]
		if v.items-x.items <= 0 {
			delete(out, cid)
			continue
		}
		out[cid] = sum{v.items - x.items, v.bytes - x.bytes}
	}
	return out, nil
}

// recount counts the user's rows per collection from the size_index alone
// (MariaDB would read every payload from the clustered key: see
// TotalSize), fills out for the collections it lacks and stores their sums
// stamped with the MAX read before the count. A snapshot view only reads.
func (e *Engine) recount(ctx context.Context, q querier, userID storageKey, highs map[int]int64, out map[int]sum) error {
	rows, err := q.QueryContext(ctx, "SELECT collection, COUNT(*), COALESCE(SUM(payload_size), 0) FROM "+
		e.d.quote(e.t.wbo)+e.d.notPrimary+" WHERE username = ? GROUP BY collection", userID)
	if err != nil {
		return e.wrap("count sums", err)
	}
	counted := map[int]sum{}
	for rows.Next() {
		var cid int
		var v sum
		if err := rows.Scan(&cid, &v.items, &v.bytes); err != nil {
			rows.Close()
			return e.wrap("count sums", err)
		}
		counted[cid] = v
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return e.wrap("count sums", err)
	}
	w, err := e.writer()
	if errors.Is(err, overlay.ErrReadOnly) {
		w = nil
	} else if err != nil {
		return err
	}
	for cid, high := range highs {
		if _, ok := out[cid]; ok {
			continue
		}
		v, ok := counted[cid]
		if !ok {
			continue // emptied between the two reads
		}
		out[cid] = v
		if w != nil {
			if err := e.storeSums(ctx, w, userID, cid, v, high); err != nil {
				return err
			}
		}
	}
	return nil
}
