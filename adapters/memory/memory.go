package memory

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cardsaddon/extprod/ports"
)

var (
	_ ports.UserStore   = (*Users)(nil)
	_ ports.ScriptStore = (*Scripts)(nil)
	_ ports.Mailer      = (*Mailer)(nil)
	_ ports.AuditSink   = (*AuditLog)(nil)
	_ ports.Clock       = (*Clock)(nil)
	_ ports.Clock       = SystemClock{}
	_ ports.IDSource    = (*IDs)(nil)
)

// Users is an in-memory user directory.
type Users struct {
	mu    sync.RWMutex
	users map[string]ports.User
}

// NewUsers returns a directory holding users.
func NewUsers(users ...ports.User) *Users {
	u := &Users{users: make(map[string]ports.User, len(users))}
	for _, user := range users {
		u.Put(user)
	}
	return u
}

// Put adds or replaces a user.
func (u *Users) Put(user ports.User) {
	user.Attributes = maps.Clone(user.Attributes)
	u.mu.Lock()
	defer u.mu.Unlock()
	u.users[user.ID] = user
}

// User implements [ports.UserStore].
func (u *Users) User(ctx context.Context, id string) (ports.User, error) {
	u.mu.RLock()
	defer u.mu.RUnlock()
	user, ok := u.users[id]
	if !ok {
		return ports.User{}, fmt.Errorf("user %s: %w", id, ports.ErrNotFound)
	}
	user.Attributes = maps.Clone(user.Attributes)
	return user, nil
}

// Scripts keeps the installed option script in memory. Its zero value is ready to use (no script
// installed).
type Scripts struct {
	mu              sync.Mutex
	source, version string
}

// Script implements [ports.ScriptStore].
func (s *Scripts) Script(ctx context.Context) (string, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.version == "" {
		return "", "", ports.ErrNotFound
	}
	return s.source, s.version, nil
}

// ReplaceScript implements [ports.ScriptStore].
func (s *Scripts) ReplaceScript(ctx context.Context, source, version, expectVersion string) error {
	if version == "" {
		return errors.New("replace script: empty version")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.version != expectVersion {
		return fmt.Errorf("replace script: installed version is %q, not %q: %w", s.version, expectVersion, ports.ErrConflict)
	}
	s.source, s.version = source, version
	return nil
}

// Mailer records the notifications it is asked to send. Fail makes it refuse them, to test that a
// mail outage loses nothing. Its zero value is ready to use.
type Mailer struct {
	mu   sync.Mutex
	sent []ports.Notification
	fail error
}

// Fail makes every later Send return err; nil makes it deliver again.
func (m *Mailer) Fail(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fail = err
}

// Send implements [ports.Mailer].
func (m *Mailer) Send(ctx context.Context, n ports.Notification) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	m.sent = append(m.sent, n)
	return nil
}

// Sent returns the notifications delivered so far, in order (a notification retried after an
// unknown outcome may appear more than once, with the same ID).
func (m *Mailer) Sent() []ports.Notification {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.sent)
}

// AuditLog records audit events, deduplicated by id. Its zero value is ready to use.
type AuditLog struct {
	mu     sync.Mutex
	seen   map[string]bool
	events []ports.AuditEvent
	fail   error
}

// Fail makes every later Record return err; nil makes it record again.
func (a *AuditLog) Fail(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.fail = err
}

// Record implements [ports.AuditSink].
func (a *AuditLog) Record(ctx context.Context, e ports.AuditEvent) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fail != nil {
		return a.fail
	}
	if a.seen[e.ID] {
		return nil
	}
	if a.seen == nil {
		a.seen = make(map[string]bool)
	}
	a.seen[e.ID] = true
	a.events = append(a.events, e)
	return nil
}

// Events returns the recorded events in order.
func (a *AuditLog) Events() []ports.AuditEvent {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.events)
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now implements [ports.Clock].
func (SystemClock) Now() time.Time { return time.Now() }

// Clock is a manual clock for tests: it stands still until moved.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock standing at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now implements [ports.Clock].
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// IDs gives ids "<prefix><n>" with n counting from 1: unique within the process, ordered, and
// deterministic for tests.
type IDs struct {
	prefix string
	n      atomic.Uint64
}

// NewIDs returns an id source whose ids start with prefix.
func NewIDs(prefix string) *IDs { return &IDs{prefix: prefix} }

// NewID implements [ports.IDSource].
func (s *IDs) NewID() string {
	return s.prefix + strconv.FormatUint(s.n.Add(1), 10)
}
