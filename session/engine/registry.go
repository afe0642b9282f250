package engine

import (
	"sync"
	"sync/atomic"
)

const registryShards = 64

// Registry holds the live sessions of one service by id, so transports (and
// later a cluster layer) can find them. It is sharded so that lookups on a
// busy gateway do not contend on one lock. Safe for concurrent use.
type Registry struct {
	shards [registryShards]registryShard
	count  atomic.Int64
}

type registryShard struct {
	mu sync.RWMutex
	m  map[string]*SockJS
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	r := &Registry{}
	for i := range r.shards {
		r.shards[i].m = make(map[string]*SockJS)
	}
	return r
}

func (r *Registry) shard(id string) *registryShard {
	// FNV-1a, inline to avoid allocating a hash.Hash per lookup.
	h := uint32(2166136261)
	for i := 0; i < len(id); i++ {
		h ^= uint32(id[i])
		h *= 16777619
	}
	return &r.shards[h%registryShards]
}

// Get returns the session held under id, or nil.
func (r *Registry) Get(id string) *SockJS {
	sh := r.shard(id)
	sh.mu.RLock()
	s := sh.m[id]
	sh.mu.RUnlock()
	return s
}

// GetOrCreate returns the session held under id, creating it with create
// when there is none; created tells which. id is usually the session's id;
// a caller may hold sessions under keys of its own (see RemoveKey). create runs under the shard lock and
// may return nil to refuse (a limit is reached), in which case GetOrCreate
// returns nil, false.
func (r *Registry) GetOrCreate(id string, create func() *SockJS) (s *SockJS, created bool) {
	sh := r.shard(id)
	sh.mu.RLock()
	s = sh.m[id]
	sh.mu.RUnlock()
	if s != nil {
		return s, false
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if s = sh.m[id]; s != nil {
		return s, false
	}
	if s = create(); s == nil {
		return nil, false
	}
	sh.m[id] = s
	r.count.Add(1)
	return s, true
}

// Remove drops s, if the registry still holds s under its id.
func (r *Registry) Remove(s *SockJS) { r.RemoveKey(s.id, s) }

// RemoveKey drops s, if the registry still holds s under key: a session
// created by GetOrCreate under a key other than its id (the gateway binds
// sessions to their client that way).
func (r *Registry) RemoveKey(key string, s *SockJS) {
	sh := r.shard(key)
	sh.mu.Lock()
	if sh.m[key] == s {
		delete(sh.m, key)
		r.count.Add(-1)
	}
	sh.mu.Unlock()
}

// Len is the number of sessions held.
func (r *Registry) Len() int { return int(r.count.Load()) }

// Range calls f for every session held (a snapshot) until f returns false.
func (r *Registry) Range(f func(*SockJS) bool) {
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.RLock()
		list := make([]*SockJS, 0, len(sh.m))
		for _, s := range sh.m {
			list = append(list, s)
		}
		sh.mu.RUnlock()
		for _, s := range list {
			if !f(s) {
				return
			}
		}
	}
}
