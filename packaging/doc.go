// Package packaging holds no code: the directory has the files to install
// uapid as a service (uapid.service, uapid.sysusers.conf and
// config.sample.yaml, the sample /etc/uapid/config.yaml), and in
// phpmyadmin/ those that put phpMyAdmin behind uapid's sign-on. Its test
// keeps them in step with the options of internal/config.
package packaging
