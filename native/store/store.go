// Package store defines what a Weave storage engine is: the values the API
// handlers read and write, and the interface every engine (MySQL on the legacy
// schema, embedded SQLite) implements. Engines are values, never globals: a
// process may hold several with different configuration.
package store

import (
	"context"
	"errors"
	"time"
)

// Errors an engine returns. Callers test them with errors.Is; engines wrap
// them with %w and add context. The mapping to Weave error codes and HTTP
// statuses happens in one place, in the API layer, never here.
var (
	ErrNotFound       = errors.New("store: not found")
	ErrUserExists     = errors.New("store: user already exists")
	ErrUnavailable    = errors.New("store: backend unavailable")
	ErrInvalidName    = errors.New("store: invalid collection name")
	ErrNoResetCode    = errors.New("store: no reset code")
	ErrCollectionFull = errors.New("store: no collection id left")
	// ErrNotSequenced is what a Sequencer that wraps another engine
	// answers, before running anything, when the engine it wraps cannot
	// sequence writes: the caller must order them itself.
	ErrNotSequenced = errors.New("store: engine does not sequence writes")
)

// Timestamp is a Weave server time in hundredths of a second since the Unix
// epoch: exactly what the legacy schema stores in wbo.modified (BIGINT).
// Keeping it integral avoids every float rounding question until the moment
// it is rendered on the wire.
type Timestamp int64

// FromTime rounds t to the nearest hundredth of a second, as PHP's
// round(microtime(true), 2) does.
func FromTime(t time.Time) Timestamp {
	return Timestamp((t.UnixNano() + 5_000_000) / 10_000_000)
}

// Time converts back to a time.Time.
func (ts Timestamp) Time() time.Time {
	return time.Unix(0, int64(ts)*10_000_000)
}

// Seconds is the whole-second part, for comparison with ttl values.
func (ts Timestamp) Seconds() int64 { return int64(ts) / 100 }

// FarFuture is the ttl the Python server gives an item sent without one:
// the absolute Unix second 2100000000.
const FarFuture int64 = 2100000000

// WBO is a Weave Basic Object as stored. Pointer fields are nullable columns;
// nil means NULL (and "not supplied" on a write, see Engine.PutItem).
type WBO struct {
	ID            string
	ParentID      *string
	PredecessorID *string
	SortIndex     *int64
	Modified      *Timestamp
	Payload       *string
	// PayloadSize is the payload's length in bytes, as the legacy server
	// stores it (PHP's mb_strlen(..., '8bit')).
	PayloadSize int64
	// TTL is the absolute Unix second after which the item is gone for
	// readers; nil means it never expires. Unlike the other pointer fields,
	// nil on a write is not "keep": a write without ttl makes the item
	// permanent, as in the Python server. The legacy schema has no ttl
	// column: engines keep it in a table of ours beside the row, keyed by
	// the row and the modified it was written with, so a later legacy
	// overwrite (which PHP does without ttl) silently voids it.
	TTL *int64
}

// Sort orders a collection read.
type Sort int

const (
	SortNone   Sort = iota // database order; clients must not rely on it
	SortOldest             // modified ascending
	SortNewest             // modified descending
	SortIndex              // sortindex descending
)

// Query selects items of one collection. Zero values mean "no filter".
// All filters are ANDed. Comparisons are strict, as in the spec.
type Query struct {
	IDs           []string // nil: no filter; non-nil and empty: matches nothing
	HasIDs        bool     // true when the ids filter was given at all
	ParentID      *string
	PredecessorID *string
	Older         *Timestamp // modified < Older
	Newer         *Timestamp // modified > Newer
	IndexAbove    *float64   // sortindex > IndexAbove
	IndexBelow    *float64   // sortindex < IndexBelow
	Limit         int        // > 0 to apply
	Offset        int        // applied only with Limit > 0
	Sort          Sort
	// Now is the request's server time; items whose ttl is at or before
	// Now.Seconds() are invisible to reads. Deletes ignore ttl.
	Now Timestamp
}

// User is a row of the legacy users table.
type User struct {
	ID       int64
	Username string
	// MD5 is the hex md5 of the password, as the legacy server stores it,
	// or a marker saying PasswordHash holds the password instead.
	MD5 string
	// PasswordHash is a salted hash (bcrypt) from a table of ours; the
	// legacy md5 column is too narrow for it. Empty for legacy accounts.
	PasswordHash string
	Email        string
	Location     string
	Status       int
	Alert        string
}

// ResetCode is a pending password-reset code for a user.
type ResetCode struct {
	Code    string
	Expires time.Time
}

// Users is the account side of an engine, on the legacy users table.
type Users interface {
	// CreateUser inserts u (u.ID is ignored) and returns the new id.
	// ErrUserExists when the name is taken.
	CreateUser(ctx context.Context, u User) (int64, error)
	// UserByName looks a user up by (lower-cased) name. ErrNotFound if absent.
	UserByName(ctx context.Context, username string) (User, error)
	// DeleteUser removes the user row and all of the user's storage,
	// reset codes and ttl rows, in one transaction.
	DeleteUser(ctx context.Context, userID int64) error
	// SetPasswordMD5 stores the legacy form and drops any salted hash.
	SetPasswordMD5(ctx context.Context, userID int64, md5hex string) error
	SetEmail(ctx context.Context, userID int64, email string) error

	// Reset codes live in a table of ours (reset_codes); the legacy server
	// had none.
	SetResetCode(ctx context.Context, userID int64, rc ResetCode) error
	GetResetCode(ctx context.Context, userID int64) (ResetCode, error) // ErrNoResetCode
	ClearResetCode(ctx context.Context, userID int64) error
}

// PasswordHashes is implemented by engines that keep salted password
// hashes (bcrypt) in a table of their own beside the legacy users table;
// CreateUser then stores User.PasswordHash there too.
type PasswordHashes interface {
	// SetPasswordHash stores hash in that table and marker in users.md5,
	// together.
	SetPasswordHash(ctx context.Context, userID int64, hash, marker string) error
}

// Storage is the WBO side of an engine. userID is users.id (wbo.username in
// the legacy schema). Collections are named; engines map names to the legacy
// numeric ids (1–10 fixed, custom names from 101 in the collections table).
type Storage interface {
	// CollectionTimestamps maps each collection that has at least one row
	// to its highest modified (ttl is not considered, as in the spec).
	CollectionTimestamps(ctx context.Context, userID int64) (map[string]Timestamp, error)
	// CollectionCounts maps each collection to its number of live items.
	CollectionCounts(ctx context.Context, userID int64, now Timestamp) (map[string]int64, error)
	// CollectionUsage maps each collection to the bytes of its live payloads.
	CollectionUsage(ctx context.Context, userID int64, now Timestamp) (map[string]int64, error)
	// TotalSize is the sum of payload bytes of the user's live items.
	TotalSize(ctx context.Context, userID int64, now Timestamp) (int64, error)
	// CollectionMax is the highest modified in a collection (0, false when
	// it has no rows), for X-If-Unmodified-Since.
	CollectionMax(ctx context.Context, userID int64, collection string) (Timestamp, bool, error)

	// GetItems returns the items matching q, full rows.
	GetItems(ctx context.Context, userID int64, collection string, q Query) ([]WBO, error)
	// GetItem returns one live item; ErrNotFound if absent or expired.
	GetItem(ctx context.Context, userID int64, collection, id string, now Timestamp) (WBO, error)

	// PutItems writes items in one transaction: all or nothing. For each
	// item, a nil field means "not supplied": a new row gets NULL, an
	// existing row keeps its value (partial update); TTL excepted, see WBO.
	// The result holds, per item in order, the row's modified before the
	// write (nil for a new row or a NULL column) for the items without a
	// Modified; for an item with one it may be nil (an engine may skip
	// reading the rows before writing them).
	PutItems(ctx context.Context, userID int64, collection string, items []WBO) ([]*Timestamp, error)
	// DeleteItems deletes the items matching q (ttl ignored) and returns
	// how many rows went.
	DeleteItems(ctx context.Context, userID int64, collection string, q Query) (int64, error)
	// DeleteStorage removes every item and collection row of the user.
	DeleteStorage(ctx context.Context, userID int64) error
}

// Sequencer is an engine that orders each user's writes itself, across
// every process that writes through it to one database: a write's
// timestamp is chosen inside the write's own transaction, and a user's
// next sequenced write waits from that moment until the transaction ends.
// So timestamps of a user's writes increase strictly in commit order, and
// a client reading newer=<the highest modified it saw> never misses a
// write that commits later with a smaller timestamp.
type Sequencer interface {
	// Sequenced runs fn in one transaction with the write's timestamp ts:
	// at, raised to one above the last timestamp a sequenced write of
	// userID got on this database. Every call on fn's engine runs inside
	// that transaction, which commits when fn returns nil; fn's error
	// rolls it back and is returned. fn may be run again (a transaction
	// that lost a deadlock is retried), so it must only write through the
	// engine it is given.
	Sequenced(ctx context.Context, userID int64, at Timestamp, fn func(ts Timestamp, tx Engine) error) error
}

// Engine is a complete storage engine.
type Engine interface {
	Users
	Storage
	// Name is a short label for logs and metrics ("mysql", "sqlite").
	Name() string
	// Ping checks the database answers, for readiness probes.
	Ping(ctx context.Context) error
	// DryRun runs fn against a view of the engine whose writes are never
	// kept: shadow mode uses it to execute a write natively without
	// applying it. The view reads a consistent snapshot of the database,
	// taken before fn is called, merged with fn's own writes; it takes no
	// lock another writer could wait on, and writes nothing. fn's error
	// is returned.
	DryRun(ctx context.Context, fn func(Engine) error) error
	Close() error
}
