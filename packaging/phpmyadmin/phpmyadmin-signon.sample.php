<?php
// Settings of uapid's phpMyAdmin sign-on script (docs/phpmyadmin.md in the
// uapid repository). Install as /etc/uapid/phpmyadmin-signon.php, readable
// by the PHP processes (root:www-data, mode 0640).
return [
    // Where the script reaches uapid's cPanel port (server to server).
    'uapid_url' => 'https://127.0.0.1:2083',
    // The resource server's secret: the file given to uapid as
    // --resource-servers phpmyadmin:/etc/uapid/phpmyadmin.secret.
    'secret_file' => '/etc/uapid/phpmyadmin.secret',
    'name' => 'phpmyadmin',
    // uapid's certificate: its self-signed one copied where PHP may read
    // it, or '' when uapid has a certificate of a public authority
    // (--tls-cert).
    'ca_file' => '/etc/uapid/uapid-cert.pem',
    // The name uapid's certificate is checked against ('' = the host of
    // uapid_url; uapid's self-signed certificate holds localhost and
    // 127.0.0.1).
    'tls_peer_name' => '',
    // Seconds to wait for uapid.
    'timeout' => 10,
    // Where the sign-on page links back to.
    'cpanel_url' => 'https://cpanel.example.com:2083/',
];
