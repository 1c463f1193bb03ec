<?php
// Sync storage API 1.0: see the header of router.php.

const COLLECTION_IDS = ['clients' => 1, 'crypto' => 2, 'forms' => 3, 'history' => 4, 'keys' => 5,
	'meta' => 6, 'bookmarks' => 7, 'prefs' => 8, 'tabs' => 9, 'passwords' => 10];

function storage_main($seg)
{
	[$username, $function, $collection, $id] = array_pad($seg, 4, '');
	header('Content-type: application/json');
	$GLOBALS['storage_api'] = true;
	$server_time = round(microtime(true), 2);
	header('X-Weave-Timestamp: ' . $server_time); // PHP's float to string: 1795895500.7
	$storage_time = (int)round($server_time * 100);

	[$auth_user, $auth_pw] = auth_credentials();
	$username = strtolower($username);
	$auth_user = strtolower((string)$auth_user);
	$method = $_SERVER['REQUEST_METHOD'];
	if (!$username)
		report_problem(3, 400);
	if ($auth_user != $username)
		report_problem(5, 401);
	// The method/function gate runs before the password is checked.
	if (($function != 'storage' && $method != 'GET') || !$collection)
		report_problem(1, 400);

	try {
		$userid = authenticate_storage_user($auth_user, $auth_pw);
	} catch (Unavailable $e) {
		header('X-Weave-Backoff: 1800');
		report_problem('Database unavailable', 503);
	}
	try {
		$store = new Store($userid);
		$stamps = new Stamps($userid, $store);
		switch ($method) {
			case 'GET':
				storage_get($store, $stamps, $function, $collection, $id);
				break;
			case 'PUT':
				storage_put($store, $stamps, $collection, $id, $server_time, $storage_time);
				break;
			case 'POST':
				storage_post($store, $stamps, $collection, $storage_time);
				break;
			case 'DELETE':
				storage_delete($store, $stamps, $collection, $id, $server_time);
				break;
			default:
				report_problem(1, 400);
		}
	} catch (Unavailable $e) {
		report_problem('Database unavailable', 503);
	}
}

function authenticate_storage_user($user, $pw)
{
	$row = q('select id, location, status, alert from users where username = ? and md5 = ?',
		[$user, password_hash_legacy($pw)])->fetch(PDO::FETCH_ASSOC);
	if (!$row || $row['status'] != 1 || ($row['location'] && $row['location'] != ($_SERVER['HTTP_HOST'] ?? '')))
		report_problem('Authentication failed', 401);
	if ($row['alert'])
		header('X-Weave-Alert: ' . $row['alert'], false);
	return (int)$row['id'];
}

function storage_get($store, $stamps, $function, $collection, $id)
{
	if ($function == 'info') {
		switch ($collection) {
			case 'quota':
				if ($code = plant('status:info_quota'))
					http_response_code($code === true ? 500 : (int)$code);
				exit(json_encode([$store->storage_total_kb(), (int)env('WEAVE_QUOTA', 5000)]));
			case 'collections':
				$result = $stamps->all() ?: [];
				foreach ($result as $k => $v)
					$result[$k] = $v / 100;
				exit(json_encode($result));
			case 'collection_counts':
				exit(json_encode($store->counts()));
			default:
				report_problem(1, 400);
		}
	}
	if ($function != 'storage')
		return; // the legacy server answered 200 with an empty body
	if ($id) {
		$rows = q('select * from wbo where username = ? and collection = ? and id = ?',
			[$store->userid, $store->collection_id($collection), $id])->fetchAll(PDO::FETCH_ASSOC);
		if (!$rows)
			report_problem('record not found', 404);
		echo wbo_json($rows[0]);
		return;
	}
	$format = 'json';
	$accept = $_SERVER['HTTP_ACCEPT'] ?? null;
	if ($accept !== null && !preg_match('/\*\/\*/', $accept) && !preg_match('/application\/json/', $accept)) {
		if (preg_match('/application\/whoisi/', $accept))
			$format = 'whoisi';
		elseif (preg_match('/application\/newlines/', $accept))
			$format = 'newlines';
		if ($format != 'json')
			header('Content-type: application/' . $format);
	}
	$full = qs('full');
	$select = $full ? '*' : 'id';
	[$where, $params] = $store->filters($collection, $select);
	$sth = q("select $select from wbo where $where", $params);
	if (($count = $sth->rowCount()) > 0)
		header('X-Weave-Records: ' . $count);
	$rows = $sth->fetchAll(PDO::FETCH_ASSOC);
	if (qs('sort') == 'index' && plant('reverse:sort_index'))
		$rows = array_reverse($rows);
	$out = [];
	foreach ($rows as $row)
		$out[] = $full ? wbo_json($row) : json_encode($row['id']);
	if ($format == 'json')
		echo '[' . implode(',', $out) . ']';
	foreach ($format == 'json' ? [] : $out as $record)
		echo $format == 'whoisi' ? pack('N', strlen($record)) . $record : str_replace("\n", '\u000a', $record) . "\n";
}

function storage_put($store, $stamps, $collection, $id, $server_time, $storage_time)
{
	$wbo = new Wbo();
	if (!$wbo->extract(file_get_contents('php://input')))
		report_problem(6, 400);
	check_unmodified_since($stamps, $collection);
	if (!$wbo->id() && $id)
		$wbo->set('id', $id); // the body's id wins
	$wbo->collection = $collection;
	$wbo->set('modified', $storage_time);
	if (!$wbo->validate())
		report_problem(8, 400);
	if ($wbo->has('payload'))
		$store->store([$wbo]);
	else
		$store->update($wbo);
	echo json_encode($server_time);
	$stamps->update($collection, $storage_time);
}

function storage_post($store, $stamps, $collection, $storage_time)
{
	$json = json_decode(file_get_contents('php://input'), true);
	if ($json === null)
		report_problem(6, 400);
	check_unmodified_since($stamps, $collection);
	$success = [];
	$failed = [];
	$wbos = [];
	tx('beginTransaction');
	// An object is iterated over its values, as PHP's foreach did (REC #57).
	foreach (is_array($json) ? $json : [] as $data) {
		$wbo = new Wbo();
		if (!$wbo->extract($data)) {
			$failed[$wbo->key()] = $wbo->errors;
			continue;
		}
		$wbo->collection = $collection;
		$wbo->set('modified', $storage_time);
		if (!$wbo->validate()) {
			$failed[$wbo->key()] = $wbo->errors;
			continue;
		}
		try {
			if ($wbo->has('payload'))
				$wbos[] = $wbo;
			else
				$store->update($wbo);
		} catch (Unavailable $e) {
			$failed[$wbo->key()] = $e->getMessage();
			continue;
		}
		$success[] = $wbo->id();
	}
	while (count($wbos)) {
		$slice = array_splice($wbos, 0, 100);
		try {
			$store->store($slice);
		} catch (Unavailable $e) {
			// The failed statement is this slice's, and only its items
			// failed. (The original marks $wbos, the items still waiting:
			// a defect not copied here, see TestFailedSliceIsReported.)
			foreach ($slice as $wbo)
				$failed[$wbo->key()] = $e->getMessage();
			$success = array_values(array_diff($success, array_map(fn($w) => $w->id(), $slice)));
		}
	}
	tx('commit');
	$stamps->update($collection, $storage_time);
	echo json_encode(['success' => $success, 'failed' => $failed]);
}

function storage_delete($store, $stamps, $collection, $id, $server_time)
{
	check_unmodified_since($stamps, $collection);
	if ($id) {
		q('delete from wbo where username = ? and collection = ? and id = ?',
			[$store->userid, $store->collection_id($collection), $id]);
	} else {
		[$where, $params] = $store->filters($collection);
		q('delete from wbo where ' . $where, $params);
	}
	echo json_encode($server_time);
}

function tx($op)
{
	try {
		db()->$op();
	} catch (PDOException $e) {
		error_log("$op: " . $e->getMessage());
		throw new Unavailable('Database unavailable', 503);
	}
}

function check_unmodified_since($stamps, $collection)
{
	if (array_key_exists('HTTP_X_IF_UNMODIFIED_SINCE', $_SERVER)
		&& $stamps->max_timestamp($collection) > num($_SERVER['HTTP_X_IF_UNMODIFIED_SINCE']) * 100)
		report_problem(4, 412);
}

// qs is a query parameter as a string, null when absent (or not a string).
function qs($name)
{
	return isset($_GET[$name]) && is_string($_GET[$name]) ? $_GET[$name] : null;
}

// wbo_json renders a row in the legacy key order, leaving out nulls.
function wbo_json($row)
{
	$h = ['id' => $row['id']];
	if ($row['parentid'] !== null)
		$h['parentid'] = $row['parentid'];
	if ($row['modified'] !== null)
		$h['modified'] = $row['modified'] / 100;
	if ($row['predecessorid'] !== null)
		$h['predecessorid'] = $row['predecessorid'];
	if ($row['sortindex'] !== null && !plant('drop:sortindex'))
		$h['sortindex'] = (int)$row['sortindex'];
	if ($row['payload'] !== null)
		$h['payload'] = $row['payload'];
	return json_encode($h);
}

// Wbo is one incoming object, fields kept in the order they were set.
class Wbo
{
	public $h = [];
	public $collection;
	public $errors = [];

	function extract($data)
	{
		$x = is_string($data) ? json_decode($data, true) : $data;
		if ($x === null) {
			$this->errors[] = 'unable to extract from json';
			return false;
		}
		foreach (['id', 'parentid', 'predecessorid', 'sortindex', 'payload'] as $k)
			if (is_array($x) && array_key_exists($k, $x))
				$this->set($k, $x[$k]);
		return true;
	}

	function set($k, $v)
	{
		if ($v !== null)
			$this->h[$k] = $k == 'sortindex' ? (int)$v : $v;
	}

	function has($k)
	{
		return array_key_exists($k, $this->h);
	}

	function get($k)
	{
		return $this->h[$k] ?? null;
	}

	function id()
	{
		return $this->get('id');
	}

	// key is the id as a PHP array key; "" when there is none.
	function key()
	{
		return is_scalar($this->id()) ? $this->id() : '';
	}

	function validate()
	{
		$long = function ($k) {
			return $this->has($k) && (!is_scalar($this->h[$k]) || strlen($this->h[$k]) > 64);
		};
		if (!$this->id() || $long('id'))
			$this->errors[] = 'invalid id';
		if ($long('parentid'))
			$this->errors[] = 'invalid parentid';
		if ($long('predecessorid'))
			$this->errors[] = 'invalid predecessorid';
		if (!$this->collection || strlen($this->collection) > 64)
			$this->errors[] = 'invalid collection';
		if ($this->has('payload')) {
			if (!is_string($this->h['payload']))
				$this->errors[] = 'payload needs to be json-encoded';
			elseif (strlen($this->h['payload']) > (int)env('WEAVE_PAYLOAD_MAX_SIZE', 262144))
				$this->errors[] = 'payload too large';
		}
		return !$this->errors;
	}
}

// Store is one user's rows in the legacy tables.
class Store
{
	public $userid;
	private $names = null; // collection id => name

	function __construct($userid)
	{
		$this->userid = $userid;
	}

	function collection_id($name)
	{
		if (array_key_exists($name, COLLECTION_IDS))
			return COLLECTION_IDS[$name];
		$id = q('select collectionid from collections where userid = ? and name = ?', [$this->userid, $name])->fetchColumn();
		if ($id)
			return $id;
		// Custom collections are numbered from 101, created on first use.
		$id = (int)q('select max(collectionid) from collections where userid = ?', [$this->userid])->fetchColumn();
		$id = ($id ?: 100) + 1;
		q('insert into collections (userid, collectionid, name) values (?, ?, ?)', [$this->userid, $id, $name]);
		return $id;
	}

	// by_name maps "collection => value" rows to names; unknown ids are dropped.
	private function by_name($rows)
	{
		$out = [];
		foreach ($rows as [$cid, $value]) {
			if ($this->names === null) {
				$this->names = array_flip(COLLECTION_IDS);
				foreach (q('select collectionid, name from collections where userid = ?', [$this->userid])->fetchAll(PDO::FETCH_NUM) as [$i, $n])
					$this->names[$i] = $n;
			}
			if (isset($this->names[$cid]))
				$out[$this->names[$cid]] = $value;
		}
		return $out;
	}

	function timestamps()
	{
		return $this->by_name(q('select collection, max(modified) from wbo where username = ? group by collection',
			[$this->userid])->fetchAll(PDO::FETCH_NUM));
	}

	function counts()
	{
		return $this->by_name(q('select collection, count(*) from wbo where username = ? group by collection',
			[$this->userid])->fetchAll(PDO::FETCH_NUM));
	}

	function max_timestamp($collection)
	{
		return q('select max(modified) from wbo where username = ? and collection = ?',
			[$this->userid, $this->collection_id($collection)])->fetchColumn();
	}

	function storage_total_kb()
	{
		return (int)q('select round(sum(length(payload))/1024) from wbo where username = ?', [$this->userid])->fetchColumn();
	}

	// store writes whole rows: absent parentid, predecessorid, sortindex become NULL.
	function store($wbos)
	{
		$rows = [];
		$params = [];
		foreach ($wbos as $w) {
			$rows[] = '(?, ?, ?, ?, ?, ?, ?, ?, ?)';
			array_push($params, $this->userid, $w->id(), $this->collection_id($w->collection), $w->get('parentid'),
				$w->get('predecessorid'), $w->get('sortindex'), $w->get('modified'), $w->get('payload'), strlen($w->get('payload')));
		}
		q('insert into wbo (username, id, collection, parentid, predecessorid, sortindex, modified, payload, payload_size) values '
			. implode(',', $rows) . ' on duplicate key update parentid = values(parentid), predecessorid = values(predecessorid),'
			. ' sortindex = values(sortindex), modified = values(modified), payload = values(payload), payload_size = values(payload_size)',
			$params);
	}

	// update changes the metadata of an existing row; a weight-only change
	// keeps the timestamp.
	function update($w)
	{
		$set = [];
		$params = [];
		foreach (['parentid', 'predecessorid', 'sortindex'] as $k) {
			if ($w->has($k)) {
				$set[] = "$k = ?";
				$params[] = $w->get($k);
			}
		}
		if (!$set)
			return;
		if ($w->has('parentid')) {
			$set[] = 'modified = ?';
			$params[] = $w->get('modified');
		}
		array_push($params, $this->userid, $this->collection_id($w->collection), $w->id());
		q('update wbo set ' . implode(',', $set) . ' where username = ? and collection = ? and id = ?', $params);
	}

	// filters builds the WHERE clause (with ORDER BY and LIMIT) shared by
	// collection GET (naming its $select) and DELETE, index_above and
	// index_below bug included.
	function filters($collection, $select = null)
	{
		$sql = 'username = ? and collection = ?';
		$params = [$this->userid, $this->collection_id($collection)];
		$parentid = qs('parentid');
		$ids = qs('ids') === null ? null : explode(',', qs('ids'));
		if ($ids) {
			$sql .= ' and id in (' . implode(',', array_fill(0, count($ids), '?')) . ')';
			array_push($params, ...$ids);
		}
		if ($parentid) {
			$sql .= ' and parentid = ?';
			$params[] = $parentid;
		}
		if ($p = qs('predecessorid')) {
			$sql .= ' and predecessorid = ?';
			$params[] = $p;
		}
		foreach (['index_above' => '>', 'index_below' => '<'] as $name => $op) {
			if (qs($name)) {
				$sql .= " and sortindex $op ?";
				$params[] = $parentid; // sic: the legacy server bound parentid here
			}
		}
		foreach (['newer' => '>', 'older' => '<'] as $name => $op) {
			if (qs($name) !== null && ($v = num(qs($name)) * 100)) {
				$sql .= " and modified $op ?";
				$params[] = $v;
			}
		}
		// Ties and unsorted lists come in the order the recorded server's
		// MariaDB plans gave (index scans), made explicit to be deterministic.
		$order = ['index' => 'sortindex desc, id desc', 'newest' => 'modified desc, id desc',
			'oldest' => 'modified, id'][qs('sort')] ?? null;
		if (!$order && $select)
			$order = $select == 'id' && $sql == 'username = ? and collection = ?' ? 'sortindex, id' : 'id';
		if ($order)
			$sql .= " order by $order";
		if ($limit = qs('limit')) {
			$sql .= ' limit ' . intval($limit);
			if ($offset = qs('offset'))
				$sql .= ' offset ' . intval($offset);
		}
		return [$sql, $params];
	}
}
