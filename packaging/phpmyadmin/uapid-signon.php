<?php
// uapid sign-on for phpMyAdmin.
//
// phpMyAdmin's "signon" authentication with this file as its SignonScript
// and its SignonURL (docs/phpmyadmin.md in the uapid repository):
//
//  - Included by phpMyAdmin on every request, it defines
//    get_login_credentials(). A request that carries a one-time ticket
//    from uapid (?uapid_signon=…) redeems it with uapid, keeps the handle
//    uapid answers in phpMyAdmin's own PHP session, and moves on to the
//    same address without the ticket. Every other request presents that handle
//    to uapid, which answers the cPanel session's temporary database user
//    and its password while the session lives, and refuses once it has
//    ended. The password is never stored here and never reaches the
//    browser: it travels only between this script and uapid, which the
//    script reaches as the resource server "phpmyadmin" (HTTP Basic).
//  - Requested by the browser (phpMyAdmin sends it here when it has no
//    credentials, and after its own logout), it shows why phpMyAdmin is
//    signed out.
//  - As the router of PHP's built-in server (a demo: php -S ADDR -t
//    /usr/share/phpmyadmin uapid-signon.php), it serves that page at
//    /uapid-signon.php and leaves every other request to the server.
//
// Settings: a PHP file returning an array, found through the constant
// UAPID_SIGNON_CONFIG, else the environment variable UAPID_SIGNON_CONFIG,
// else /etc/uapid/phpmyadmin-signon.php. Keys:
//
//   uapid_url      where this script reaches uapid's cPanel port,
//                  e.g. https://127.0.0.1:2083 (required)
//   secret_file    file whose first line is the resource server's secret
//                  (required; readable by the PHP process only)
//   name           the resource server's name (default "phpmyadmin")
//   ca_file        PEM file to trust for uapid's certificate (default: the
//                  system's certificate authorities)
//   tls_peer_name  name to check uapid's certificate against (default: the
//                  host of uapid_url)
//   timeout        seconds to wait for uapid (default 10)
//   cpanel_url     where the sign-on page links back to (optional)

declare(strict_types=1);

if (!class_exists('UapidSignOn', false)) {
    final class UapidSignOn
    {
        /** The query parameter that carries uapid's one-time ticket. */
        public const PARAM = 'uapid_signon';
        /** The query parameter of the sign-on page that says why. */
        public const REASON = 'uapid_error';
        /** What this script keeps in phpMyAdmin's PHP session. */
        private const KEY = 'uapid_signon';
        private const DEFAULT_SETTINGS = '/etc/uapid/phpmyadmin-signon.php';

        /**
         * The credentials phpMyAdmin connects with on this request, or
         * two empty strings when there are none (phpMyAdmin then sends the
         * browser to the sign-on page). It may answer the request itself
         * with a redirect.
         *
         * @return array{0: string, 1: string}
         */
        public static function credentials(): array
        {
            $settings = self::settings();
            if ($settings === null) {
                self::leave('config');
            }
            $ticket = $_GET[self::PARAM] ?? null;
            if ($ticket !== null) {
                self::redeem($settings, is_string($ticket) ? $ticket : '');
            }
            $state = $_SESSION[self::KEY] ?? [];
            if (is_array($state) && is_string($state['ended'] ?? null)) {
                // Every request of an ended sign-on says why, until a new
                // ticket signs on again.
                self::leave($state['ended']);
            }
            $handle = is_array($state) ? ($state['handle'] ?? null) : null;
            if (!is_string($handle) || $handle === '') {
                return ['', ''];
            }
            [$status, $answer] = self::ask($settings, ['handle' => $handle]);
            if ($status === 200 && self::good($answer)) {
                return [$answer['data']['user'], $answer['data']['password']];
            }
            if ($status === 403 && self::refusal($answer)) {
                // The cPanel session has ended (logout, expiry, revocation,
                // the account's suspension or removal): so has this
                // sign-on.
                $_SESSION[self::KEY] = ['ended' => 'ended'];
                self::leave('ended');
            }
            // uapid did not answer, or refused the script itself: keep the
            // handle, the next request asks again.
            self::leave($status === 401 || $status === 403 ? 'config' : 'unavailable');
        }

        /** redeem exchanges a ticket for a handle and never returns. */
        private static function redeem(array $settings, string $ticket): never
        {
            unset($_SESSION[self::KEY]);
            [$status, $answer] = self::ask($settings, ['ticket' => $ticket]);
            if ($status === 200 && self::good($answer) && is_string($answer['data']['handle'] ?? null)) {
                // A new sign-on gets a new phpMyAdmin session id.
                if (session_status() === PHP_SESSION_ACTIVE) {
                    session_regenerate_id(true);
                }
                $_SESSION[self::KEY] = [
                    'handle' => $answer['data']['handle'],
                    'account' => (string) ($answer['data']['account'] ?? ''),
                ];
                self::moveOn(self::currentWithout(self::PARAM));
            }
            if ($status === 403 && self::refusal($answer)) {
                self::leave($answer['message'] === 'invalid_login' ? 'denied' : 'ticket');
            }
            self::leave($status === 401 || $status === 403 ? 'config' : 'unavailable');
        }

        /**
         * refusal reports whether uapid refused the ticket or handle (its
         * session), rather than the script.
         */
        private static function refusal($answer): bool
        {
            return is_array($answer)
                && in_array($answer['message'] ?? null, ['invalid_session', 'expired_session', 'invalid_login'], true);
        }

        /** good reports whether uapid answered a temporary user. */
        private static function good($answer): bool
        {
            return is_array($answer) && ($answer['status'] ?? 0) === 1
                && is_string($answer['data']['user'] ?? null) && $answer['data']['user'] !== ''
                && is_string($answer['data']['password'] ?? null) && $answer['data']['password'] !== '';
        }

        /**
         * ask posts form to uapid's sign-on endpoint as the resource
         * server and returns the HTTP status (0 when uapid could not be
         * reached) and the decoded answer.
         *
         * @return array{0: int, 1: mixed}
         */
        private static function ask(array $settings, array $form): array
        {
            $secret = self::secret($settings['secret_file']);
            if ($secret === null) {
                return [401, null];
            }
            $url = rtrim($settings['uapid_url'], '/') . '/3rdparty/phpMyAdmin/signon';
            $ssl = ['verify_peer' => true, 'verify_peer_name' => true, 'SNI_enabled' => true];
            if ($settings['ca_file'] !== '') {
                $ssl['cafile'] = $settings['ca_file'];
            }
            if ($settings['tls_peer_name'] !== '') {
                $ssl['peer_name'] = $settings['tls_peer_name'];
            }
            $context = stream_context_create([
                'http' => [
                    'method' => 'POST',
                    'header' => 'Authorization: Basic ' . base64_encode($settings['name'] . ':' . $secret) . "\r\n"
                        . "Content-Type: application/x-www-form-urlencoded\r\n"
                        . "Accept: application/json\r\n",
                    'content' => http_build_query($form),
                    'timeout' => $settings['timeout'],
                    'ignore_errors' => true,
                    'follow_location' => 0,
                ],
                'ssl' => $ssl,
            ]);
            $http_response_header = [];
            $body = @file_get_contents($url, false, $context);
            if ($body === false || !isset($http_response_header[0])
                || !preg_match('#^HTTP/\S+\s+(\d{3})#', $http_response_header[0], $m)) {
                $error = error_get_last();
                error_log('uapid sign-on: cannot reach uapid at ' . $url . ': ' . ($error['message'] ?? 'no answer'));
                return [0, null];
            }
            $status = (int) $m[1];
            if ($status === 401) {
                error_log('uapid sign-on: uapid refused the credentials of the resource server "' . $settings['name'] . '"');
            } elseif ($status >= 500) {
                error_log('uapid sign-on: uapid answered ' . $status);
            }
            return [$status, json_decode($body, true)];
        }

        /** secret reads the resource server's secret (its first line). */
        private static function secret(string $file): ?string
        {
            $data = @file_get_contents($file);
            if ($data === false) {
                error_log('uapid sign-on: cannot read the secret file ' . $file);
                return null;
            }
            $line = rtrim(strtok($data, "\n") ?: '', "\r");
            return $line === '' ? null : $line;
        }

        /**
         * settings loads and checks the settings file; null (logged) when
         * it is missing or wrong.
         */
        public static function settings(bool $log = true): ?array
        {
            $complain = static function (string $m) use ($log): void {
                if ($log) {
                    error_log('uapid sign-on: ' . $m);
                }
            };
            $path = defined('UAPID_SIGNON_CONFIG') ? (string) constant('UAPID_SIGNON_CONFIG') : '';
            if ($path === '') {
                $env = getenv('UAPID_SIGNON_CONFIG');
                $path = is_string($env) && $env !== '' ? $env : self::DEFAULT_SETTINGS;
            }
            if (!is_readable($path)) {
                $complain('cannot read the settings file ' . $path);
                return null;
            }
            $s = include $path;
            if (!is_array($s)) {
                $complain('the settings file ' . $path . ' does not return an array');
                return null;
            }
            $s += ['name' => 'phpmyadmin', 'ca_file' => '', 'tls_peer_name' => '', 'timeout' => 10, 'cpanel_url' => ''];
            foreach (['uapid_url', 'secret_file', 'name', 'ca_file', 'tls_peer_name', 'cpanel_url'] as $k) {
                if (!is_string($s[$k] ?? null)) {
                    $complain($path . ': "' . $k . '" must be a string');
                    return null;
                }
            }
            if (!preg_match('#^https?://[^/?\#]+/?$#', $s['uapid_url'])) {
                $complain($path . ': "uapid_url" must be http(s)://host:port');
                return null;
            }
            $s['timeout'] = max(1, (int) $s['timeout']);
            return $s;
        }

        /** currentWithout is this request's address without the parameter. */
        private static function currentWithout(string $param): string
        {
            $uri = (string) ($_SERVER['REQUEST_URI'] ?? '/');
            $path = (string) parse_url($uri, PHP_URL_PATH);
            parse_str((string) parse_url($uri, PHP_URL_QUERY), $query);
            unset($query[$param]);
            $rest = http_build_query($query);
            return ($path === '' ? '/' : $path) . ($rest === '' ? '' : '?' . $rest);
        }

        /**
         * leave sends the browser to the sign-on page with the reason and
         * ends the request.
         */
        private static function leave(string $reason): never
        {
            $page = (string) ($GLOBALS['cfg']['Server']['SignonURL'] ?? '');
            if ($page === '') {
                $page = 'uapid-signon.php';
            }
            self::redirect($page . (strpos($page, '?') === false ? '?' : '&') . self::REASON . '=' . rawurlencode($reason));
        }

        private static function redirect(string $location): never
        {
            if (session_status() === PHP_SESSION_ACTIVE) {
                session_write_close();
            }
            header('Cache-Control: no-store');
            header('Referrer-Policy: no-referrer');
            header('Location: ' . $location, true, 302);
            exit;
        }

        /**
         * moveOn ends the request with a page that moves on to location by
         * itself. phpMyAdmin's session cookie is SameSite=Strict: a browser
         * that comes from cPanel (another site) does not send it with the
         * redirects of that navigation, so a plain redirect would arrive
         * without the session just signed on. A page of phpMyAdmin's own
         * site that moves on is a navigation of that site, which sends it.
         */
        private static function moveOn(string $location): never
        {
            if (session_status() === PHP_SESSION_ACTIVE) {
                session_write_close();
            }
            $to = htmlspecialchars($location, ENT_QUOTES | ENT_HTML5, 'UTF-8');
            header('Content-Type: text/html; charset=utf-8');
            header('Cache-Control: no-store');
            header('Referrer-Policy: no-referrer');
            header("Content-Security-Policy: default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
            echo '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
                . '<meta http-equiv="refresh" content="0;url=' . $to . '"><title>phpMyAdmin</title></head>'
                . '<body><p>Signing in to phpMyAdmin… <a id="continue" href="' . $to . '">Continue</a></p></body></html>';
            exit;
        }

        /** page shows the sign-on page (the browser's SignonURL). */
        public static function page(): void
        {
            $messages = [
                'ended' => 'Your cPanel session has ended, so phpMyAdmin has signed you out and its temporary database user is gone.'
                    . ' Log in to cPanel again and open phpMyAdmin from there.',
                'logged_out' => 'You have logged out of phpMyAdmin. Your cPanel session goes on: open phpMyAdmin from cPanel again when you need it.',
                'ticket' => 'This phpMyAdmin link was already used, has expired, or its cPanel session has ended. Open phpMyAdmin from cPanel again.',
                'denied' => 'This account may not log in (it is suspended or was removed).',
                'unavailable' => 'phpMyAdmin cannot reach cPanel to check your session right now. Try again in a moment.',
                'config' => 'The phpMyAdmin sign-on is not set up correctly. Ask your hosting provider to look at the web server\'s error log.',
            ];
            $reason = $_GET[self::REASON] ?? '';
            $reason = is_string($reason) && isset($messages[$reason]) ? $reason : 'none';
            $text = $messages[$reason]
                ?? 'phpMyAdmin signs you in from cPanel, as your cPanel session\'s temporary database user. Open phpMyAdmin from cPanel.'
                . ' (If phpMyAdmin could not connect to the database, your cPanel session may have ended.)';
            $settings = self::settings(false);
            $back = $settings !== null ? $settings['cpanel_url'] : '';
            header('Content-Type: text/html; charset=utf-8');
            header('Cache-Control: no-store');
            header('Referrer-Policy: no-referrer');
            header('X-Frame-Options: DENY');
            header("Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
            $h = static fn (string $s): string => htmlspecialchars($s, ENT_QUOTES | ENT_HTML5, 'UTF-8');
            echo '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
                . '<meta name="viewport" content="width=device-width,initial-scale=1"><title>phpMyAdmin sign-on</title>'
                . '<style>body{font-family:system-ui,sans-serif;background:#f4f6f8;color:#1d2733;margin:0}'
                . 'main{max-width:32rem;margin:4rem auto;background:#fff;border-radius:8px;padding:2rem;box-shadow:0 1px 4px rgba(0,0,0,.12)}'
                . 'h1{font-size:1.3rem;margin-top:0}</style></head><body><main><h1>phpMyAdmin</h1>'
                . '<p id="reason" data-reason="' . $h($reason) . '">' . $h($text) . '</p>'
                . ($back !== '' ? '<p><a id="cpanel" href="' . $h($back) . '">Go to cPanel</a></p>' : '')
                . '</main></body></html>';
        }
    }
}

if (!function_exists('get_login_credentials')) {
    /**
     * phpMyAdmin's signon hook (SignonScript): the user and password to
     * connect with on this request.
     *
     * @param string $user the configured user (unused)
     *
     * @return array{0: string, 1: string}
     */
    function get_login_credentials($user)
    {
        return UapidSignOn::credentials();
    }
}

if (!defined('PHPMYADMIN')) {
    if (PHP_SAPI === 'cli-server' && parse_url((string) ($_SERVER['REQUEST_URI'] ?? '/'), PHP_URL_PATH) !== '/uapid-signon.php') {
        // The router of PHP's built-in server (a demo): every other
        // request is served as usual.
        return false;
    }
    UapidSignOn::page();
}
