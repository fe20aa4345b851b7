package memstore

// Keys returns how many keys a holds (for tests).
func Keys(a *Attempts) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.keys)
}
