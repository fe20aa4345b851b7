// Package uapi is the core of cPanel's UAPI as uapid serves it: the result
// object, argument access with cPanel's standard missing/empty errors, the
// registry of modules and functions, and the encoders for the bare (HTTP) and
// wrapped (CLI, /json-api/cpanel) forms in JSON, YAML and XML.
//
// It knows nothing about sessions, stores or HTTP authentication: a function
// receives a Call (who calls, with which arguments) and returns a Result. The
// same function code therefore serves HTTP and the command line; only the
// Caller and the encoder differ.
package uapi
