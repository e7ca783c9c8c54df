// Package rtmfpconn is the RTMFP transport's glue: it serves an RTMFP
// session to the NetConnection layer (package netconn), one goroutine
// reading the client's flows and sends onto per-stream flows from
// whichever goroutine queued something, and the session's part in P2P:
// the rendezvous peer table and NetGroup bootstrap (package p2p). It also
// opens the RTMFP endpoint; admitting sessions is the server's.
package rtmfpconn

import (
	"context"
	"errors"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/protocol"
	"github.com/nimbus-media/nimbus/protocol/rtmfp"
	"github.com/nimbus-media/nimbus/protocol/rtmfp/tc"
	"github.com/nimbus-media/nimbus/server/config"
	"github.com/nimbus-media/nimbus/server/netconn"
)

// Flow exception codes the server rejects flows with.
const (
	rejectUnknownStream = 0x5e // a NetStream flow for a stream ID never created (tcserver's code)
	rejectUnsupported   = 0    // metadata the server does not serve (P2P-only flows)
)

// rtmfpFlowKind separates a NetStream's traffic over flows, so that late
// video can be abandoned without holding up audio or commands.
type rtmfpFlowKind uint8

const (
	flowCommands rtmfpFlowKind = iota // commands, data, user control
	flowAudio
	flowVideo
)

type rtmfpFlowKey struct {
	stream uint32
	kind   rtmfpFlowKind
}

// Conn is the RTMFP transport of one client session: its goroutine
// (run) feeds the messages of the client's flows to the NetConnection core
// (which serialises its input itself), and a sender role drains the core's
// outbox onto the session's flows (Wake).
type Conn struct {
	id   string
	s    *rtmfp.Session
	cfg  config.RTMFPConfig
	log  *zap.Logger
	core *netconn.Conn
	p2p  *rtmfpPeer // rendezvous and NetGroup state (netgroup.go)

	ctx     context.Context
	cancel  context.CancelCauseFunc
	wg      sync.WaitGroup  // NetGroup control flows' goroutines
	closeWG *sync.WaitGroup // the server's: orderly session closes in progress

	ncRecv atomic.Pointer[rtmfp.RecvFlow] // the client's NetConnection flow

	lastRead  atomic.Int64
	bytesIn   atomic.Uint64
	bytesOut  atomic.Uint64
	closeOnce sync.Once
	closed    atomic.Bool

	// sender is the role of writing to the flows (Wake); its holder owns
	// the state below.
	sender netconn.SenderRole
	// The sender's state. carry holds what the fast path left for the
	// sender goroutine, in order.
	carry   []netconn.Outgoing
	flows   map[rtmfpFlowKey]*rtmfp.SendFlow
	synced  map[uint32]bool // streams whose flows were synchronised
	syncID  uint32
	waitKey map[uint32]bool // streams whose video dropped a frame: skip to a keyframe
	scratch []byte
}

// Protocol implements netconn.Transport.
func (c *Conn) Protocol() string { return "rtmfp" }

// RemoteAddr implements netconn.Transport.
func (c *Conn) RemoteAddr() net.Addr {
	return net.UDPAddrFromAddrPort(c.s.RemoteAddr())
}

// Silence implements netconn.Transport.
func (c *Conn) Silence() time.Duration { return time.Since(time.Unix(0, c.lastRead.Load())) }

// Stats implements netconn.Transport.
func (c *Conn) Stats() netconn.TransportStats {
	return netconn.TransportStats{BytesIn: c.bytesIn.Load(), BytesOut: c.bytesOut.Load(), RTT: c.s.RTT()}
}

var _ netconn.Transport = (*Conn)(nil)

// Context implements netconn.Transport: cancelled by Close.
func (c *Conn) Context() context.Context { return c.ctx }

// ConnectAccepted implements netconn.Transport: RTMFP has no chunk or
// window settings to send before the connect result.
func (c *Conn) ConnectAccepted(*netconn.Outbox) error { return nil }

// InputPending implements netconn.Transport. It always reports false:
// RTMFP flows are read a message at a time, with no byte stream to look
// ahead in.
func (c *Conn) InputPending() bool { return false }

// ConnectResultSent tells the client the keepalive periods we want, right
// after the connect result, as AMS and MonaServer do (RFC 7425 §5.3.4).
func (c *Conn) ConnectResultSent(out *netconn.Outbox) error {
	return out.Push(protocol.Message{Type: protocol.TypeUserControl, Payload: protocol.AppendUserControl(nil, protocol.UserControl{
		Event:           protocol.EventSetKeepalive,
		ServerKeepalive: uint32(c.cfg.ServerKeepalive.Milliseconds()),
		PeerKeepalive:   uint32(c.cfg.PeerKeepalive.Milliseconds()),
	})})
}

// Shutdown tells a connected client the server is going away.
func (c *Conn) Shutdown() { c.core.Shutdown(c.Close) }

// Close implements netconn.Transport. The orderly session close waits for
// the peer's acknowledgement, so it runs in the background.
func (c *Conn) Close(cause error) {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		c.cancel(cause)
		c.closeWG.Add(1)
		go func() {
			defer c.closeWG.Done()
			_ = c.s.Close()
		}()
	})
}

// run serves the session until it ends; it returns after every goroutine
// has stopped and the core has released the client's streams.
func (c *Conn) run() {
	start := time.Now()
	c.lastRead.Store(start.UnixNano())
	c.serveFlows()
	c.wg.Wait()
	c.sender.Stop()
	// The client's streams go as soon as its session does, not after the
	// session's close handshake or linger.
	c.core.Close()
	cause := context.Cause(c.ctx)
	fields := []zap.Field{zap.Duration("duration", time.Since(start)),
		zap.Uint64("bytes_in", c.bytesIn.Load()), zap.Uint64("bytes_out", c.bytesOut.Load())}
	if cause != nil && !errors.Is(cause, rtmfp.ErrPeerClosed) && !errors.Is(cause, rtmfp.ErrClosed) {
		fields = append(fields, zap.Error(cause))
	}
	c.log.Info("closed", fields...)
}

// tcFlow is a TC flow the client opened, read by serveFlows.
type tcFlow struct {
	f        *rtmfp.RecvFlow
	streamID uint32
}

// maxMessagesPerFlow is how many messages serveFlows takes from one flow
// before it looks at the others: a publisher's media flow does not hold
// up its NetConnection flow.
const maxMessagesPerFlow = 64

// serveFlows takes every flow the client opens and hands the messages of
// its TC flows to the core, all on the connection's goroutine: a player
// has a NetConnection flow and a flow per stream, and a goroutine per flow
// would be three per session waiting for the odd command. It returns when
// the session ends or the connection is closed.
func (c *Conn) serveFlows() {
	var flows []tcFlow
	for {
		busy := false
		for i := 0; i < len(flows); {
			state, err := c.readFlow(flows[i])
			if err != nil {
				c.Close(err)
				return
			}
			switch state {
			case flowEnded:
				flows = slices.Delete(flows, i, i+1)
				continue
			case flowBusy:
				busy = true
			}
			i++
		}
		for {
			f, err := c.s.TryAcceptFlow()
			if err != nil {
				// The session failed or the peer closed it; ctx is
				// done otherwise, and Close is then a no-op.
				c.Close(err)
				return
			}
			if f == nil {
				break
			}
			if streamID, ok := c.acceptFlow(f); ok {
				flows = append(flows, tcFlow{f: f, streamID: streamID})
				busy = true
			}
		}
		if busy {
			continue
		}
		select {
		case <-c.s.Readable():
			// The session's end brings a token too: the next pass reads
			// what came before it, then TryAcceptFlow reports it.
		case <-c.ctx.Done():
			return
		}
	}
}

// acceptFlow decides on a flow the client opened: its NetConnection flow
// and NetStream flows of streams it created are served (ok), NetGroup
// control flows get a goroutine of their own, anything else is refused.
func (c *Conn) acceptFlow(f *rtmfp.RecvFlow) (streamID uint32, ok bool) {
	kind, md, err := tc.ParseMetadata(f.Metadata())
	switch {
	case err != nil:
		c.log.Info("flow refused", zap.Error(err))
		f.Reject(rejectUnsupported)
		return 0, false
	case kind == tc.KindGroupControl:
		c.acceptGroupControl(f)
		return 0, false
	case kind != tc.KindTC:
		c.log.Debug("flow refused: not a TC flow", zap.Binary("metadata", f.Metadata()))
		f.Reject(rejectUnsupported)
		return 0, false
	case md.StreamID == 0:
		c.ncRecv.CompareAndSwap(nil, f)
	default:
		ok := c.core.HasStream(md.StreamID)
		if !ok || c.ncRecv.Load() == nil {
			c.log.Info("flow refused: unknown stream", zap.Uint32("stream", md.StreamID))
			f.Reject(rejectUnknownStream)
			return 0, false
		}
	}
	return md.StreamID, true
}

// flowState is what readFlow leaves a flow in.
type flowState uint8

const (
	flowIdle  flowState = iota // nothing more to read now
	flowBusy                   // maxMessagesPerFlow read; there may be more
	flowEnded                  // the client closed the flow
)

// readFlow hands the messages a flow has now to the core.
func (c *Conn) readFlow(tf tcFlow) (flowState, error) {
	for range maxMessagesPerFlow {
		m, ok, err := tf.f.TryReadMessage()
		if err != nil {
			// A flow ends on its own (the client closed it) or because
			// the session did: a peer's Close fails every flow at once,
			// while the session itself lingers to answer retransmissions.
			if serr := c.s.Err(); serr != nil {
				return flowEnded, serr
			}
			return flowEnded, nil
		}
		if !ok {
			return flowIdle, nil
		}
		c.lastRead.Store(time.Now().UnixNano())
		c.bytesIn.Add(uint64(len(m.Data)))
		msg, err := tc.ParseMessage(m.Data, tf.streamID)
		if err != nil {
			return flowEnded, err
		}
		err = c.core.HandleMessage(msg)
		if err != nil {
			return flowEnded, err
		}
	}
	return flowBusy, nil
}

// flowFor returns (opening on first use) the flow an outgoing message goes
// on: the NetConnection return flow for stream 0, otherwise the stream's
// flow for its kind. Stream user-control events (StreamBegin, EOF) travel
// on the stream's command flow.
func (c *Conn) flowFor(m *protocol.Message) (*rtmfp.SendFlow, error) {
	key, media := mediaFlowKey(m)
	if !media {
		key = rtmfpFlowKey{stream: m.StreamID}
	}
	switch m.Type {
	case protocol.TypeUserControl:
		if uc, err := protocol.ParseUserControl(m.Payload); err == nil {
			switch uc.Event {
			case protocol.EventStreamBegin, protocol.EventStreamEOF, protocol.EventStreamDry, protocol.EventStreamIsRecorded:
				key.stream = uc.StreamID
			}
		}
	}
	if f := c.flows[key]; f != nil {
		return f, nil
	}
	f, err := c.openFlow(key)
	if err != nil {
		return nil, err
	}
	if key.kind != flowCommands {
		// A stream's media starts: make its commands/data, audio and
		// video flows start in step (RFC 7425 §5.2 Flow Synchronization),
		// so the player sees the metadata sent so far before any media.
		if err := c.syncStream(key.stream); err != nil {
			return nil, err
		}
	}
	return f, nil
}

func (c *Conn) openFlow(key rtmfpFlowKey) (*rtmfp.SendFlow, error) {
	nc := c.ncRecv.Load()
	if nc == nil {
		return nil, errors.New("rtmfp: no NetConnection flow from the client")
	}
	f, err := c.s.OpenFlow(tc.AppendMetadata(nil, tc.Metadata{StreamID: key.stream}), rtmfp.FlowOptions{ReturnFor: nc})
	if err != nil {
		return nil, err
	}
	c.flows[key] = f
	return f, nil
}

// syncStream writes one Flow Synchronization event on each of stream's
// three flows (opening the missing ones), once per stream.
func (c *Conn) syncStream(stream uint32) error {
	if c.synced[stream] {
		return nil
	}
	c.synced[stream] = true
	c.syncID++
	uc := protocol.AppendUserControl(nil, protocol.UserControl{Event: protocol.EventFlowSync, SyncID: c.syncID, SyncCount: 3})
	msg := tc.AppendMessage(nil, protocol.Message{Type: protocol.TypeUserControl, Payload: uc})
	for _, kind := range []rtmfpFlowKind{flowCommands, flowAudio, flowVideo} {
		key := rtmfpFlowKey{stream: stream, kind: kind}
		f := c.flows[key]
		if f == nil {
			var err error
			if f, err = c.openFlow(key); err != nil {
				return err
			}
		}
		if err := f.WriteContext(c.ctx, msg, rtmfp.WriteOptions{}); err != nil {
			return err
		}
	}
	return nil
}

// Wake implements netconn.Waker. As on RTMP, the caller that finds
// no one sending becomes the sender: live audio and video for flows already
// open go onto them there and then (a flow write never waits: a full flow
// drops the frame), and this goroutine builds and sends the packets too
// (Session.Flush), so a player that keeps up costs no goroutine wake-up of
// its own. Anything that
// may wait (commands, sequence headers, opening a stream's flows, the
// close) is handed, with what follows it, to a sender goroutine. The
// session batches its own packets.
func (c *Conn) Wake() {
	if c.closed.Load() {
		return
	}
	if !c.sender.Acquire() {
		return
	}
	out := c.core.Outbox()
	for {
		var scratch [8]netconn.Outgoing
		batch := out.NextBatch(scratch[:0], len(scratch))
		for i := range batch {
			if !c.sendsAtOnce(&batch[i]) {
				c.s.Flush()
				c.carry = append(c.carry, batch[i:]...)
				c.sender.GoSend(c.sendWaiting)
				return
			}
			if err := c.send(&batch[i], true); err != nil {
				c.Close(err)
			}
		}
		if len(batch) > 0 {
			// This goroutine builds and sends the packets too, unless
			// the session's own is busy (then it is woken).
			c.s.Flush()
			if len(batch) == len(scratch) {
				continue
			}
			// A short batch emptied the outbox (NextBatch); what comes
			// meanwhile makes release report it.
		}
		if out.Closing() != nil {
			c.sender.GoSend(c.sendWaiting) // the close waits for acknowledgements
			return
		}
		if !c.sender.Release() {
			return
		}
	}
}

// sendsAtOnce reports whether o can be sent without waiting: live audio or
// video for a flow already open.
func (c *Conn) sendsAtOnce(o *netconn.Outgoing) bool {
	if !o.Media || o.SeqHeader {
		return false
	}
	key, ok := mediaFlowKey(&o.Message)
	return ok && c.flows[key] != nil
}

// mediaFlowKey is the flow of m when it is audio or video.
func mediaFlowKey(m *protocol.Message) (rtmfpFlowKey, bool) {
	switch m.Type {
	case protocol.TypeAudio:
		return rtmfpFlowKey{stream: m.StreamID, kind: flowAudio}, true
	case protocol.TypeVideo:
		return rtmfpFlowKey{stream: m.StreamID, kind: flowVideo}, true
	}
	return rtmfpFlowKey{}, false
}

// sendWaiting drains the carried messages and the outbox, waiting for
// room in the flows as needed, then gives the sender role up.
func (c *Conn) sendWaiting() {
	if err := c.sendCarried(); err != nil {
		c.Close(err)
		c.sender.Drop()
	}
}

func (c *Conn) sendCarried() error {
	out := c.core.Outbox()
	for {
		for len(c.carry) > 0 {
			o := c.carry[0]
			c.carry[0] = netconn.Outgoing{}
			c.carry = c.carry[1:]
			if err := c.send(&o, false); err != nil {
				return err
			}
		}
		c.carry = nil
		for {
			o, ok := out.Next()
			if !ok {
				break
			}
			if err := c.send(&o, false); err != nil {
				return err
			}
		}
		if cause := out.Closing(); cause != nil {
			c.drain()
			return cause
		}
		if !c.sender.Release() {
			return nil
		}
	}
}

// drainTimeout bounds how long a closing connection waits for its last
// messages (a rejection, a kick's status) to be acknowledged.
const drainTimeout = 3 * time.Second

// drain closes the send flows and waits until the client has acknowledged
// what they carry, so that the session close does not overtake them.
func (c *Conn) drain() {
	timeout := time.NewTimer(drainTimeout)
	defer timeout.Stop()
	for _, f := range c.flows {
		_ = f.Close()
	}
	for _, f := range c.flows {
		select {
		case <-f.Done():
		case <-timeout.C:
			return
		case <-c.ctx.Done():
			return
		}
	}
}

// send writes one outgoing message. Commands, status and sequence headers
// are reliable (waiting for buffer space); live media carries a transmit
// deadline and is dropped when its flow is full: a player that falls
// behind loses late frames instead of queueing them, and its video then
// resumes at a keyframe.
//
// With deferred, live media does not wake the session: the caller calls
// Session.Flush after its writes.
func (c *Conn) send(o *netconn.Outgoing, deferred bool) error {
	switch o.Type {
	case protocol.TypeSetChunkSize, protocol.TypeAbort, protocol.TypeAck, protocol.TypeWindowAckSize, protocol.TypeSetPeerBandwidth:
		return nil // RTMP chunk-stream control has no meaning on RTMFP
	}
	f, err := c.flowFor(&o.Message)
	if err != nil {
		return err
	}
	if !o.Media || o.SeqHeader {
		c.scratch = tc.AppendMessage(c.scratch[:0], o.Message)
		if err := f.WriteContext(c.ctx, c.scratch, rtmfp.WriteOptions{}); err != nil {
			return err
		}
		c.bytesOut.Add(uint64(len(c.scratch)))
		return nil
	}
	if o.Type == protocol.TypeVideo && c.waitKey[o.StreamID] {
		if !o.Keyframe {
			return nil
		}
		delete(c.waitKey, o.StreamID)
	}
	// A live frame's payload is shared by every player and never
	// changes: the flow references it instead of copying it.
	var head [tc.HeaderSize]byte
	tc.PutHeader(head[:], o.Message)
	err = f.WriteShared(head[:], o.Payload, rtmfp.WriteOptions{Deadline: c.cfg.MediaDeadline.Duration, Deferred: deferred})
	if errors.Is(err, rtmfp.ErrWouldBlock) {
		if o.Type == protocol.TypeVideo {
			c.waitKey[o.StreamID] = true
		}
		return nil
	}
	if err == nil {
		c.bytesOut.Add(uint64(tc.HeaderSize + len(o.Payload)))
	}
	return err
}
