// Package cache puts memcached in front of a store.Engine, as the Python
// Sync server's MemcachedSQLStorage did (storage spec §9): per-user
// collection timestamps, counts, usage and total size (for quota), the
// meta/global item and the tabs collection are answered from memcache. It
// is a decorator: *Engine implements store.Engine, so the API handlers do
// not know it is there, and without a memcache address the inner engine is
// used alone.
//
// # Keys
//
// With <p> the configured prefix and <uid> the numeric user id, values JSON:
//
//	<p>epoch          global epoch (decimal counter)
//	<p><uid>:gen      the user's generation (decimal counter)
//	<p><uid>:stamps   info/collections map
//	<p><uid>:counts   info/collection_counts map
//	<p><uid>:usage    info/collection_usage map (bytes)
//	<p><uid>:size     total payload bytes, for quota
//	<p><uid>:meta:global  the meta/global item (or its absence)
//	<p><uid>:tabs     the tab items by id
//	coll:<uid>        the legacy PHP server's own timestamp map: never
//	                  written here, only deleted (no prefix: it is PHP's key)
//
// # Why no stale value is served
//
// Every derived entry carries the tag (epoch, generation) it was built
// under: a reader fetches epoch, generation and the entry in one GetMulti
// and uses the entry only when its tag equals both current counters. A
// reader that misses reads the counters first, then the database, then
// stores the entry under the counters it read before the database read.
// Every write commits to the database first and then increments the
// user's generation. So an entry built from a database read that a write
// overtook carries a generation that write has already passed or is about
// to pass: whatever the interleaving of readers and writers on any number
// of instances, an entry that misses a committed write can never be
// matched once that write's call has returned. A counter that is missing
// (evicted, or its server restarted while the entry's server did not) is
// recreated with Add from a random 62-bit value, which no older entry
// carries.
//
// memcached down, slow or unreachable: each operation has a short timeout
// (Config.Timeout, 100ms), a failure is reported to Config.OnError and
// memcache is then bypassed for Config.Backoff; every call is served from
// the inner engine. A write whose generation increment failed or was
// skipped marks its user dirty in this process; while anything is dirty
// this instance uses no cached value at all, and a background healer (and
// the next call) retries: it increments each dirty user's generation and
// deletes the user's coll: key, and only then is the cache used again. So a
// memcached that comes back with its old entries (a network cut, not a
// restart) never serves what was written while it was unreachable. When
// more than Config.MaxDirty users are dirty, the healer bumps the global
// epoch instead, which voids every entry of every user.
//
// A process cannot know whether its predecessor died with dirty users, so
// each Engine starts with the epoch marked dirty: its first successful
// contact with memcached bumps the epoch (a cold cache after each deploy,
// never a stale one). Entries also expire after Config.EntryTTL, a bound
// for the cases no local state covers: an instance that dies while cut off
// from memcached and is never restarted, or a partial partition where
// another instance still reaches memcached before the cut-off one heals.
//
// # ttl
//
// Counts, usage and size depend on the request's time because items with
// a ttl disappear. When an entry is built at second S, the inner engine is
// asked again for S+3600 (and S+60 if that differs): the values only
// shrink with time, so equal answers prove nothing expires in between, and
// the entry is used only for requests whose time lies in that window. The
// cost is one more query on a miss. Timestamps ignore ttl (spec §1.1);
// cached items keep their ttl and are filtered by the request's time.
//
// # Updates in place
//
// After a PutItems, the timestamp map is updated in place instead of being
// voided when the writer read it valid at generation G (while the database
// wrote) and its increment returned exactly G+1, and no written item lowers
// or nulls the collection's MAX(modified); see afterWrite for why that is
// safe. Counts, usage, size and items are rebuilt on the next read:
// PutItems does not say which rows were new or how big the old payloads
// were. A write costs two memcache round trips after the commit (the
// increment, then the in-place update; PHP's key is dropped alongside).
//
// # Tabs
//
// With TabsInMemcacheOnly false (the default while the legacy PHP server
// still serves some routes) tab writes go to the database first, so PHP
// sees them, and the cached copy is rebuilt from the database on the next
// read. With it true, tabs live only in memcache, as in the Python server:
// tab writes and deletes then fail with store.ErrUnavailable when memcache
// does (the API answers a PUT with 503 and marks each item of a POST batch
// failed with "db error"), reads of the tabs collection fail the same way,
// and the info maps add the tabs from memcache (leaving them out when it is
// unreachable). In both modes every filter of store.Query is applied in
// memory, with the inner engine's semantics, where the Python server
// ignored all but ids, newer/older and index_above/below.
//
// # The legacy PHP server
//
// PHP keeps coll:<uid> in the same memcached and never learns about native
// writes: every native write and delete deletes that key (through
// Config.PHPClient when PHP uses another server) so PHP rebuilds it from
// the database. The other direction is InvalidateUser, which the proxy
// calls after each write it forwarded to PHP (through Invalidator, by
// name): it increments the user's generation like a native write, owes it
// to the healer when memcache is unreachable, and bumps the global epoch
// when the name cannot be resolved to an id.
package cache
