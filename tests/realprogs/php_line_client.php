<?php
// Client of a line echo server on 127.0.0.1:PORT (the argument): sends
// LINES lines over one stream_socket_client() (a non-blocking connect that
// PHP waits for with poll) and checks each echo. Prints how many came back,
// or the connect's error with exit status 1.
$lines = 200;
$port = (int)$argv[1];
$sock = @stream_socket_client("tcp://127.0.0.1:$port", $errno, $errstr, 20);
if ($sock === false) {
    echo "connect: $errno $errstr\n";
    exit(1);
}
$good = 0;
for ($i = 0; $i < $lines; $i++) {
    $line = "php line $i " . str_repeat("x", $i % 50) . "\n";
    fwrite($sock, $line);
    if (fgets($sock) === $line) {
        $good++;
    }
}
fclose($sock);
echo "echo: $good of $lines lines back\n";
