package app

import (
	"encoding/json"
	"os"
	"path/filepath"
)

// RuntimeFile, in the data directory, tells the command-line tools where a
// running server listens, so that the URLs they print (whmapi1
// create_user_session) work. The server writes it once bound and removes it
// on a clean stop; it holds no secret.
const RuntimeFile = "listeners.json"

// Runtime is the content of RuntimeFile.
type Runtime struct {
	Hostname string         `json:"hostname"`
	Ports    map[string]int `json:"ports"` // TLS ports by service
	PID      int            `json:"pid"`
}

// WriteRuntime records where this process listens.
func (a *App) WriteRuntime(ports map[string]int) error {
	data, err := json.Marshal(Runtime{Hostname: a.Config.Hostname, Ports: ports, PID: os.Getpid()})
	if err != nil {
		return err
	}
	path := filepath.Join(a.Config.DataDir, RuntimeFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// RemoveRuntime removes the runtime file if this process wrote it.
func (a *App) RemoveRuntime() {
	path := filepath.Join(a.Config.DataDir, RuntimeFile)
	if rt, ok := readRuntime(path); ok && rt.PID == os.Getpid() {
		os.Remove(path)
	}
}

func readRuntime(path string) (Runtime, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Runtime{}, false
	}
	var rt Runtime
	if json.Unmarshal(data, &rt) != nil {
		return Runtime{}, false
	}
	return rt, true
}

// runtime returns what a server on this data directory recorded, if any.
func (a *App) runtime() (Runtime, bool) {
	return readRuntime(filepath.Join(a.Config.DataDir, RuntimeFile))
}

// Hostname is the host name for session URLs: the configured one when it
// was set explicitly, else the one a running server on this data directory
// uses, else the configured default.
func (a *App) Hostname() string {
	if !a.Config.HostnameSet {
		if rt, ok := a.runtime(); ok && rt.Hostname != "" {
			return rt.Hostname
		}
	}
	return a.Config.Hostname
}
