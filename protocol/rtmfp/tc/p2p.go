package tc

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nimbus-media/nimbus/amf"
	"github.com/nimbus-media/nimbus/protocol"
	"github.com/nimbus-media/nimbus/protocol/rtmfp"
)

// Direct peer-to-peer NetStreams (Flash NetStream.DIRECT_CONNECTIONS).
//
// A publisher makes a stream available to peers without sending it to the
// server: `new NetStream(nc, NetStream.DIRECT_CONNECTIONS)` and publish.
// A player plays it by the publisher's peer ID: `new NetStream(nc,
// farID)` and play. The player's client opens an RTMFP session to the
// publisher's peer ID through the server it is connected to (the server
// answers with a Redirect and forwards the IHello, reference
// rtmfp-flash-profile.md §4), so the session runs directly between the
// two peers. There is no NetConnection on such a session: the player
// opens a TC flow for a NetStream numbered from 2000000 (librtmfp's and
// Flash's numbering, metadata 54 43 04 fa 89 01 for the first) and sends
// play on it. The publisher answers on flows returning to that one, with
// the same metadata: StreamBegin, onStatus NetStream.Play.Reset and
// NetStream.Play.Start, |RtmpSampleAccess, then the stream's data, audio
// and video on separate flows (so late video can be abandoned without
// holding up audio), as a server would.

// P2PStreamBase is added to a NetStream's number on direct sessions.
const P2PStreamBase = 2000000

// ErrStreamNotFound is returned by DirectStream when the peer does not
// publish the stream.
var ErrStreamNotFound = errors.New("tc: peer does not publish that stream")

// P2P is the direct-connection side of a Client: it accepts the sessions
// peers open to this client's peer ID and serves them the streams
// published with Publish, and it plays other peers' streams.
type P2P struct {
	c    *Client
	ctx  context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup

	mu       sync.Mutex
	streams  map[string]*DirectPublisher
	sessions map[*rtmfp.Session]struct{}
}

// NewP2P starts accepting direct sessions on the client's endpoint. Close
// it before closing the client.
func NewP2P(c *Client) *P2P {
	ctx, stop := context.WithCancel(context.Background())
	p := &P2P{c: c, ctx: ctx, stop: stop, streams: make(map[string]*DirectPublisher), sessions: make(map[*rtmfp.Session]struct{})}
	p.wg.Add(1)
	go p.acceptSessions()
	return p
}

// PeerID is this client's peer ID, which players name (NetConnection.nearID).
func (p *P2P) PeerID() [32]byte { return p.c.ep.PeerID() }

// Close ends every direct session and waits for the goroutines.
func (p *P2P) Close() error {
	p.stop()
	p.mu.Lock()
	sessions := make([]*rtmfp.Session, 0, len(p.sessions))
	for s := range p.sessions {
		sessions = append(sessions, s)
	}
	p.mu.Unlock()
	// Open sessions close in an orderly way (a Close acknowledged by the
	// peer); sessions the peer already closed are left to finish their
	// linger, which the endpoint's Close cuts short.
	var wg sync.WaitGroup
	for _, s := range sessions {
		if s.Err() == nil {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = s.Close()
			}()
		}
	}
	wg.Wait()
	p.wg.Wait()
	return nil
}

func (p *P2P) track(s *rtmfp.Session) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ctx.Err() != nil {
		return false
	}
	p.sessions[s] = struct{}{}
	return true
}

func (p *P2P) untrack(s *rtmfp.Session) {
	p.mu.Lock()
	delete(p.sessions, s)
	p.mu.Unlock()
}

// acceptSessions serves the sessions peers open to us.
func (p *P2P) acceptSessions() {
	defer p.wg.Done()
	for {
		s, err := p.c.ep.Accept(p.ctx)
		if err != nil {
			return
		}
		if !p.track(s) {
			go s.Close()
			continue
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer p.untrack(s)
			p.servePeer(s)
		}()
	}
}

// servePeer answers the play requests of one peer's session until it ends.
func (p *P2P) servePeer(s *rtmfp.Session) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		f, err := s.AcceptFlow(p.ctx)
		if err != nil {
			return
		}
		kind, md, err := ParseMetadata(f.Metadata())
		if err != nil || kind != KindTC || md.StreamID <= P2PStreamBase {
			f.Reject(0)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.serveStream(s, f, md.StreamID)
		}()
	}
}

// serveStream reads a player's NetStream flow: play attaches it to the
// published stream; the end of the flow detaches it.
func (p *P2P) serveStream(s *rtmfp.Session, f *rtmfp.RecvFlow, streamID uint32) {
	dec := amf.NewDecoder()
	var sub *directSub
	defer func() {
		if sub != nil {
			sub.pub.detach(sub)
		}
	}()
	for {
		m, err := f.ReadMessage(p.ctx)
		if err != nil {
			return
		}
		msg, err := ParseMessage(m.Data, streamID)
		if err != nil || (msg.Type != protocol.TypeCommandAMF0 && msg.Type != protocol.TypeCommandAMF3) {
			continue
		}
		cmd, err := protocol.DecodeCommand(dec, msg.Type, msg.Payload)
		if err != nil || cmd.Name != "play" || sub != nil {
			continue
		}
		name := cmd.ArgString(0)
		p.mu.Lock()
		pub := p.streams[name]
		p.mu.Unlock()
		if sub, err = newDirectSub(s, f, streamID, name, pub); err != nil {
			return
		}
	}
}

// Publish makes a stream available to peers that play it by this
// client's peer ID. Publishing a name twice replaces the first publisher.
func (p *P2P) Publish(name string) *DirectPublisher {
	pub := &DirectPublisher{p: p, name: name, subs: make(map[*directSub]struct{})}
	p.mu.Lock()
	p.streams[name] = pub
	p.mu.Unlock()
	return pub
}

// DirectPublisher is a stream published to direct players.
type DirectPublisher struct {
	p    *P2P
	name string

	mu      sync.Mutex
	subs    map[*directSub]struct{}
	scratch []byte
	joined  chan struct{} // closed and replaced when a player attaches
}

// directSub is one player of a direct stream: the flows returning to its
// NetStream flow.
type directSub struct {
	pub      *DirectPublisher
	streamID uint32
	flows    [3]*rtmfp.SendFlow // commands and data, audio, video
}

// newDirectSub answers a play: the status sequence, and (for a stream we
// publish) attachment to the publisher. Unknown streams get
// NetStream.Play.StreamNotFound and no subscription.
func newDirectSub(s *rtmfp.Session, f *rtmfp.RecvFlow, streamID uint32, name string, pub *DirectPublisher) (*directSub, error) {
	sub := &directSub{pub: pub, streamID: streamID}
	md := AppendMetadata(nil, Metadata{StreamID: streamID})
	flows := sub.flows[:1] // an unknown stream gets its status on one flow
	if pub != nil {
		flows = sub.flows[:]
	}
	for i := range flows {
		sf, err := s.OpenFlow(md, rtmfp.FlowOptions{ReturnFor: f})
		if err != nil {
			for _, o := range flows[:i] {
				_ = o.Close()
			}
			return nil, err
		}
		flows[i] = sf
	}
	status := func(level, code, desc string) protocol.Message {
		b, _ := protocol.AppendCommand(nil, "onStatus", 0, nil, protocol.StatusObject(level, code, desc))
		return protocol.Message{Type: protocol.TypeCommandAMF0, StreamID: streamID, Payload: b}
	}
	var msgs []protocol.Message
	if pub == nil {
		msgs = append(msgs, status(protocol.LevelError, protocol.PlayStreamNotFound, "Failed to play "+name+"; stream not found."))
	} else {
		access, _ := protocol.AppendValues(nil, "|RtmpSampleAccess", true, true)
		msgs = append(msgs,
			protocol.Message{Type: protocol.TypeUserControl, Payload: protocol.AppendUserControl(nil, protocol.UserControl{Event: protocol.EventStreamBegin, StreamID: streamID})},
			status(protocol.LevelStatus, protocol.PlayReset, "Playing and resetting "+name+"."),
			status(protocol.LevelStatus, protocol.PlayStart, "Started playing "+name+"."),
			protocol.Message{Type: protocol.TypeDataAMF0, StreamID: streamID, Payload: access})
	}
	for _, m := range msgs {
		if err := sub.flows[0].Write(AppendMessage(nil, m), rtmfp.WriteOptions{}); err != nil {
			sub.close()
			return nil, err
		}
	}
	if pub == nil {
		sub.close() // delivers what was written, then ends the flow
		return nil, nil
	}
	pub.attach(sub)
	return sub, nil
}

func (d *DirectPublisher) attach(sub *directSub) {
	d.mu.Lock()
	d.subs[sub] = struct{}{}
	if d.joined != nil {
		close(d.joined)
		d.joined = nil
	}
	d.mu.Unlock()
}

func (d *DirectPublisher) detach(sub *directSub) {
	d.mu.Lock()
	delete(d.subs, sub)
	d.mu.Unlock()
	sub.close()
}

// close ends the player's flows (each after its queued messages).
func (sub *directSub) close() {
	for _, f := range sub.flows {
		if f != nil {
			_ = f.Close()
		}
	}
}

// Players is the number of peers playing the stream.
func (d *DirectPublisher) Players() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.subs)
}

// WaitPlayers waits until at least n peers play the stream.
func (d *DirectPublisher) WaitPlayers(ctx context.Context, n int) error {
	for {
		d.mu.Lock()
		if len(d.subs) >= n {
			d.mu.Unlock()
			return nil
		}
		if d.joined == nil {
			d.joined = make(chan struct{})
		}
		joined := d.joined
		d.mu.Unlock()
		select {
		case <-joined:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// WriteMessage sends a data, audio or video message to every player.
// Audio and video carry a transmit deadline when deadline > 0 and are
// dropped for a player whose flow is full; data is reliable.
func (d *DirectPublisher) WriteMessage(m protocol.Message, deadline time.Duration) error {
	kind := 0
	switch m.Type {
	case protocol.TypeAudio:
		kind = 1
	case protocol.TypeVideo:
		kind = 2
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var errs []error
	for sub := range d.subs {
		m.StreamID = sub.streamID
		d.scratch = AppendMessage(d.scratch[:0], m)
		opts := rtmfp.WriteOptions{}
		if kind != 0 {
			opts.Deadline = deadline
		}
		err := sub.flows[kind].Write(d.scratch, opts)
		if err != nil && !(kind != 0 && errors.Is(err, rtmfp.ErrWouldBlock)) {
			errs = append(errs, fmt.Errorf("tc: direct player: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Close stops publishing: players are detached and new plays of the name
// find no stream.
func (d *DirectPublisher) Close() {
	d.p.mu.Lock()
	if d.p.streams[d.name] == d {
		delete(d.p.streams, d.name)
	}
	d.p.mu.Unlock()
	d.mu.Lock()
	subs := d.subs
	d.subs = make(map[*directSub]struct{})
	d.mu.Unlock()
	for sub := range subs {
		sub.close()
	}
}

// DirectStream is a stream played directly from a peer: a NetStream on a
// session with the peer, with the RTMP client's methods (WaitStatus,
// ReadMessage) over it.
type DirectStream struct {
	*protocol.ClientConn
	// StreamID is the NetStream's number on the direct session.
	StreamID uint32
	p        *P2P
	s        *rtmfp.Session
	flow     *rtmfp.SendFlow
	ctx      context.Context
	stop     context.CancelFunc
	wg       sync.WaitGroup
	in       chan protocol.Message
	sync     flowSync

	mu       sync.Mutex
	deadline time.Time
}

// Play opens a direct session to the peer with peerID, introduced by the
// client's server, and plays name from it. It returns once the peer has
// answered NetStream.Play.Start (ErrStreamNotFound if it does not publish
// name).
func (p *P2P) Play(ctx context.Context, peerID [32]byte, name string) (*DirectStream, error) {
	s, err := p.c.ep.DialPeer(ctx, peerID, p.c.s.RemoteAddr())
	if err != nil {
		return nil, err
	}
	if !p.track(s) {
		_ = s.Close()
		return nil, rtmfp.ErrClosed
	}
	ds, err := p.play(ctx, s, name)
	if err != nil {
		_ = s.Close()
		p.untrack(s)
		return nil, err
	}
	return ds, nil
}

func (p *P2P) play(ctx context.Context, s *rtmfp.Session, name string) (*DirectStream, error) {
	id := uint32(P2PStreamBase + 1)
	flow, err := s.OpenFlow(AppendMetadata(nil, Metadata{StreamID: id}), rtmfp.FlowOptions{})
	if err != nil {
		return nil, err
	}
	rctx, stop := context.WithCancel(p.ctx)
	ds := &DirectStream{StreamID: id, p: p, s: s, flow: flow, ctx: rctx, stop: stop, in: make(chan protocol.Message, 256)}
	ds.ClientConn = protocol.NewClientConn(directPipe{ds}, false)
	ds.wg.Add(1)
	go ds.acceptFlows()
	if dl, ok := ctx.Deadline(); ok {
		ds.SetDeadline(dl)
		defer ds.SetDeadline(time.Time{})
	}
	if err := ds.ClientConn.Play(id, name, -1); err != nil {
		ds.Close()
		var se *protocol.StatusError
		if errors.As(err, &se) && se.Code == protocol.PlayStreamNotFound {
			return nil, fmt.Errorf("%w: %s", ErrStreamNotFound, name)
		}
		return nil, err
	}
	return ds, nil
}

// Session is the direct session with the publishing peer.
func (ds *DirectStream) Session() *rtmfp.Session { return ds.s }

// SetDeadline bounds ReadMessage and WaitStatus; zero removes the bound.
func (ds *DirectStream) SetDeadline(t time.Time) {
	ds.mu.Lock()
	ds.deadline = t
	ds.mu.Unlock()
}

// Close stops playing and closes the direct session.
func (ds *DirectStream) Close() error {
	ds.stop()
	_ = ds.flow.Close()
	err := ds.s.Close()
	ds.wg.Wait()
	ds.p.untrack(ds.s)
	return err
}

func (ds *DirectStream) acceptFlows() {
	defer ds.wg.Done()
	for {
		f, err := ds.s.AcceptFlow(ds.ctx)
		if err != nil {
			return
		}
		kind, md, err := ParseMetadata(f.Metadata())
		if err != nil || kind != KindTC || f.Association() != ds.flow {
			f.Reject(0)
			continue
		}
		ds.wg.Add(1)
		go func() {
			defer ds.wg.Done()
			readInto(ds.ctx, f, md.StreamID, &ds.sync, ds.in)
		}()
	}
}

// readInto delivers a flow's TC messages to in, honouring Flow
// Synchronization events.
func readInto(ctx context.Context, f *rtmfp.RecvFlow, streamID uint32, sync *flowSync, in chan<- protocol.Message) {
	for {
		m, err := f.ReadMessage(ctx)
		if err != nil {
			return
		}
		msg, err := ParseMessage(m.Data, streamID)
		if err != nil {
			continue
		}
		if msg.Type == protocol.TypeUserControl {
			if uc, err := protocol.ParseUserControl(msg.Payload); err == nil && uc.Event == protocol.EventFlowSync {
				sync.arrive(ctx, uc.SyncID, uc.SyncCount)
				continue
			}
		}
		msg.Payload = append([]byte(nil), msg.Payload...)
		select {
		case in <- msg:
		case <-ctx.Done():
			return
		}
	}
}

// directPipe is a direct stream's flows as a protocol.MessagePipe.
type directPipe struct{ ds *DirectStream }

func (p directPipe) WriteMessage(m protocol.Message) error {
	return p.ds.flow.WriteContext(p.ds.ctx, AppendMessage(nil, m), rtmfp.WriteOptions{})
}

func (p directPipe) ReadMessage() (protocol.Message, error) {
	p.ds.mu.Lock()
	dl := p.ds.deadline
	p.ds.mu.Unlock()
	timeout, stop := deadlineTimer(dl)
	defer stop()
	select {
	case m := <-p.ds.in:
		return m, nil
	case <-p.ds.s.Done():
		return protocol.Message{}, p.ds.s.Err()
	case <-timeout:
		return protocol.Message{}, ErrTimeout
	}
}
