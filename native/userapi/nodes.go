package userapi

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/weaveproxy/weaveproxy/native/auth"
	"github.com/weaveproxy/weaveproxy/native/store"
)

// NodeAssigner gives a user without a node one, once (sqlstore.Engine:
// least loaded node with room, atomically); store.ErrNoRoom when all are
// full. NodeOf only reads.
type NodeAssigner interface {
	AssignNode(ctx context.Context, userID int64) (string, error)
	NodeOf(ctx context.Context, userID int64) (string, error)
}

// Nodes is node assignment for node/weave.
type Nodes struct {
	Assigner NodeAssigner
	// URLs maps a node (the host users.location holds) to the URL
	// node/weave answers; a node not listed answers https://HOST/.
	URLs map[string]string
}

// URL is what node/weave answers for a user on node.
func (n *Nodes) URL(node string) string {
	if n != nil {
		if u, ok := n.URLs[strings.ToLower(node)]; ok {
			return u
		}
	}
	return "https://" + node + "/"
}

// ReadOnly is n for a dry run: it answers nodes already given and
// assigns none.
func (n *Nodes) ReadOnly() *Nodes {
	if n == nil || n.Assigner == nil {
		return n
	}
	c := *n
	c.Assigner = peekNodes{n.Assigner}
	return &c
}

type peekNodes struct{ NodeAssigner }

func (p peekNodes) AssignNode(ctx context.Context, userID int64) (string, error) {
	node, err := p.NodeOf(ctx, userID)
	if errors.Is(err, store.ErrNotFound) {
		return "", store.ErrNoRoom
	}
	return node, err
}

// node answers the storage node of an existing user: the node it has
// (users.location, the directory's node attribute), else one assigned
// now, else the fallback NodeURL, else PHP's 404 "No location".
func (h *Handler) node(w http.ResponseWriter, r *http.Request, req request) {
	u, err := h.cfg.Users.UserByName(r.Context(), req.name)
	if errors.Is(err, store.ErrNotFound) {
		h.fail(w, r, msgErr(http.StatusNotFound, "No location", err))
		return
	} else if err != nil {
		h.fail(w, r, backend("node", err))
		return
	}
	if u.Status != 1 {
		h.fail(w, r, auth.ErrDisabled)
		return
	}
	if u.Location == "" && h.cfg.Nodes != nil && h.cfg.Nodes.Assigner != nil {
		if u.Location, err = h.assign(r, u); err != nil {
			h.fail(w, r, backend("assign node", err))
			return
		}
	}
	switch {
	case u.Location != "":
		text(w, h.cfg.Nodes.URL(u.Location))
	case h.cfg.NodeURL != nil && h.cfg.NodeURL(r) != "":
		text(w, h.cfg.NodeURL(r))
	default:
		h.fail(w, r, msgErr(http.StatusNotFound, "No location", errors.New("no node for the user")))
	}
}

// assign gives u a node and records it on the account where the backend
// can (users.location, the directory's node attribute); the assigner's
// own table is the record where it cannot. "" when every node is full.
func (h *Handler) assign(r *http.Request, u store.User) (string, error) {
	node, err := h.cfg.Nodes.Assigner.AssignNode(r.Context(), u.ID)
	if errors.Is(err, store.ErrNoRoom) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if a, ok := h.cfg.Users.(store.UserAdmin); ok {
		if err := a.SetLocation(r.Context(), u.ID, node); err != nil && !errors.Is(err, store.ErrUnsupported) {
			return "", err
		}
	}
	return node, nil
}
