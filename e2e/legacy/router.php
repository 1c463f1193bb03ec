<?php
/*
 * Legacy Weave server test fixture: Sync storage 1.0 (/1.0/<user>/...) and
 * User API 1.0 (/user/1.0/<user>...) over the legacy MySQL schema (tables
 * users, collections, wbo: storage.md §10, user.md §1), answering the way the
 * PHP server in ../shared/recordings did. Run it with PHP's built-in server:
 *
 *     php -S 127.0.0.1:PORT -t e2e/legacy e2e/legacy/router.php
 *
 * It is a test fixture written from the spec, the recordings and what the
 * legacy code did (none of it copied). Its quirks are on purpose: PHP float
 * timestamps, `[]` for empty maps, `failed` as `[]` or an object, bare error
 * codes, "record not found", the method/function gate (400 1), no
 * info/collection_usage, no DELETE /storage, the index_above/index_below bug,
 * limit=-1 as an SQL error (503), full=0 as ids, Accept substring rules, body
 * id wins on PUT, PUT with a payload rewrites every column, ttl ignored,
 * sortindex cast to int, md5(utf8_encode(password)) in users.md5, "success\t"
 * from DELETE /user/1.0/<u>.
 *
 * Where the recorded PHP 8 server died with a fatal error, this does what the
 * PHP 5 code it was written for did:
 *   - a PUT without payload UPDATEs the existing row only (parentid,
 *     predecessorid, sortindex; modified only when parentid is given) and
 *     never creates one (REC #39 showed an HTML fatal error, nothing updated);
 *   - a non-numeric older/newer/X-If-Unmodified-Since counts as 0: older and
 *     newer are then not applied (REC #84), X-If-Unmodified-Since: abc is
 *     412 on any collection with a stamp;
 *   - a JSON body that is not an object/list is treated as having no fields;
 *   - /misc/1.0/captcha_html answers 404 with an empty body (REC #19).
 * Other deliberate choices: the Authorization header is read as the PHP code
 * did under php -S (PHP_AUTH_USER/PW, split at the first ':', else its own
 * CGI fallback that splits at every ':'); DELETE /user/1.0/<u> leaves the
 * user's wbo and collections rows, as the PHP code did (its query used the
 * name where the column holds the id), and DELETE /user/1.0/<u>/<anything>
 * deletes the account too, as the PHP code did; only /1.0/ storage paths
 * exist (others 404);
 * field values that are not scalars make an id invalid; lists without sort
 * carry an explicit ORDER BY giving the order the recorded server's MariaDB
 * plans produced (ids alone: sortindex, id; else id; sort ties: id), so that
 * answers are deterministic.
 *
 * Left out: CAPTCHA, the X-Weave-Secret admin bypass, password-reset codes and
 * mail, the registration throttle DB and node assignment (node/weave answers
 * https://<users.location>/ or 404 "No location"), the SQLite backends, LDAP,
 * table-name overrides, quota enforcement (there was none).
 *
 * Environment:
 *   WEAVE_MYSQL_HOST, WEAVE_MYSQL_PORT, WEAVE_MYSQL_USER, WEAVE_MYSQL_PASS,
 *   WEAVE_MYSQL_DB            the database (schema created by someone else)
 *   WEAVE_MEMCACHE_ADDR       host:port: keep the legacy coll:<userid> map
 *                             there (PHP serialize() of name => hundredths
 *                             as int, flags 1, as PHP's Memcache extension)
 *   WEAVE_STORAGE_MEMCACHE_DECAY  its expiry in seconds (default 3600)
 *   WEAVE_QUOTA               the quota shown by info/quota (default 5000)
 *   WEAVE_PAYLOAD_MAX_SIZE    bytes (default 262144)
 *   WEAVE_FIXTURE_PLANT       comma list of deliberate deviations, for the
 *                             shadow/diff tests (off by default):
 *     status:info_quota[=N]   GET info/quota answers status N (default 500)
 *     drop:sortindex          full WBOs leave out sortindex
 *     reverse:sort_index      sort=index lists come back reversed
 *   PHP_CLI_SERVER_WORKERS    php -S worker processes (legacy.Start sets 4)
 */

ini_set('display_errors', '0'); // warnings must never reach a body
ini_set('log_errors', '1');

require __DIR__ . '/storage.php';
require __DIR__ . '/memcache.php';
require __DIR__ . '/user.php';

function env($name, $default = null)
{
	$v = getenv($name);
	return ($v === false || $v === '') ? $default : $v;
}

function plant($name)
{
	static $plants = null;
	if ($plants === null) {
		$plants = [];
		foreach (explode(',', env('WEAVE_FIXTURE_PLANT', '')) as $p) {
			$kv = explode('=', trim($p), 2);
			if ($kv[0] !== '')
				$plants[$kv[0]] = $kv[1] ?? true;
		}
	}
	return $plants[$name] ?? false;
}

// Ends the request the way PHP's report_problem did: status + JSON body.
function report_problem($message, $code = 503)
{
	http_response_code((int)$code);
	if ($code == 401 && $GLOBALS['storage_api'])
		header('WWW-Authenticate: Basic realm="Weave"');
	exit(json_encode($message));
}

class Unavailable extends Exception
{
}

function db()
{
	static $dbh = null;
	if ($dbh)
		return $dbh;
	$dsn = sprintf('mysql:host=%s;port=%d;dbname=%s;charset=utf8mb4',
		env('WEAVE_MYSQL_HOST', '127.0.0.1'), env('WEAVE_MYSQL_PORT', 3306), env('WEAVE_MYSQL_DB', 'weave'));
	try {
		$dbh = new PDO($dsn, env('WEAVE_MYSQL_USER', 'root'), env('WEAVE_MYSQL_PASS', ''));
		$dbh->setAttribute(PDO::ATTR_ERRMODE, PDO::ERRMODE_EXCEPTION);
	} catch (PDOException $e) {
		error_log('connect: ' . $e->getMessage());
		if ($GLOBALS['storage_api'])
			header('X-Weave-Backoff: 1800');
		report_problem('Database unavailable', 503);
	}
	return $dbh;
}

// q runs one statement; any database error is the legacy 503.
function q($sql, $params = [])
{
	try {
		$sth = db()->prepare($sql);
		$sth->execute($params);
		return $sth;
	} catch (PDOException $e) {
		error_log("query: $sql: " . $e->getMessage());
		throw new Unavailable('Database unavailable', 503);
	}
}

// auth_credentials reads Basic auth as the PHP code did: what the SAPI parsed,
// else a fallback that wants exactly one ':' after strict base64.
function auth_credentials()
{
	$user = $_SERVER['PHP_AUTH_USER'] ?? null;
	$pw = $_SERVER['PHP_AUTH_PW'] ?? null;
	if ($user !== null && $pw !== null)
		return [$user, $pw];
	$str = $_SERVER['HTTP_AUTHORIZATION'] ?? null;
	if ($str !== null && preg_match('/Basic\s+(.*)$/', $str)) {
		$str = base64_decode(substr($str, 6), true);
		if ($str != false) {
			$parts = explode(':', $str);
			if (count($parts) == 2)
				return $parts;
		}
	}
	return [null, null];
}

// PHP's utf8_encode (deprecated in 8.2): every byte is a Latin-1 code point.
function latin1_to_utf8($s)
{
	return preg_replace_callback('/[\x80-\xff]/', function ($m) {
		$o = ord($m[0]);
		return chr(0xC0 | ($o >> 6)) . chr(0x80 | ($o & 0x3F));
	}, $s);
}

function password_hash_legacy($password)
{
	return md5(latin1_to_utf8((string)$password));
}

// num is PHP 5's arithmetic view of a query value: "abc" is 0, "12x" is 12.
function num($v)
{
	if (is_array($v))
		return 0;
	return is_numeric($v) ? $v + 0 : (float)$v;
}

// Segments of the raw path, never percent-decoded: the original server's
// router hands PHP the raw PATH_INFO (php -S and php-fpm alike), so it
// stored the id a%2Fb literally (REC #124) and GET …/x%20y looks for the
// id "x%20y". Apache decoded PATH_INFO; the servers the tests run do not.
function path_segments($prefix)
{
	$path = substr(strtok($_SERVER['REQUEST_URI'], '?'), strlen($prefix));
	return explode('/', $path);
}

$GLOBALS['storage_api'] = false;
$uri = strtok($_SERVER['REQUEST_URI'], '?');
if (strncmp($uri, '/1.0/', 5) === 0)
	storage_main(path_segments('/1.0/'));
elseif (strncmp($uri, '/user/1.0/', 10) === 0)
	user_main(path_segments('/user/1.0/'));
else
	http_response_code(404);
