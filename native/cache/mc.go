package cache

import (
	"errors"
	"sync"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

// ErrBypassed is what Config.OnError gets for an operation skipped because
// memcache failed less than Config.Backoff ago.
var ErrBypassed = errors.New("cache: memcache bypassed after a recent failure")

// maxValue keeps values under memcached's default 1 MiB item limit; a
// bigger derived entry is simply not cached.
const maxValue = 1000 * 1024

// mc wraps the memcache client with the failure bookkeeping of the package
// doc: backoff after a failure, users whose invalidation is owed, and the
// healer that pays those debts.
type mc struct {
	client, php *memcache.Client
	cfg         Config

	mu         sync.Mutex
	downUntil  time.Time
	down       bool             // failing since the last success: logged once, not per backoff
	reminded   time.Time        // when the log last said memcache is still down
	failures   int64            // failures since down
	dirty      map[int64]uint64 // user → seq of the latest write that owes an invalidation
	seq        uint64
	epochOwed  uint64 // bumped when the epoch must move; paid when epochPaid catches up
	epochPaid  uint64
	healMu     sync.Mutex
	kick, done chan struct{}
	closeOnce  sync.Once
	wg         sync.WaitGroup
}

func newMC(client, php *memcache.Client, cfg Config) *mc {
	m := &mc{
		client: client, php: php, cfg: cfg,
		dirty: map[int64]uint64{},
		// A new process does not know what its predecessor left behind.
		epochOwed: 1,
		kick:      make(chan struct{}, 1),
		done:      make(chan struct{}),
	}
	m.wg.Add(1)
	go m.healer()
	return m
}

func (m *mc) close() {
	m.closeOnce.Do(func() { close(m.done) })
	m.wg.Wait()
}

// healer pays owed invalidations as soon as memcache answers again, even if
// this process gets no more traffic: another instance may be reading.
func (m *mc) healer() {
	defer m.wg.Done()
	for {
		var wait <-chan time.Time
		if !m.heal() {
			wait = time.After(m.cfg.Backoff)
		}
		select {
		case <-m.done:
			return
		case <-m.kick:
		case <-wait:
		}
	}
}

// usable reports whether cached values may be read and entries written:
// memcache is not in backoff and no invalidation is owed.
func (m *mc) usable() bool {
	m.mu.Lock()
	clean := m.epochPaid == m.epochOwed && len(m.dirty) == 0
	backoff := m.cfg.Now().Before(m.downUntil)
	m.mu.Unlock()
	if !clean && !backoff {
		select {
		case m.kick <- struct{}{}:
		default:
		}
	}
	return clean && !backoff
}

// owe records that userID's entries may be stale and memcache could not be
// told: nothing cached is used until the healer has paid.
func (m *mc) owe(userID int64) {
	m.mu.Lock()
	m.seq++
	if len(m.dirty) < m.cfg.MaxDirty {
		m.dirty[userID] = m.seq
	} else if _, ok := m.dirty[userID]; ok {
		m.dirty[userID] = m.seq
	} else {
		m.epochOwed++
	}
	m.mu.Unlock()
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// oweEpoch records that some unknown user's entries may be stale: the
// healer bumps the global epoch.
func (m *mc) oweEpoch() {
	m.mu.Lock()
	m.epochOwed++
	m.mu.Unlock()
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// heal tries to pay every owed invalidation; it reports whether nothing is
// owed any more.
func (m *mc) heal() bool {
	m.healMu.Lock()
	defer m.healMu.Unlock()
	m.mu.Lock()
	if m.cfg.Now().Before(m.downUntil) {
		m.mu.Unlock()
		return false
	}
	owed, paid := m.epochOwed, m.epochPaid
	users := make(map[int64]uint64, len(m.dirty))
	for u, s := range m.dirty {
		users[u] = s
	}
	m.mu.Unlock()
	if owed != paid {
		if err := m.incrOrMissing(keyEpoch(m.cfg.Prefix)); err != nil {
			return false
		}
		m.mu.Lock()
		m.epochPaid = owed
		m.mu.Unlock()
	}
	for u, s := range users {
		if err := m.incrOrMissing(keyGen(m.cfg.Prefix, u)); err != nil {
			return false
		}
		if err := m.delete(m.php, keyPHP(u)); err != nil {
			return false
		}
		m.mu.Lock()
		if m.dirty[u] == s {
			delete(m.dirty, u)
		}
		m.mu.Unlock()
	}
	m.mu.Lock()
	clean := m.epochPaid == m.epochOwed && len(m.dirty) == 0
	m.mu.Unlock()
	if len(users) > 0 || owed != paid {
		m.cfg.Logger.Info("cache: owed invalidations paid", "users", len(users), "epoch", owed != paid, "clean", clean)
	}
	return clean
}

// incrOrMissing increments a counter; a missing counter is as good (it is
// recreated from a random value).
func (m *mc) incrOrMissing(key string) error {
	_, err := m.incr(key)
	if errors.Is(err, memcache.ErrCacheMiss) {
		return nil
	}
	return err
}

// gate is called before each operation: false during a backoff.
func (m *mc) gate(op string) bool {
	m.mu.Lock()
	backoff := m.cfg.Now().Before(m.downUntil)
	m.mu.Unlock()
	if backoff {
		m.cfg.OnError(op, ErrBypassed)
	}
	return !backoff
}

// result classifies an operation's error: the protocol answers (miss, not
// stored, conflict) are normal; anything else is a failure that starts a
// backoff.
//
// The log says when memcache goes down and when it answers again, and
// while it stays down reminds at most every stillDownEvery: one line per
// backoff (every second) filled logs for as long as an outage lasted.
func (m *mc) result(op string, err error) error {
	if err == nil || errors.Is(err, memcache.ErrCacheMiss) ||
		errors.Is(err, memcache.ErrNotStored) || errors.Is(err, memcache.ErrCASConflict) {
		m.mu.Lock()
		was, failures := m.down, m.failures
		m.down, m.failures = false, 0
		m.mu.Unlock()
		if was {
			m.cfg.Logger.Info("cache: memcache answers again", "failures", failures)
		}
		return err
	}
	m.cfg.OnError(op, err)
	now := m.cfg.Now()
	m.mu.Lock()
	m.downUntil = now.Add(m.cfg.Backoff)
	m.failures++
	first := !m.down
	remind := m.down && now.Sub(m.reminded) >= stillDownEvery
	m.down = true
	if first || remind {
		m.reminded = now
	}
	failures := m.failures
	m.mu.Unlock()
	switch {
	case first:
		m.cfg.Logger.Warn("cache: memcache failed, serving from the database until it answers",
			"op", op, "err", err, "backoff", m.cfg.Backoff)
	case remind:
		m.cfg.Logger.Warn("cache: memcache still failing, serving from the database",
			"op", op, "err", err, "failures", failures)
	}
	return err
}

// stillDownEvery spaces the reminders that memcache is still down.
const stillDownEvery = time.Minute

func (m *mc) getMulti(keys []string) (map[string]*memcache.Item, error) {
	if !m.gate("get") {
		return nil, ErrBypassed
	}
	items, err := m.client.GetMulti(keys)
	return items, m.result("get", err)
}

func (m *mc) get(key string) (*memcache.Item, error) {
	if !m.gate("get") {
		return nil, ErrBypassed
	}
	it, err := m.client.Get(key)
	return it, m.result("get", err)
}

func (m *mc) incr(key string) (uint64, error) {
	if !m.gate("incr") {
		return 0, ErrBypassed
	}
	v, err := m.client.Increment(key, 1)
	return v, m.result("incr", err)
}

func (m *mc) set(it *memcache.Item) error { return m.store("set", it, m.client.Set) }
func (m *mc) add(it *memcache.Item) error { return m.store("add", it, m.client.Add) }
func (m *mc) cas(it *memcache.Item) error { return m.store("cas", it, m.client.CompareAndSwap) }

// store runs one of memcache's storage commands through the size check,
// the backoff gate and the error accounting every write shares.
func (m *mc) store(op string, it *memcache.Item, do func(*memcache.Item) error) error {
	if len(it.Value) > maxValue {
		return memcache.ErrNotStored
	}
	if !m.gate(op) {
		return ErrBypassed
	}
	return m.result(op, do(it))
}

// delete removes key through c (the native client or PHP's); a missing key
// is success.
func (m *mc) delete(c *memcache.Client, key string) error {
	if !m.gate("delete") {
		return ErrBypassed
	}
	err := m.result("delete", c.Delete(key))
	if errors.Is(err, memcache.ErrCacheMiss) {
		return nil
	}
	return err
}
