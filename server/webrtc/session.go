package webrtc

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	pion "github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/amf"
	"github.com/nimbus-media/nimbus/protocol"
	"github.com/nimbus-media/nimbus/server/httpflv"
	"github.com/nimbus-media/nimbus/server/netconn"
)

// Transaction IDs of the commands a session plays on the client's behalf.
const (
	txnConnect      = 1
	txnCreateStream = 2
)

// Close causes of a session.
var (
	// ErrUnpublished ends a viewer when its stream's publisher leaves, as
	// it ends an HTTP-FLV player: the browser's WHEP client starts anew.
	ErrUnpublished  = errors.New("webrtc: the stream was unpublished")
	errDeleted      = errors.New("webrtc: the client deleted the session")
	errPeerGone     = errors.New("webrtc: the peer connection failed or closed")
	errNoConnection = errors.New("webrtc: the client did not connect in time")
)

// session is one WHEP viewer or WHIP publisher as the NetConnection
// layer sees it (netconn.Transport, protocol "webrtc"): the request is
// played to the core as an RTMP client would, connect and createStream,
// then play(STREAM?query, -1000) or publish(STREAM?query, "live"), so the
// application's authorization decides as for RTMP and the admin API lists
// and counts it. Its media goes over a PeerConnection.
//
// One goroutine, run, owns the session once it is answered: a viewer's
// takes the frames from the outbox and writes them as RTP (Wake only
// signals it); a publisher's drains what the core says and waits for the
// end. A publisher's media comes on pion's track goroutines.
type session struct {
	id       string
	resource string // the session's URL segment: unguessable, it is what allows DELETE
	whip     bool
	remote   net.Addr
	target   httpflv.Target
	srv      *Server
	log      *zap.Logger
	core     *netconn.Conn
	streamID uint32
	start    time.Time

	query   string     // the request's, which the stream name carries
	connect amf.Object // the connect command's object (httpflv.ConnectObject)

	ctx    context.Context
	cancel context.CancelCauseFunc
	wake   chan struct{}

	bytesIn, bytesOut atomic.Uint64
	lastIn            atomic.Int64 // unix nanoseconds of the last packet received

	pc        *pion.PeerConnection
	connected chan struct{} // closed when the PeerConnection connects
	connOnce  sync.Once

	// readers are the goroutines of a publisher's tracks; readersMu
	// keeps one from starting once the session ends.
	readersMu   sync.Mutex
	readersDone bool
	readers     sync.WaitGroup

	viewer *viewer // a WHEP session's media state
}

func newSession(srv *Server, r *http.Request, tg httpflv.Target, whip bool, id, resource string) *session {
	kind := "whep"
	if whip {
		kind = "whip"
	}
	remote := httpflv.RemoteAddr(r)
	ctx, cancel := context.WithCancelCause(context.Background())
	s := &session{
		id: id, resource: resource, whip: whip, remote: remote, target: tg, srv: srv, start: time.Now(),
		query: r.URL.RawQuery, connect: httpflv.ConnectObject(tg, r),
		ctx: ctx, cancel: cancel, wake: make(chan struct{}, 1), connected: make(chan struct{}),
		log: srv.log.WithLazy(zap.String("conn", id), zap.String("proto", "webrtc"), zap.String("kind", kind),
			zap.String("remote", remote.String())),
	}
	s.lastIn.Store(s.start.UnixNano())
	s.core = netconn.NewConn(id, s, srv.deps.Apps, srv.deps.Core(), s.log)
	s.core.Outbox().SetWaker(s)
	return s
}

var _ netconn.Transport = (*session)(nil)

// Protocol implements netconn.Transport.
func (s *session) Protocol() string { return "webrtc" }

// RemoteAddr implements netconn.Transport: the HTTP client's address (the
// media may come from another, the ICE candidate pair's).
func (s *session) RemoteAddr() net.Addr { return s.remote }

// FarID implements netconn.Transport: WebRTC has no identity the core
// knows (the DTLS fingerprint is per session).
func (s *session) FarID() string { return "" }

// ConnectAccepted implements netconn.Transport: nothing precedes the result.
func (s *session) ConnectAccepted(*netconn.Outbox) error { return nil }

// ConnectInfo implements netconn.Transport: nothing to add.
func (s *session) ConnectInfo() []amf.Property { return nil }

// ConnectResultSent implements netconn.Transport: nothing follows.
func (s *session) ConnectResultSent(*netconn.Outbox) error { return nil }

// InputPending implements netconn.Transport: a publisher's pictures come
// one by one from its track's goroutine.
func (s *session) InputPending() bool { return false }

// Silence implements netconn.Transport: the time since the last RTP
// packet (a viewer sends none but RTCP, so its silence is its age).
func (s *session) Silence() time.Duration { return time.Since(time.Unix(0, s.lastIn.Load())) }

// Stats implements netconn.Transport: RTP payload bytes.
func (s *session) Stats() netconn.TransportStats {
	return netconn.TransportStats{BytesIn: s.bytesIn.Load(), BytesOut: s.bytesOut.Load()}
}

// Context implements netconn.Transport: cancelled by Close.
func (s *session) Context() context.Context { return s.ctx }

// Wake implements netconn.Waker: it signals run's goroutine and never waits.
func (s *session) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Close implements netconn.Transport: run sees the cause and ends the
// session.
func (s *session) Close(cause error) {
	s.cancel(cause)
	s.Wake()
}

// Shutdown tells the core the server is going away; the session is then
// closed.
func (s *session) Shutdown() { s.core.Shutdown(s.Close) }

// command feeds the core a command as if the client had sent it.
func (s *session) command(streamID uint32, name string, txn float64, obj any, args ...any) error {
	payload, err := protocol.AppendCommand(nil, name, txn, obj, args...)
	if err != nil {
		return fmt.Errorf("encode %s: %w", name, err)
	}
	return s.core.HandleMessage(protocol.Message{Type: protocol.TypeCommandAMF0, StreamID: streamID, Payload: payload})
}

// setup plays connect, createStream and play or publish to the core and
// waits for the application's decisions, up to timeout or until the HTTP
// client leaves (reqDone). It takes the core's messages one at a time and
// stops at Play.Start, so that the play's frames stay queued for run. A
// refusal comes back as an *answer.
func (s *session) setup(reqDone <-chan struct{}, timeout time.Duration) error {
	if err := s.command(0, "connect", txnConnect, s.connect); err != nil {
		return err
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	out := s.core.Outbox()
	var one [1]netconn.Outgoing
	for {
		for {
			b := out.NextBatch(one[:0], 1)
			if len(b) == 0 {
				break
			}
			done, err := s.setupReply(&b[0])
			clear(b)
			if err != nil || done {
				return err
			}
		}
		if cause := out.Closing(); cause != nil {
			return cause
		}
		select {
		case <-s.wake:
		case <-reqDone:
			return errors.New("the client left while the application decided")
		case <-s.ctx.Done():
			return context.Cause(s.ctx)
		case <-timer.C:
			return &httpflv.Answer{Status: http.StatusGatewayTimeout, Text: "the application did not decide in time"}
		}
	}
}

// setupReply moves the setup on with one of the core's replies; done
// says the play or publish has started.
func (s *session) setupReply(m *netconn.Outgoing) (done bool, err error) {
	if m.Media || m.Type != protocol.TypeCommandAMF0 {
		return false, nil
	}
	var dec amf.Decoder
	cmd, err := protocol.DecodeCommand(&dec, m.Type, m.Payload)
	if err != nil {
		return false, fmt.Errorf("decode the core's %v message: %w", m.Type, err)
	}
	code, desc := httpflv.Status(&cmd)
	switch {
	case cmd.Name == "_result" && cmd.TxnID == txnConnect:
		return false, s.command(0, "createStream", txnCreateStream, nil)
	case cmd.Name == "_error" && cmd.TxnID == txnConnect:
		if code == protocol.ConnectInvalidApp {
			return false, &httpflv.Answer{Status: http.StatusNotFound, Text: desc}
		}
		return false, &httpflv.Answer{Status: http.StatusForbidden, Text: desc}
	case cmd.Name == "_result" && cmd.TxnID == txnCreateStream:
		id, _ := cmd.ArgNumber(0)
		s.streamID = uint32(id)
		name := s.target.Stream
		if s.query != "" {
			name += "?" + s.query
		}
		if s.whip {
			return false, s.command(s.streamID, "publish", 0, nil, name, "live")
		}
		// -1000: live only, and live now (404 at once, as HTTP-FLV).
		return false, s.command(s.streamID, "play", 0, nil, name, -1000.0)
	case cmd.Name == "_error" && cmd.TxnID == txnCreateStream:
		return false, &httpflv.Answer{Status: http.StatusServiceUnavailable, Text: desc}
	case cmd.Name != "onStatus":
		return false, nil
	}
	switch code {
	case protocol.PlayStart, protocol.PublishStart:
		return true, nil
	case protocol.PlayStreamNotFound:
		return false, &httpflv.Answer{Status: http.StatusNotFound, Text: desc}
	case protocol.PlayFailed, protocol.PublishBadName:
		return false, &httpflv.Answer{Status: http.StatusForbidden, Text: desc}
	}
	return false, nil
}

// drainOutbox takes the outbox in bounded batches, handing each to handle
// (nil drops them), whenever the session is woken, until handle fails,
// the core closes the client or the session ends.
func (s *session) drainOutbox(handle func(batch []netconn.Outgoing) error) error {
	out := s.core.Outbox()
	var scratch [batchMax]netconn.Outgoing
	for {
		batch := out.NextBatch(scratch[:0], batchMax)
		var err error
		if handle != nil {
			err = handle(batch)
		}
		clear(batch)
		if err != nil {
			return err
		}
		if len(batch) == batchMax {
			continue
		}
		if cause := out.Closing(); cause != nil {
			return cause
		}
		select {
		case <-s.wake:
		case <-s.ctx.Done():
			return context.Cause(s.ctx)
		}
	}
}

// watchPeer ends the session when its PeerConnection fails or closes
// (ICE gave up: the client is gone), and tells run when it connects.
func (s *session) watchPeer() {
	s.pc.OnConnectionStateChange(func(st pion.PeerConnectionState) {
		switch st {
		case pion.PeerConnectionStateConnected:
			s.connOnce.Do(func() { close(s.connected) })
		case pion.PeerConnectionStateFailed, pion.PeerConnectionStateClosed:
			s.Close(errPeerGone)
		}
	})
}

// startReader runs fn on the calling goroutine as one of the session's
// track readers, unless the session has ended.
func (s *session) startReader(fn func()) {
	s.readersMu.Lock()
	if s.readersDone {
		s.readersMu.Unlock()
		return
	}
	s.readers.Add(1)
	s.readersMu.Unlock()
	defer s.readers.Done()
	fn()
}

// finish releases what the session holds, once: the PeerConnection
// (waiting for pion's goroutines and the track readers), the core's
// client, the session's slot. err is why it ended.
func (s *session) finish(err error) {
	s.Close(err)
	if s.pc != nil {
		if cerr := s.pc.GracefulClose(); cerr != nil {
			s.log.Debug("closing the peer connection", zap.Error(cerr))
		}
	}
	s.readersMu.Lock()
	s.readersDone = true
	s.readersMu.Unlock()
	s.readers.Wait()
	s.core.Close()
	s.srv.forget(s)
	fields := []zap.Field{zap.String("stream", s.target.Stream), zap.Duration("duration", time.Since(s.start)),
		zap.Uint64("bytes_in", s.bytesIn.Load()), zap.Uint64("bytes_out", s.bytesOut.Load())}
	var a *httpflv.Answer
	switch {
	case errors.As(err, &a):
		fields = append(fields, zap.Int("status", a.Status), zap.String("reason", a.Text))
	case err != nil:
		fields = append(fields, zap.String("reason", err.Error()))
	}
	s.log.Info("closed", fields...)
}

// gatherTimeout bounds gathering the answer's candidates: host
// candidates only (no STUN), so it takes milliseconds.
const gatherTimeout = 5 * time.Second

// negotiate sets the session up with the application, then makes its
// PeerConnection, applies the offer and returns the answer with every
// candidate (non-trickle).
func (s *session) negotiate(r *http.Request, offer pion.SessionDescription) (string, error) {
	if err := s.setup(r.Context().Done(), s.srv.deps.SetupTimeout); err != nil {
		return "", err
	}
	pc, err := s.srv.api.NewPeerConnection(pion.Configuration{})
	if err != nil {
		return "", fmt.Errorf("new peer connection: %w", err)
	}
	s.pc = pc
	s.watchPeer()
	if s.whip {
		// The offer's sending m-lines get receiving transceivers.
		pc.OnTrack(s.onTrack)
	} else if err := s.addTracks(); err != nil {
		return "", err
	}
	if err := pc.SetRemoteDescription(offer); err != nil {
		return "", &httpflv.Answer{Status: http.StatusBadRequest, Text: "the offer cannot be applied: " + err.Error()}
	}
	sdpAnswer, err := pc.CreateAnswer(nil)
	if err != nil {
		return "", &httpflv.Answer{Status: http.StatusBadRequest, Text: "no answer to the offer: " + err.Error()}
	}
	gathered := pion.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(sdpAnswer); err != nil {
		return "", fmt.Errorf("set local description: %w", err)
	}
	t := time.NewTimer(gatherTimeout)
	defer t.Stop()
	select {
	case <-gathered:
	case <-s.ctx.Done():
		return "", context.Cause(s.ctx)
	case <-t.C:
		return "", errors.New("gathering ICE candidates took too long")
	}
	return pc.LocalDescription().SDP, nil
}

// addTracks gives a viewer's PeerConnection the tracks of what its
// stream has that WebRTC carries: H.264 video, Opus audio. AAC, the
// audio of most RTMP streams, is not among them (browsers' WebRTC has no
// AAC, and Nimbus does not transcode): such a viewer gets video only,
// which the log says.
func (s *session) addTracks() error {
	var info struct{ video, audio string }
	if inst := s.core.Instance(); inst != nil {
		if st := inst.Streams().Get(s.target.Stream); st != nil {
			i := st.Info()
			info.video, info.audio = i.VideoCodec, i.AudioCodec
		}
	}
	v := &viewer{videoBase: randUint32(), audioBase: randUint32()}
	if info.video == "h264" || info.video == "" {
		// A stream whose codecs are not known yet is taken for H.264,
		// the codec of nearly every stream published.
		t, err := pion.NewTrackLocalStaticRTP(pion.RTPCodecCapability{MimeType: pion.MimeTypeH264, ClockRate: 90000,
			SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}, "video", "nimbus")
		if err != nil {
			return fmt.Errorf("video track: %w", err)
		}
		v.video = t
	} else {
		s.log.Info("video not sent: WHEP sends H.264 only", zap.String("codec", info.video))
	}
	switch info.audio {
	case "opus":
		t, err := pion.NewTrackLocalStaticRTP(pion.RTPCodecCapability{MimeType: pion.MimeTypeOpus, ClockRate: 48000, Channels: 2},
			"audio", "nimbus")
		if err != nil {
			return fmt.Errorf("audio track: %w", err)
		}
		v.audio = t
	case "":
	case "aac":
		s.log.Info("audio not sent: AAC does not play over WebRTC in browsers and Nimbus does not transcode; video only",
			zap.String("stream", s.target.Stream))
	default:
		s.log.Info("audio not sent: WHEP sends Opus only", zap.String("codec", info.audio))
	}
	if v.video == nil && v.audio == nil {
		return &httpflv.Answer{Status: http.StatusNotAcceptable, Text: fmt.Sprintf("the stream's codecs (video %q, audio %q) do not play over WebRTC: WHEP sends H.264 and Opus",
			info.video, info.audio)}
	}
	for _, t := range []*pion.TrackLocalStaticRTP{v.video, v.audio} {
		if t == nil {
			continue
		}
		sender, err := s.pc.AddTrack(t)
		if err != nil {
			return fmt.Errorf("add track: %w", err)
		}
		// The client's RTCP (NACKs, reports) goes through pion's
		// interceptors only when read.
		go s.startReader(func() {
			buf := make([]byte, 1500)
			for {
				if _, _, err := sender.Read(buf); err != nil {
					return
				}
			}
		})
	}
	s.viewer = v
	return nil
}

func randUint32() uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint32(b[:])
}
