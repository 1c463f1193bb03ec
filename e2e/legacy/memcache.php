<?php
// The legacy collection-timestamp map, optionally in memcache: see the
// header of router.php.

// Stamps is the collection => last-modified map (hundredths), kept in
// memcache under coll:<userid> when WEAVE_MEMCACHE_ADDR is set: updated
// after PUT and POST, never on DELETE, and read by info/collections and
// X-If-Unmodified-Since.
class Stamps
{
	private $userid, $store, $memc, $map = null;

	function __construct($userid, $store)
	{
		$this->userid = $userid;
		$this->store = $store;
		$this->memc = Memc::open();
	}

	function max_timestamp($collection)
	{
		if (!$this->memc)
			return $this->store->max_timestamp($collection);
		$this->retrieve();
		return $this->map[$collection] ?? null;
	}

	function all()
	{
		$this->retrieve();
		return $this->map;
	}

	function update($collection, $ts)
	{
		if (!$this->memc)
			return;
		$this->retrieve();
		// A float, as the legacy server computed it (server time * 100):
		// serialize() writes d:, where a map rebuilt from SQL has i:.
		$this->map[$collection] = (float)$ts;
		$this->save();
	}

	private function retrieve()
	{
		if ($this->map)
			return;
		if ($this->memc && ($map = $this->memc->get('coll:' . $this->userid))) {
			$this->map = $map;
			return;
		}
		$this->map = $this->store->timestamps();
		$this->save();
	}

	private function save()
	{
		if ($this->memc && $this->map)
			$this->memc->set('coll:' . $this->userid, $this->map, (int)env('WEAVE_STORAGE_MEMCACHE_DECAY', 3600));
	}
}

// Memc speaks just enough of the memcache text protocol for one map, in the
// format of PHP's Memcache extension: serialize()d, flags 1.
class Memc
{
	private $fp;

	static function open()
	{
		$addr = env('WEAVE_MEMCACHE_ADDR');
		if (!$addr)
			return null;
		$i = strrpos($addr, ':');
		$fp = @fsockopen(substr($addr, 0, $i), (int)substr($addr, $i + 1), $errno, $errstr, 0.5);
		if (!$fp) {
			error_log("memcache $addr: $errstr"); // as legacy: log and go on without it
			return null;
		}
		stream_set_timeout($fp, 1);
		$m = new Memc();
		$m->fp = $fp;
		return $m;
	}

	function get($key)
	{
		if (!@fwrite($this->fp, "get $key\r\n"))
			return null;
		if (!preg_match('/^VALUE \S+ \d+ (\d+)\r\n$/', (string)fgets($this->fp), $m))
			return null;
		$data = '';
		while (strlen($data) < $m[1] + 2 && !feof($this->fp) && ($chunk = fread($this->fp, $m[1] + 2 - strlen($data))) !== false && $chunk !== '')
			$data .= $chunk;
		fgets($this->fp); // END
		$v = @unserialize(substr($data, 0, (int)$m[1]), ['allowed_classes' => false]);
		return is_array($v) ? $v : null;
	}

	function set($key, $value, $exptime)
	{
		$data = serialize($value);
		if (@fwrite($this->fp, "set $key 1 $exptime " . strlen($data) . "\r\n$data\r\n"))
			fgets($this->fp);
	}
}
