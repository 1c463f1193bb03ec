package cache

import (
	"context"
	"fmt"

	"github.com/weaveproxy/weaveproxy/native/store"
)

// The operators' account calls pass through, like the rest of the
// account side.

func (e *Engine) admin() (store.UserAdmin, error) {
	a, ok := e.inner.(store.UserAdmin)
	if !ok {
		return nil, fmt.Errorf("cache: %s engine: %w", e.inner.Name(), store.ErrUnsupported)
	}
	return a, nil
}

func (e *Engine) SetStatus(ctx context.Context, userID int64, status int) error {
	a, err := e.admin()
	if err != nil {
		return err
	}
	return a.SetStatus(ctx, userID, status)
}

func (e *Engine) SetLocation(ctx context.Context, userID int64, location string) error {
	a, err := e.admin()
	if err != nil {
		return err
	}
	return a.SetLocation(ctx, userID, location)
}

func (e *Engine) SetAlert(ctx context.Context, userID int64, alert string) error {
	a, err := e.admin()
	if err != nil {
		return err
	}
	return a.SetAlert(ctx, userID, alert)
}

func (e *Engine) UsersByEmail(ctx context.Context, email string) ([]store.User, error) {
	a, err := e.admin()
	if err != nil {
		return nil, err
	}
	return a.UsersByEmail(ctx, email)
}
