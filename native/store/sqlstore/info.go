package sqlstore

import (
	"context"
	"database/sql"

	"github.com/weaveproxy/weaveproxy/native/store"
)

// liveJoin joins each wbo row (alias w) to its ttl row (alias t), if that
// row was written with the same modified: a later write by the legacy
// server, which knows nothing of ttl, changes modified and so voids it.
func (e *Engine) liveJoin() string {
	return " FROM " + e.d.quote(e.t.wbo) + " w LEFT JOIN " + e.d.quote(e.t.ttl) +
		" t ON t.username = w.username AND t.collection = w.collection AND t.id = w.id" +
		" AND t.modified " + e.d.nullSafeEq + " w.modified"
}

// liveJoinGuarded is liveJoin for one collection of one user (the first
// two parameters), which looks for ttl rows only when that collection has
// any: most never do (the legacy server and 1.0 clients know no ttl), yet
// the plain join probed the ttl table's index once per row read, some
// 10 % of MariaDB's CPU for a page of 100 items. The probe is
// uncorrelated, so MariaDB runs it once, while it plans the statement,
// and with no ttl row finds the ON condition impossible (EXPLAIN:
// "Impossible ON condition"); with rows, the join is as before. One
// statement, so the probe and the read see the same rows.
func (e *Engine) liveJoinGuarded() string {
	t := e.d.quote(e.t.ttl)
	return " FROM " + e.d.quote(e.t.wbo) + " w LEFT JOIN " + t +
		" t ON EXISTS (SELECT 1 FROM " + t + " x WHERE x.username = ? AND x.collection = ?)" +
		" AND t.username = w.username AND t.collection = w.collection AND t.id = w.id" +
		" AND t.modified " + e.d.nullSafeEq + " w.modified"
}

// liveCond keeps the rows whose ttl has not passed; its parameter is the
// current time in whole seconds.
const liveCond = " AND (t.ttl IS NULL OR t.ttl > ?)"

// CollectionTimestamps maps each collection with rows to its highest
// modified; ttl does not matter here.
func (e *Engine) CollectionTimestamps(ctx context.Context, id int64) (map[string]store.Timestamp, error) {
	userID, err := e.userKey(ctx, id)
	if err != nil {
		return nil, err
	}
	// Grouping by username too, though it is fixed, lets MySQL answer from
	// the (username, collection, modified) index with one probe per
	// collection ("index for group-by") instead of reading every row.
	query := "SELECT collection, MAX(modified) FROM " + e.d.quote(e.t.wbo) +
		" WHERE username = ? GROUP BY username, collection"
	m, err := e.perCollection(ctx, "collection timestamps", query, userID)
	if err != nil {
		return nil, err
	}
	out := make(map[string]store.Timestamp, len(m))
	for name, vs := range m {
		out[name] = store.Timestamp(maxOf(vs))
	}
	return out, nil
}

// CollectionCounts maps each collection to its number of live items.
func (e *Engine) CollectionCounts(ctx context.Context, id int64, now store.Timestamp) (map[string]int64, error) {
	userID, err := e.userKey(ctx, id)
	if err != nil {
		return nil, err
	}
	return e.namedSums(ctx, userID, now, func(v sum) int64 { return v.items })
}

// CollectionUsage maps each collection to the payload bytes of its live
// items.
func (e *Engine) CollectionUsage(ctx context.Context, id int64, now store.Timestamp) (map[string]int64, error) {
	userID, err := e.userKey(ctx, id)
	if err != nil {
		return nil, err
	}
	return e.namedSums(ctx, userID, now, func(v sum) int64 { return v.bytes })
}

// TotalSize is the payload bytes of all the user's live items. It runs
// before every write when quotas are on: it reads the kept sums (see
// sums.go), not the rows.
func (e *Engine) TotalSize(ctx context.Context, id int64, now store.Timestamp) (int64, error) {
	userID, err := e.userKey(ctx, id)
	if err != nil {
		return 0, err
	}
	sums, err := e.liveSums(ctx, userID, now.Seconds())
	if err != nil {
		return 0, err
	}
	var total int64
	for _, v := range sums {
		total += v.bytes
	}
	return total, nil
}

// namedSums keys one figure of each collection's live sums by collection
// name. A name can have several ids (the legacy collections table has no
// unique index); ids without a name are dropped, as the legacy server
// does.
func (e *Engine) namedSums(ctx context.Context, userID storageKey, now store.Timestamp, pick func(sum) int64) (map[string]int64, error) {
	sums, err := e.liveSums(ctx, userID, now.Seconds())
	if err != nil {
		return nil, err
	}
	ids := make([]int, 0, len(sums))
	for cid := range sums {
		ids = append(ids, cid)
	}
	names, err := e.collectionNames(ctx, e.reader(), userID, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string]int64, len(sums))
	for cid, v := range sums {
		if name, ok := names[cid]; ok {
			out[name] += pick(v)
		}
	}
	return out, nil
}

// CollectionMax is the highest modified of a collection, ttl regardless.
func (e *Engine) CollectionMax(ctx context.Context, id int64, collection string) (store.Timestamp, bool, error) {
	userID, err := e.userKey(ctx, id)
	if err != nil {
		return 0, false, err
	}
	q := e.reader()
	cid, ok, err := e.collectionID(ctx, q, userID, collection, false)
	if err != nil || !ok {
		return 0, false, err
	}
	var m sql.NullInt64
	err = q.QueryRowContext(ctx, "SELECT MAX(modified) FROM "+e.d.quote(e.t.wbo)+
		" WHERE username = ? AND collection = ?", userID, cid).Scan(&m)
	if err != nil {
		return 0, false, e.wrap("collection max", err)
	}
	return store.Timestamp(m.Int64), m.Valid, nil
}

// DeleteStorage removes every item, ttl row and custom collection name of
// the user.
func (e *Engine) DeleteStorage(ctx context.Context, id int64) error {
	userID, err := e.userKey(ctx, id)
	if err != nil {
		return err
	}
	return e.withTx(ctx, func(tx querier) error {
		return e.deleteStorage(ctx, tx, userID)
	})
}

func (e *Engine) deleteStorage(ctx context.Context, tx querier, userID storageKey) error {
	for _, stmt := range []string{
		"DELETE FROM " + e.d.quote(e.t.wbo) + " WHERE username = ?",
		"DELETE FROM " + e.d.quote(e.t.ttl) + " WHERE username = ?",
		"DELETE FROM " + e.d.quote(e.t.sums) + " WHERE username = ?",
		"DELETE FROM " + e.d.quote(e.t.collections) + " WHERE userid = ?",
	} {
		if _, err := tx.ExecContext(ctx, stmt, userID); err != nil {
			return e.wrap("delete storage", err)
		}
	}
	return nil
}

// perCollection runs a query giving (collection id, value) rows and keys
// the values by collection name. A name can come with several values: the
// legacy collections table has no unique index, so one name may have two
// ids. Ids without a name are dropped. The query's first parameter is
// userID, args follow.
func (e *Engine) perCollection(ctx context.Context, op, query string, userID storageKey, args ...any) (map[string][]int64, error) {
	q := e.reader()
	rows, err := q.QueryContext(ctx, query, append([]any{userID}, args...)...)
	if err != nil {
		return nil, e.wrap(op, err)
	}
	var ids []int
	var vals []int64
	for rows.Next() {
		var id int
		var v sql.NullInt64 // MAX of only NULLs
		if err := rows.Scan(&id, &v); err != nil {
			rows.Close()
			return nil, e.wrap(op, err)
		}
		ids, vals = append(ids, id), append(vals, v.Int64)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, e.wrap(op, err)
	}
	names, err := e.collectionNames(ctx, q, userID, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]int64, len(ids))
	for i, id := range ids {
		if name, ok := names[id]; ok {
			out[name] = append(out[name], vals[i])
		}
	}
	return out, nil
}

func maxOf(vs []int64) int64 {
	m := vs[0]
	for _, v := range vs[1:] {
		m = max(m, v)
	}
	return m
}
