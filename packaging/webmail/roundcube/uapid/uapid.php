<?php

/**
 * uapid: Roundcube as the Webmail client of a uapid server.
 *
 * uapid (https://github.com/uapid/uapid) hands a mailbox's Webmail session
 * to Roundcube through Roundcube's own OAuth 2.0 login (the oauth_* settings);
 * Dovecot then checks the access token with uapid on every IMAP login. This
 * plugin closes the two gaps that leaves:
 *
 *  - Logging out of Roundcube revokes the token at uapid (RFC 7009), which
 *    ends the uapid session and every token of it, and sends the browser to
 *    the session's return URL (the portal's) or back to uapid.
 *  - When the IMAP server refuses the token because the uapid session has
 *    ended (a logout elsewhere, the idle or absolute limit, a suspended
 *    mailbox or account), the Roundcube session ends as well and the browser
 *    gets Roundcube's login page with its session error, rather than a
 *    Roundcube that stays logged in to a mailbox it can no longer read.
 *
 * Settings (config.inc.php), next to Roundcube's oauth_* settings, which the
 * plugin uses for the client credentials and the TLS check:
 *
 *   // uapid's Webmail address; default: scheme, host and port of oauth_auth_uri
 *   $config['uapid_url'] = 'https://mail.example.com:2096';
 *
 * The plugin is part of uapid and shares its license (Apache-2.0).
 */
class uapid extends rcube_plugin
{
    /** @var bool the current request logs out a session that uapid logged in */
    private $oauth_logout = false;

    /** @var string|null the token to revoke on logout */
    private $logout_token;

    /** @var string|null where the browser goes after logout */
    private $return_url;

    /** @var array|null the user info of the OAuth login in progress */
    private $identity;

    public function init()
    {
        $this->add_hook('startup', [$this, 'startup']);
        $this->add_hook('oauth_login', [$this, 'oauth_login']);
        $this->add_hook('login_after', [$this, 'login_after']);
        $this->add_hook('storage_connect', [$this, 'storage_connect']);
        $this->add_hook('logout_after', [$this, 'logout_after']);
    }

    /**
     * Before the request is handled: keep what a logout needs (Roundcube
     * destroys its session before the logout_after hook), and keep
     * Roundcube's OAuth login from sending the browser straight back to
     * uapid when this plugin ended the session on purpose.
     */
    public function startup($args)
    {
        $rcmail = rcmail::get_instance();

        if ($args['task'] == 'logout' && !empty($_SESSION['oauth_token'])) {
            $this->oauth_logout = true;
            $this->logout_token = $this->session_token();
            $this->return_url   = isset($_SESSION['uapid_return_url']) ? $_SESSION['uapid_return_url'] : null;
        }

        if ($args['task'] == 'login' && rcube_utils::get_input_string('_uapid', rcube_utils::INPUT_GET) === 'ended') {
            // The login page shows its session error instead of redirecting.
            $rcmail->oauth->login_failed([]);
        }

        return $args;
    }

    /**
     * The token that stands for the session: the refresh token, which lives
     * as long as the uapid session, else the access token.
     */
    private function session_token()
    {
        $rcmail = rcmail::get_instance();
        $token  = $_SESSION['oauth_token'];

        if (!empty($token['refresh_token'])) {
            return $rcmail->decrypt($token['refresh_token']);
        }

        $authorization = $rcmail->decrypt($_SESSION['password']);
        if (is_string($authorization) && stripos($authorization, 'Bearer ') === 0) {
            return substr($authorization, 7);
        }

        return null;
    }

    /**
     * Roundcube obtained tokens and the user info: remember the session's
     * return URL, if uapid gave one.
     */
    public function oauth_login($args)
    {
        $this->identity = isset($args['identity']) && is_array($args['identity']) ? $args['identity'] : null;

        return $args;
    }

    public function login_after($args)
    {
        if (!empty($this->identity['return_url']) && preg_match('~^https?://~i', $this->identity['return_url'])) {
            $_SESSION['uapid_return_url'] = $this->identity['return_url'];
        }

        return $args;
    }

    /**
     * IMAP logins of a session that uapid logged in: when the login fails,
     * find out why. Roundcube calls this hook once per attempt; asking for a
     * retry brings the second call, which sees the first one's failure.
     */
    public function storage_connect($args)
    {
        if (empty($_SESSION['oauth_token']) || empty($_SESSION['user_id'])) {
            return $args;
        }

        if ($args['attempt'] == 1) {
            $args['retry'] = true;
            return $args;
        }

        // The first login failed: no second one.
        $args['retry'] = false;

        $rcmail = rcmail::get_instance();
        $error  = (string) $rcmail->get_storage()->get_error_str();

        // [AUTHENTICATIONFAILED] (RFC 5530) is the server refusing the
        // token; anything else (the server or uapid unreachable, a temporary
        // failure) is reported by Roundcube as a storage error, and the
        // session stays.
        if (strpos($error, '[AUTHENTICATIONFAILED]') !== false) {
            $this->end_session();
        }

        return $args;
    }

    /**
     * Ends the Roundcube session whose token uapid no longer accepts and
     * sends the browser to the login page with Roundcube's session error.
     */
    private function end_session()
    {
        $rcmail = rcmail::get_instance();

        rcube::write_log('userlogins', sprintf('uapid: the IMAP server refused the token of %s; Roundcube session ended',
            isset($_SESSION['username']) ? $_SESSION['username'] : '?'));

        $rcmail->kill_session();

        $params = ['_task' => 'login', '_err' => 'session', '_uapid' => 'ended'];

        if ($rcmail->output->ajax_call || !empty($_REQUEST['_framed'])) {
            $rcmail->output->command('session_error', $rcmail->url($params));
            $rcmail->output->send($rcmail->output->ajax_call ? null : 'iframe');
            exit;
        }

        $rcmail->output->redirect($params, 0);
        exit;
    }

    /**
     * After a logout: revoke the token at uapid, which ends the uapid
     * session, and leave Roundcube for the return URL or for uapid.
     */
    public function logout_after($args)
    {
        if (!$this->oauth_logout) {
            return $args;
        }

        if ($this->logout_token) {
            $this->revoke($this->logout_token);
        }

        header('Location: ' . ($this->return_url ?: $this->uapid_url() . '/'));
        exit;
    }

    /**
     * uapid's Webmail address: the uapid_url setting, else the scheme, host
     * and port of oauth_auth_uri.
     */
    private function uapid_url()
    {
        $rcmail = rcmail::get_instance();

        if ($url = $rcmail->config->get('uapid_url')) {
            return rtrim($url, '/');
        }

        $parts = parse_url((string) $rcmail->config->get('oauth_auth_uri'));
        $url   = (isset($parts['scheme']) ? $parts['scheme'] : 'https') . '://' . (isset($parts['host']) ? $parts['host'] : 'localhost');

        if (!empty($parts['port'])) {
            $url .= ':' . $parts['port'];
        }

        return $url;
    }

    /**
     * Revokes token at uapid (RFC 7009) as the OAuth client Roundcube is.
     */
    private function revoke($token)
    {
        $rcmail = rcmail::get_instance();

        try {
            $client = new \GuzzleHttp\Client([
                'timeout' => 10.0,
                'verify'  => $rcmail->config->get('oauth_verify_peer', true),
            ]);

            $client->post($this->uapid_url() . '/oauth2/revoke', [
                'form_params' => [
                    'token'         => $token,
                    'client_id'     => $rcmail->config->get('oauth_client_id'),
                    'client_secret' => $rcmail->config->get('oauth_client_secret'),
                ],
            ]);
        }
        catch (\Exception $e) {
            // The message names the endpoint and status, never the token.
            rcube::raise_error([
                    'code'    => 500,
                    'file'    => __FILE__,
                    'line'    => __LINE__,
                    'message' => 'uapid: the token could not be revoked: ' . $e->getCode(),
                ], true, false
            );
        }
    }
}
