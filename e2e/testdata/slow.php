<?php
// A slow legacy server for the fault tests (php -S with this router):
// ?ms=N waits N milliseconds before answering, ?status=S answers S. Each
// request holds a file in $SLOW_DIR/inflight while it runs and appends the
// number of requests in flight to $SLOW_DIR/concurrency, so a test can
// tell how many connections the proxy opened at once.
$dir = getenv('SLOW_DIR');
$mine = $dir . '/inflight/' . getmypid() . '-' . bin2hex(random_bytes(4));
touch($mine);
file_put_contents($dir . '/concurrency', count(glob($dir . '/inflight/*')) . "\n", FILE_APPEND | LOCK_EX);
usleep(1000 * (int)($_GET['ms'] ?? 0));
unlink($mine);
http_response_code((int)($_GET['status'] ?? 200));
header('Content-Type: application/json');
echo '"slow answer"';
