package cluster

// Crash closes b as a crashed process would leave it: without a goodbye.
func (b *NATSBus) Crash() {
	b.mu.Lock()
	b.crash = true
	b.mu.Unlock()
	_ = b.Close()
}
