package apps

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"

	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/amf"
	"github.com/nimbus-media/nimbus/protocol"
)

// SharedObjectSubscriber is a client subscribed to a SharedObject.
type SharedObjectSubscriber interface {
	// SendSharedObject delivers one message to the client. It is called
	// with the SharedObject locked, so every subscriber sees the versions
	// in order; it must not block, must not call back into the
	// SharedObject and must not keep m after returning.
	SendSharedObject(m *protocol.SharedObjectMessage)
}

// SyncEvent is one entry of the list a script's onSync receives for
// changes made by clients (AMS SharedObject.onSync).
type SyncEvent struct {
	Code     string // "change", "delete"
	Name     string
	OldValue any
}

// SharedObject is a remote SharedObject of an instance: named slots of AMF
// values with a version, shared by the subscribed clients and the script.
type SharedObject struct {
	inst       *Instance
	name       string
	persistent bool

	mu        sync.Mutex
	version   uint32
	slots     map[string]any
	subs      []SharedObjectSubscriber
	locks     int
	batch     []protocol.SOEvent // script changes made while locked
	held      bool               // the script holds a reference
	closed    bool
	onSync    func([]SyncEvent)
	onMessage func(handler string, args []any)

	msg   protocol.SharedObjectMessage // scratch for outgoing messages
	evbuf [1]protocol.SOEvent
	saved []byte         // scratch for the store's encoding
	sizes map[string]int // AMF-encoded size of each slot, for the size limit
	bytes int            // their sum
	enc   []byte         // scratch for measuring
}

func newSharedObject(inst *Instance, name string, persistent bool) *SharedObject {
	return &SharedObject{inst: inst, name: name, persistent: persistent, slots: make(map[string]any)}
}

// Name is the SharedObject's name within its instance.
func (so *SharedObject) Name() string { return so.name }

// Persistent tells whether the SharedObject is saved to disk.
func (so *SharedObject) Persistent() bool { return so.persistent }

// Version is the current version; it increases with every change.
func (so *SharedObject) Version() uint32 {
	so.mu.Lock()
	defer so.mu.Unlock()
	return so.version
}

// Size is the number of slots.
func (so *SharedObject) Size() int {
	so.mu.Lock()
	defer so.mu.Unlock()
	return len(so.slots)
}

// Subscribers is the number of subscribed clients.
func (so *SharedObject) Subscribers() int {
	so.mu.Lock()
	defer so.mu.Unlock()
	return len(so.subs)
}

// Subscribe adds a client (a Use event) and sends it the whole state:
// UseSuccess, Clear and one Change per slot, in one message. A client that
// subscribes twice gets the state again.
func (so *SharedObject) Subscribe(sub SharedObjectSubscriber) error {
	so.mu.Lock()
	defer so.mu.Unlock()
	if so.closed {
		return ErrUnloaded
	}
	if !slices.Contains(so.subs, sub) {
		so.subs = append(so.subs, sub)
	}
	events := make([]protocol.SOEvent, 0, 2+len(so.slots))
	events = append(events, protocol.SOEvent{Type: protocol.SOUseSuccess}, protocol.SOEvent{Type: protocol.SOClear})
	for _, k := range so.namesLocked() {
		events = append(events, protocol.SOEvent{Type: protocol.SOChange, Key: k, Value: so.slots[k]})
	}
	so.sendLocked(sub, events)
	return nil
}

// Unsubscribe removes a client (a Release event, or its disconnect). A
// temporary SharedObject that nobody uses any more is dropped.
func (so *SharedObject) Unsubscribe(sub SharedObjectSubscriber) {
	so.mu.Lock()
	if i := slices.Index(so.subs, sub); i >= 0 {
		so.subs = slices.Delete(so.subs, i, i+1)
	}
	drop := len(so.subs) == 0 && !so.held && !so.persistent
	so.mu.Unlock()
	if drop {
		so.inst.release(so)
	}
}

// RequestChange applies a client's change of key (RequestChange): the
// requester gets Success once the change is saved, every other subscriber
// a Change, and the script's onSync a "change" entry. While the script
// holds the SharedObject locked the change is refused with ErrLocked and
// the requester gets the current value back, so its copy rolls back.
func (so *SharedObject) RequestChange(sub SharedObjectSubscriber, key string, value any) error {
	return so.request(sub, key, value, false)
}

// RequestRemove deletes a client's slot (RequestRemove): the requester gets
// Success, the others Remove, the script's onSync a "delete" entry.
func (so *SharedObject) RequestRemove(sub SharedObjectSubscriber, key string) error {
	return so.request(sub, key, nil, true)
}

func (so *SharedObject) request(sub SharedObjectSubscriber, key string, value any, remove bool) error {
	so.mu.Lock()
	if so.closed {
		so.mu.Unlock()
		return ErrUnloaded
	}
	old, had := so.slots[key]
	if so.locks > 0 {
		so.sendOneLocked(sub, so.slotEvent(key, old, !had))
		so.mu.Unlock()
		return ErrLocked
	}
	if !remove {
		if err := so.admitLocked(key, value, had); err != nil {
			// Refused: the requester is told and rolls back to the
			// slot's current value.
			so.sendOneLocked(sub, protocol.SOEvent{Type: protocol.SOStatus, Key: protocol.SONoWriteAccess, Value: protocol.LevelError})
			so.sendOneLocked(sub, so.slotEvent(key, old, !had))
			so.mu.Unlock()
			return err
		}
	}
	if remove {
		delete(so.slots, key)
		so.bytes -= so.sizes[key]
		delete(so.sizes, key)
	} else {
		so.slots[key] = value
	}
	so.version++
	so.saveLocked()
	so.sendOneLocked(sub, protocol.SOEvent{Type: protocol.SOSuccess, Key: key})
	so.broadcastLocked(sub, so.slotEvent(key, value, remove))
	onSync := so.onSync
	so.mu.Unlock()
	if onSync != nil {
		code := "change"
		if remove {
			code = "delete"
		}
		onSync([]SyncEvent{{Code: code, Name: key, OldValue: old}})
	}
	return nil
}

// ErrSOLimit refuses a change that would take a SharedObject past its
// slot count or size bound.
var ErrSOLimit = errors.New("apps: shared object limit reached")

// admitLocked checks a client's change against the SharedObject's bounds
// and, when it fits, accounts for it.
func (so *SharedObject) admitLocked(key string, value any, had bool) error {
	lim := so.inst.soLimit
	if lim.MaxSlots > 0 && !had && len(so.slots) >= lim.MaxSlots {
		return fmt.Errorf("%w: %d slots", ErrSOLimit, lim.MaxSlots)
	}
	if lim.MaxBytes <= 0 {
		return nil
	}
	var err error
	if so.enc, err = amf.AppendAMF0(so.enc[:0], value); err != nil {
		return err
	}
	n := len(key) + len(so.enc)
	if so.sizes == nil {
		so.sizes = make(map[string]int)
	}
	if total := so.bytes - so.sizes[key] + n; total > lim.MaxBytes {
		return fmt.Errorf("%w: %d bytes", ErrSOLimit, lim.MaxBytes)
	}
	so.bytes += n - so.sizes[key]
	so.sizes[key] = n
	return nil
}

// slotEvent is the Change (or Remove) event that tells a client a slot's value.
func (so *SharedObject) slotEvent(key string, value any, removed bool) protocol.SOEvent {
	if removed {
		return protocol.SOEvent{Type: protocol.SORemove, Key: key}
	}
	return protocol.SOEvent{Type: protocol.SOChange, Key: key, Value: value}
}

// SendMessage relays a client's (or the script's, with a nil sub)
// so.send(handler, args...) to every subscriber, the sender included, and
// to the script's handler of that name.
func (so *SharedObject) SendMessage(sub SharedObjectSubscriber, handler string, args []any) {
	so.mu.Lock()
	if so.closed {
		so.mu.Unlock()
		return
	}
	so.broadcastLocked(nil, protocol.SOEvent{Type: protocol.SOSendMessage, Key: handler, Args: args})
	onMessage := so.onMessage
	so.mu.Unlock()
	if onMessage != nil && sub != nil {
		onMessage(handler, args)
	}
}

// SetHandlers sets the script callbacks for client changes (onSync) and
// client messages (handlers named by so.send). They are called without the
// SharedObject locked and must not block.
func (so *SharedObject) SetHandlers(onSync func([]SyncEvent), onMessage func(handler string, args []any)) {
	so.mu.Lock()
	so.onSync, so.onMessage = onSync, onMessage
	so.mu.Unlock()
}

// Hold records that the script holds a reference (SharedObject.get), which
// keeps a temporary SharedObject alive without subscribers.
func (so *SharedObject) Hold() {
	so.mu.Lock()
	so.held = true
	so.mu.Unlock()
}

// Release drops the script's reference (SharedObject.close).
func (so *SharedObject) Release() {
	so.mu.Lock()
	so.held = false
	so.onSync, so.onMessage = nil, nil
	drop := len(so.subs) == 0 && !so.persistent
	so.mu.Unlock()
	if drop {
		so.inst.release(so)
	}
}

// Get returns a slot's value.
func (so *SharedObject) Get(key string) (any, bool) {
	so.mu.Lock()
	defer so.mu.Unlock()
	v, ok := so.slots[key]
	return v, ok
}

// Names returns the slot names in sorted order.
func (so *SharedObject) Names() []string {
	so.mu.Lock()
	defer so.mu.Unlock()
	return so.namesLocked()
}

func (so *SharedObject) namesLocked() []string {
	names := make([]string, 0, len(so.slots))
	for k := range so.slots {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// Set changes a slot on the script's behalf (setProperty); a nil value
// deletes it, as in AMS. Subscribers get a Change (or Remove) at once, or
// at Unlock while the SharedObject is locked.
func (so *SharedObject) Set(key string, value any) {
	so.mu.Lock()
	defer so.mu.Unlock()
	if so.closed {
		return
	}
	if _, undef := value.(amf.Undefined); undef {
		value = nil
	}
	_, had := so.slots[key]
	remove := value == nil
	if remove && !had {
		return
	}
	if remove {
		delete(so.slots, key)
	} else {
		so.slots[key] = value
	}
	so.version++
	ev := so.slotEvent(key, value, remove)
	if so.locks > 0 {
		so.batch = append(so.batch, ev)
		return
	}
	so.saveLocked()
	so.broadcastLocked(nil, ev)
}

// Clear deletes every slot; subscribers get Clear.
func (so *SharedObject) Clear() {
	so.mu.Lock()
	defer so.mu.Unlock()
	if so.closed || len(so.slots) == 0 {
		return
	}
	clear(so.slots)
	clear(so.sizes)
	so.bytes = 0
	so.version++
	ev := protocol.SOEvent{Type: protocol.SOClear}
	if so.locks > 0 {
		so.batch = append(so.batch[:0], ev)
		return
	}
	so.saveLocked()
	so.broadcastLocked(nil, ev)
}

// Lock starts a batch of script changes (AMS SharedObject.lock): clients
// cannot change the SharedObject and see the script's changes only at the
// matching Unlock, in one message. Locks nest; Lock returns the depth.
func (so *SharedObject) Lock() int {
	so.mu.Lock()
	defer so.mu.Unlock()
	so.locks++
	return so.locks
}

// Unlock ends a Lock; the outermost Unlock sends the batched changes.
func (so *SharedObject) Unlock() int {
	so.mu.Lock()
	defer so.mu.Unlock()
	if so.locks == 0 {
		return 0
	}
	so.locks--
	if so.locks == 0 && len(so.batch) > 0 {
		so.saveLocked()
		for _, sub := range so.subs {
			so.sendLocked(sub, so.batch)
		}
		clear(so.batch)
		so.batch = so.batch[:0]
	}
	return so.locks
}

// Flush saves a persistent SharedObject now; changes are saved as they
// happen, so this only matters after a failed save.
func (so *SharedObject) Flush() {
	so.mu.Lock()
	so.saveLocked()
	so.mu.Unlock()
}

func (so *SharedObject) close() {
	so.mu.Lock()
	so.closed = true
	so.subs = nil
	so.onSync, so.onMessage = nil, nil
	so.mu.Unlock()
}

func (so *SharedObject) saveLocked() {
	if !so.persistent || so.inst.store == nil {
		return
	}
	var err error
	if so.saved, err = so.inst.store.save(so.saved[:0], so.name, so.version, so.slots); err != nil {
		so.inst.log.Error("cannot save shared object", zap.String("so", so.name), zap.Error(err))
	}
}

func (so *SharedObject) sendOneLocked(sub SharedObjectSubscriber, ev protocol.SOEvent) {
	so.evbuf[0] = ev
	so.sendLocked(sub, so.evbuf[:])
	so.evbuf[0] = protocol.SOEvent{}
}

func (so *SharedObject) sendLocked(sub SharedObjectSubscriber, events []protocol.SOEvent) {
	so.msg = protocol.SharedObjectMessage{Name: so.name, Version: so.version, Persistent: so.persistent, Events: events}
	sub.SendSharedObject(&so.msg)
	so.msg.Events = nil
}

// broadcastLocked sends one event to every subscriber except except.
func (so *SharedObject) broadcastLocked(except SharedObjectSubscriber, ev protocol.SOEvent) {
	so.evbuf[0] = ev
	for _, sub := range so.subs {
		if sub != except {
			so.sendLocked(sub, so.evbuf[:])
		}
	}
	so.evbuf[0] = protocol.SOEvent{}
}
