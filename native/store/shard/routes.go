package shard

import (
	"context"

	"github.com/weaveproxy/weaveproxy/native/store"
)

// The account side goes to the accounts engine; deleting a user also
// empties its storage engine first.

func (r *Router) CreateUser(ctx context.Context, u store.User) (int64, error) {
	return r.accounts.CreateUser(ctx, u)
}

func (r *Router) UserByName(ctx context.Context, username string) (store.User, error) {
	return r.accounts.UserByName(ctx, username)
}

func (r *Router) DeleteUser(ctx context.Context, userID int64) error {
	e, err := r.engine(ctx, userID)
	if err != nil {
		return err
	}
	if e != r.accounts {
		if err := e.DeleteStorage(ctx, userID); err != nil {
			return err
		}
	}
	return r.accounts.DeleteUser(ctx, userID)
}

func (r *Router) SetPasswordMD5(ctx context.Context, userID int64, md5hex string) error {
	return r.accounts.SetPasswordMD5(ctx, userID, md5hex)
}

func (r *Router) SetEmail(ctx context.Context, userID int64, email string) error {
	return r.accounts.SetEmail(ctx, userID, email)
}

func (r *Router) SetResetCode(ctx context.Context, userID int64, rc store.ResetCode) error {
	return r.accounts.SetResetCode(ctx, userID, rc)
}

func (r *Router) GetResetCode(ctx context.Context, userID int64) (store.ResetCode, error) {
	return r.accounts.GetResetCode(ctx, userID)
}

func (r *Router) ClearResetCode(ctx context.Context, userID int64) error {
	return r.accounts.ClearResetCode(ctx, userID)
}

// The storage side goes to the user's engine.

func (r *Router) CollectionTimestamps(ctx context.Context, userID int64) (map[string]store.Timestamp, error) {
	e, err := r.engine(ctx, userID)
	if err != nil {
		return nil, err
	}
	return e.CollectionTimestamps(ctx, userID)
}

func (r *Router) CollectionCounts(ctx context.Context, userID int64, now store.Timestamp) (map[string]int64, error) {
	e, err := r.engine(ctx, userID)
	if err != nil {
		return nil, err
	}
	return e.CollectionCounts(ctx, userID, now)
}

func (r *Router) CollectionUsage(ctx context.Context, userID int64, now store.Timestamp) (map[string]int64, error) {
	e, err := r.engine(ctx, userID)
	if err != nil {
		return nil, err
	}
	return e.CollectionUsage(ctx, userID, now)
}

func (r *Router) TotalSize(ctx context.Context, userID int64, now store.Timestamp) (int64, error) {
	e, err := r.engine(ctx, userID)
	if err != nil {
		return 0, err
	}
	return e.TotalSize(ctx, userID, now)
}

func (r *Router) CollectionMax(ctx context.Context, userID int64, collection string) (store.Timestamp, bool, error) {
	e, err := r.engine(ctx, userID)
	if err != nil {
		return 0, false, err
	}
	return e.CollectionMax(ctx, userID, collection)
}

func (r *Router) GetItems(ctx context.Context, userID int64, collection string, q store.Query) ([]store.WBO, error) {
	e, err := r.engine(ctx, userID)
	if err != nil {
		return nil, err
	}
	return e.GetItems(ctx, userID, collection, q)
}

func (r *Router) GetItem(ctx context.Context, userID int64, collection, id string, now store.Timestamp) (store.WBO, error) {
	e, err := r.engine(ctx, userID)
	if err != nil {
		return store.WBO{}, err
	}
	return e.GetItem(ctx, userID, collection, id, now)
}

func (r *Router) PutItems(ctx context.Context, userID int64, collection string, items []store.WBO) ([]*store.Timestamp, error) {
	e, err := r.engine(ctx, userID)
	if err != nil {
		return nil, err
	}
	return e.PutItems(ctx, userID, collection, items)
}

func (r *Router) DeleteItems(ctx context.Context, userID int64, collection string, q store.Query) (int64, error) {
	e, err := r.engine(ctx, userID)
	if err != nil {
		return 0, err
	}
	return e.DeleteItems(ctx, userID, collection, q)
}

func (r *Router) DeleteStorage(ctx context.Context, userID int64) error {
	e, err := r.engine(ctx, userID)
	if err != nil {
		return err
	}
	return e.DeleteStorage(ctx, userID)
}

// The operators' account calls (store.UserAdmin) pass to the accounts
// engine when it has them.

func (r *Router) admin() (store.UserAdmin, error) {
	a, ok := r.accounts.(store.UserAdmin)
	if !ok {
		return nil, store.ErrUnsupported
	}
	return a, nil
}

func (r *Router) SetStatus(ctx context.Context, userID int64, status int) error {
	a, err := r.admin()
	if err != nil {
		return err
	}
	return a.SetStatus(ctx, userID, status)
}

func (r *Router) SetLocation(ctx context.Context, userID int64, location string) error {
	a, err := r.admin()
	if err != nil {
		return err
	}
	return a.SetLocation(ctx, userID, location)
}

func (r *Router) SetAlert(ctx context.Context, userID int64, alert string) error {
	a, err := r.admin()
	if err != nil {
		return err
	}
	return a.SetAlert(ctx, userID, alert)
}

func (r *Router) UsersByEmail(ctx context.Context, email string) ([]store.User, error) {
	a, err := r.admin()
	if err != nil {
		return nil, err
	}
	return a.UsersByEmail(ctx, email)
}
