<?php
// phpMyAdmin signs on to uapid's cPanel sessions as their temporary
// database user (docs/phpmyadmin.md in the uapid repository).
//
// Install as /etc/phpmyadmin/conf.d/uapid.php: Debian's
// /etc/phpmyadmin/config.inc.php includes it with $i set to the server it
// configures. Paths are those of docs/phpmyadmin.md; change them together
// with the web server's configuration.

$cfg['Servers'][$i]['verbose'] = 'uapid';
$cfg['Servers'][$i]['auth_type'] = 'signon';
// uapid's temporary users may connect from localhost only: the socket.
$cfg['Servers'][$i]['host'] = 'localhost';
$cfg['Servers'][$i]['socket'] = '/run/mysqld/mysqld.sock';
// The sign-on script: included on every request (it asks uapid whether the
// cPanel session still lives), and the page phpMyAdmin sends the browser to
// when it is signed out, after its own logout too (the web server serves
// the script at /uapid-signon.php).
$cfg['Servers'][$i]['SignonScript'] = '/usr/share/uapid/phpmyadmin/uapid-signon.php';
$cfg['Servers'][$i]['SignonURL'] = '/uapid-signon.php';
$cfg['Servers'][$i]['LogoutURL'] = '/uapid-signon.php?uapid_error=logged_out';
$cfg['Servers'][$i]['AllowRoot'] = false;
$cfg['Servers'][$i]['AllowNoPassword'] = false;
$cfg['ServerDefault'] = $i;
// The password belongs to the cPanel session and databases are made in
// cPanel, as on cPanel itself.
$cfg['ShowChgPassword'] = false;
$cfg['ShowCreateDb'] = false;
