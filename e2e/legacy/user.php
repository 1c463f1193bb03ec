<?php
// User API 1.0: see the header of router.php. Bodies keep PHP's default
// Content-type (text/html; charset=UTF-8), as the recordings show.

function user_main($seg)
{
	[$url_user, $action] = array_pad($seg, 2, '');
	$url_user = strtolower($url_user);
	if (!$url_user)
		report_problem(3, 400);
	if (!$action)
		$action = 'none';
	try {
		switch ($_SERVER['REQUEST_METHOD']) {
			case 'GET':
				user_get($url_user, $action);
				break;
			case 'PUT':
				user_create($url_user);
				break;
			case 'POST':
				user_post($url_user, $action);
				break;
			case 'DELETE':
				// Whatever follows the name, as the legacy server did: a
				// DELETE of /user/1.0/<u>/<anything> deletes the account.
				user_delete($url_user);
				break;
		}
	} catch (Unavailable $e) {
		report_problem('Database unavailable', 503);
	}
	print "success\t"; // the tab trailed the legacy file's closing tag
}

function user_get($url_user, $action)
{
	switch ($action) {
		case 'node':
			$location = q('select location from users where username = ?', [$url_user])->fetchColumn();
			if (!$location)
				report_problem('No location', 404);
			exit('https://' . $location . '/');
		case 'none':
			exit(q('select count(*) from users where username = ?', [$url_user])->fetchColumn() ? '1' : '0');
		case 'email':
			verify_user($url_user);
			exit((string)q('select email from users where username = ?', [$url_user])->fetchColumn());
		default:
			report_problem(1, 400);
	}
}

function user_create($url_user)
{
	// utf8_encode before decoding, as legacy did: passwords are hashed in
	// that double-encoded form, and so are the ones checked at login.
	$json = json_decode(latin1_to_utf8(file_get_contents('php://input')), true);
	if ($json === null)
		report_problem(6, 400);
	if (!preg_match('/^[A-Z0-9._-]+$/i', $url_user))
		report_problem(3, 400);
	if (q('select count(*) from users where username = ?', [$url_user])->fetchColumn())
		report_problem(4, 400);
	$field = function ($k) use ($json) {
		return is_array($json) && isset($json[$k]) && is_scalar($json[$k]) ? (string)$json[$k] : null;
	};
	$password = $field('password');
	if (!strong_enough($password, $url_user))
		report_problem(9, 400);
	q("insert into users (username, md5, email, location, status) values (?, ?, ?, '', 1)",
		[$url_user, md5($password), $field('email')]);
	exit(json_encode($url_user));
}

function user_post($url_user, $action)
{
	$alert = verify_user($url_user);
	if ($alert)
		header('X-Weave-Alert: ' . $alert, false);
	$body = substr(file_get_contents('php://input'), 0, 2048);
	switch ($action) {
		case 'password':
			if (!strong_enough($body, $url_user))
				report_problem(9, 400);
			q('update users set md5 = ? where username = ?', [password_hash_legacy($body), $url_user]);
			exit('1');
		case 'email':
			q('update users set email = ? where username = ?', [$body, $url_user]);
			exit($body);
		default:
			report_problem(1, 400);
	}
}

function user_delete($url_user)
{
	verify_user($url_user);
	// As the legacy server: its storage delete compares wbo.username (the
	// numeric id) with the NAME, which MySQL casts to a number, so a user's
	// items and collections rows stay behind (docs/compatibility.md, "User
	// deletion"), and a purely numeric name hits that id's rows instead.
	q('delete from wbo where username = ?', [$url_user]);
	q('delete from users where username = ?', [$url_user]);
}

function strong_enough($password, $user)
{
	return $password && $password != $user && strlen($password) >= 8;
}

// verify_user checks Basic auth for the User API: 401 "Authentication
// failed" without credentials or with a wrong password, 400 5 for another
// user's. It returns the user's alert text.
function verify_user($url_user)
{
	[$user, $pw] = auth_credentials();
	if (!$user)
		report_problem('Authentication failed', 401);
	if (strtolower($user) != $url_user)
		report_problem(5, 400);
	$row = q('select status, alert from users where username = ? and md5 = ?',
		[$url_user, password_hash_legacy($pw)])->fetch(PDO::FETCH_ASSOC);
	if (!$row || !$row['status'])
		report_problem('Authentication failed', 401);
	return $row['alert'];
}
