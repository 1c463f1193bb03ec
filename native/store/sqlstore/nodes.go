package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/weaveproxy/weaveproxy/native/store"
)

// ErrNoRoom: every configured node is full (or none is configured).
var ErrNoRoom = store.ErrNoRoom

// SetNodeCapacities makes the nodes table hold exactly caps (node host →
// capacity): new nodes start empty, known ones keep their count, and
// nodes no longer configured stop taking users (capacity 0) but keep
// theirs. Run at start, by every instance: the same config gives the same
// table.
func (e *Engine) SetNodeCapacities(ctx context.Context, caps map[string]int) error {
	return e.withTx(ctx, func(q querier) error {
		if _, err := e.exec(ctx, q, "nodes", "UPDATE "+e.d.quote(e.t.nodes)+" SET capacity = 0"); err != nil {
			return err
		}
		x := e.d.excluded
		for node, c := range caps {
			if _, err := e.exec(ctx, q, "nodes", "INSERT INTO "+e.d.quote(e.t.nodes)+" (node, capacity, assigned) VALUES (?, ?, 0)"+
				e.d.upsert("node")+"capacity = "+x("capacity"), node, c); err != nil {
				return err
			}
		}
		return nil
	})
}

// NodeOf is the node assigned to userID; store.ErrNotFound when none is.
func (e *Engine) NodeOf(ctx context.Context, userID int64) (string, error) {
	return e.nodeOf(ctx, e.reader(), userID)
}

func (e *Engine) nodeOf(ctx context.Context, q querier, userID int64) (string, error) {
	var node string
	err := q.QueryRowContext(ctx, "SELECT node FROM "+e.d.quote(e.t.nodeUsers)+" WHERE userid = ?", userID).Scan(&node)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("sqlstore: user %d has no node: %w", userID, store.ErrNotFound)
	}
	return node, e.wrap("node of user", err)
}

// errRaced: another request assigned this user a node first.
var errRaced = errors.New("sqlstore: node assigned concurrently")

// AssignNode gives userID a node, once: the node it already has, or the
// least loaded (assigned/capacity) node with room, whose count goes up in
// the same transaction. Concurrent first calls for one user agree: the
// user's row in NodesTable_users is the arbiter, and a loser reads the
// winner's node. ErrNoRoom when every node is full.
func (e *Engine) AssignNode(ctx context.Context, userID int64) (string, error) {
	if node, err := e.NodeOf(ctx, userID); !errors.Is(err, store.ErrNotFound) {
		return node, err
	}
	var node string
	err := e.withTx(ctx, func(q querier) error {
		err := q.QueryRowContext(ctx, "SELECT node FROM "+e.d.quote(e.t.nodes)+
			" WHERE assigned < capacity ORDER BY (assigned * 1000000) / capacity, node LIMIT 1"+e.d.forUpdate).Scan(&node)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNoRoom
		}
		if err != nil {
			return e.wrap("assign node", err)
		}
		_, err = q.ExecContext(ctx, "INSERT INTO "+e.d.quote(e.t.nodeUsers)+" (userid, node) VALUES (?, ?)", userID, node)
		if e.d.duplicate(err) {
			return errRaced
		}
		if err != nil {
			return e.wrap("assign node", err)
		}
		_, err = e.exec(ctx, q, "assign node", "UPDATE "+e.d.quote(e.t.nodes)+" SET assigned = assigned + 1 WHERE node = ?", node)
		return err
	})
	if errors.Is(err, errRaced) {
		return e.NodeOf(ctx, userID)
	}
	return node, err
}

// ReleaseNode forgets userID's node and frees its place (the account is
// gone). No node is no error.
func (e *Engine) ReleaseNode(ctx context.Context, userID int64) error {
	return e.withTx(ctx, func(q querier) error { return e.releaseNode(ctx, q, userID) })
}

func (e *Engine) releaseNode(ctx context.Context, q querier, userID int64) error {
	node, err := e.nodeOf(ctx, q, userID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := e.exec(ctx, q, "release node", "DELETE FROM "+e.d.quote(e.t.nodeUsers)+" WHERE userid = ?", userID); err != nil {
		return err
	}
	_, err = e.exec(ctx, q, "release node", "UPDATE "+e.d.quote(e.t.nodes)+
		" SET assigned = assigned - 1 WHERE node = ? AND assigned > 0", node)
	return err
}
