package overlay

import (
	"context"
	"maps"

	"github.com/weaveproxy/weaveproxy/native/store"
)

// StampReader is what an overlay needs from its base to sequence writes
// as the base engine would: the last timestamp a sequenced write of the
// user got (false: none yet). sqlstore's snapshot views read it without a
// lock.
type StampReader interface {
	LastStamp(ctx context.Context, userID int64) (store.Timestamp, bool, error)
}

// Sequenced gives fn the timestamp a store.Sequencer on the base would
// give the write, at raised to one above the user's last one, without
// writing it anywhere but the overlay, and undoes fn's writes when fn
// fails. Over a base that cannot tell the last timestamp it answers
// store.ErrNotSequenced.
func (o *Engine) Sequenced(ctx context.Context, userID int64, at store.Timestamp, fn func(store.Timestamp, store.Engine) error) error {
	last, ok, err := o.lastStamp(ctx, userID)
	if err != nil {
		return err
	}
	ts := at
	if ok {
		ts = max(at, last+1)
	}
	saved := o.save()
	if err := fn(ts, o); err != nil {
		o.restore(saved)
		return err
	}
	o.mu.Lock()
	o.stamps[userID] = ts
	o.mu.Unlock()
	return nil
}

func (o *Engine) lastStamp(ctx context.Context, userID int64) (store.Timestamp, bool, error) {
	o.mu.Lock()
	last, ok := o.stamps[userID]
	o.mu.Unlock()
	if ok {
		return last, true, nil
	}
	b, isReader := o.base.(StampReader)
	if !isReader {
		return 0, false, store.ErrNotSequenced
	}
	return b.LastStamp(ctx, userID)
}

// LastStamp implements StampReader, for overlays of overlays.
func (o *Engine) LastStamp(ctx context.Context, userID int64) (store.Timestamp, bool, error) {
	return o.lastStamp(ctx, userID)
}

// state is a copy of everything the overlay holds, for undoing a failed
// sequenced write.
type state struct {
	users  map[int64]*store.User
	names  map[string]int64
	nextID int64
	resets map[int64]*store.ResetCode
	data   map[int64]*userData
}

func (o *Engine) save() state {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := state{users: maps.Clone(o.users), names: maps.Clone(o.names), nextID: o.nextID,
		resets: maps.Clone(o.resets), data: make(map[int64]*userData, len(o.data))}
	for id, u := range o.data {
		c := &userData{wiped: u.wiped, colls: make(map[string]*coll, len(u.colls))}
		for name, cl := range u.colls {
			cc := &coll{cleared: cl.cleared, rows: make(map[string]*row, len(cl.rows))}
			for rid, r := range cl.rows {
				rr := *r
				cc.rows[rid] = &rr
			}
			c.colls[name] = cc
		}
		s.data[id] = c
	}
	return s
}

func (o *Engine) restore(s state) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.users, o.names, o.nextID, o.resets, o.data = s.users, s.names, s.nextID, s.resets, s.data
}
