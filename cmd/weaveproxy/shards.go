package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/weaveproxy/weaveproxy/native/store"
	"github.com/weaveproxy/weaveproxy/native/store/shard"
	"github.com/weaveproxy/weaveproxy/native/store/sqlstore"
)

// shardFlags spread storage over several engines in one process.
type shardFlags struct {
	wboShards int
	nodeDBs   string
}

func addShardFlags(fs *flag.FlagSet, f *shardFlags) {
	fs.IntVar(&f.wboShards, "wbo-shards", 0, "spread storage over tables wbo0 … wboN-1 of --db by user id modulo N (the Python server's sharding); 0: one wbo table")
	fs.StringVar(&f.nodeDBs, "node-db", "", "one storage database per node, NODE=DSN;NODE=DSN...: a user's storage lives in the database of their node (users.location), others in --db")
}

// userLocator finds a user's node by storage id: the node assignment
// table first, then the account itself (users.location, a directory's
// node attribute) where the accounts backend can look an id up.
type userLocator struct {
	base  *sqlstore.Engine
	users store.Users // set once the accounts backend is built
}

func (l *userLocator) locate(ctx context.Context, id int64) (string, error) {
	node, err := l.base.NodeOf(ctx, id)
	if err == nil || !errors.Is(err, store.ErrNotFound) {
		return node, err
	}
	byID, ok := l.users.(interface {
		UserByID(context.Context, int64) (store.User, error)
	})
	if !ok {
		return "", nil
	}
	u, err := byID.UserByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	return u.Location, err
}

// buildShards returns the storage engine over base: base itself, or a
// shard.Router over the wbo tables or node databases the flags name. loc
// must get its users before the first request.
func buildShards(ctx context.Context, f *shardFlags, key string, base *sqlstore.Engine, loc *userLocator, log *slog.Logger) (store.Engine, error) {
	switch {
	case f.wboShards < 0:
		return nil, fmt.Errorf("--wbo-shards: %d is negative", f.wboShards)
	case f.wboShards > 0 && f.nodeDBs != "":
		return nil, fmt.Errorf("--wbo-shards and --node-db do not combine")
	case f.wboShards > 0:
		engines := make([]store.Engine, f.wboShards)
		for i := range engines {
			e, err := base.WithTables(sqlstore.Config{WBOTable: fmt.Sprintf("wbo%d", i)})
			if err == nil {
				err = e.Init(ctx)
			}
			if err != nil {
				return nil, fmt.Errorf("--wbo-shards: wbo%d: %w", i, err)
			}
			engines[i] = e
		}
		return shard.New(base, engines, shard.Modulo(f.wboShards))
	case f.nodeDBs != "":
		engines := []store.Engine{}
		byNode := map[string]int{}
		for _, item := range strings.Split(f.nodeDBs, ";") {
			node, dsn, ok := strings.Cut(strings.TrimSpace(item), "=")
			node = strings.ToLower(strings.TrimSpace(node))
			if !ok || node == "" || dsn == "" {
				return nil, fmt.Errorf("--node-db: want NODE=DSN, got %q", item)
			}
			if _, dup := byNode[node]; dup {
				return nil, fmt.Errorf("--node-db: %s twice", node)
			}
			e, err := openEngine(ctx, dsn, key, log)
			if err != nil {
				closeAll(engines)
				return nil, fmt.Errorf("--node-db %s: %w", node, err)
			}
			e.NamesFrom(base) // the accounts are in --db
			byNode[node] = len(engines)
			engines = append(engines, e)
		}
		fallback := len(engines)
		engines = append(engines, base)
		return shard.New(base, engines, shard.ByNode(loc.locate, byNode, fallback, 30*time.Second))
	}
	return base, nil
}

func closeAll(engines []store.Engine) {
	for _, e := range engines {
		e.Close()
	}
}
