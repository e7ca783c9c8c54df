package webrtc

import (
	"context"
	"hash/crc32"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	pion "github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/amf"
	"github.com/nimbus-media/nimbus/protocol"
	"github.com/nimbus-media/nimbus/server/httpflv"
	"github.com/nimbus-media/nimbus/server/netconn"
)

const (
	// batchMax is how many messages one drain of a session's outbox takes.
	batchMax = 64
	// rtpMTU bounds an RTP payload: with the RTP, SRTP, UDP and IP
	// headers a packet stays under the 1280 bytes IPv6 guarantees.
	rtpMTU = 1200
	// encodingKey marks the RTP payloads of a frame cached on it
	// (media.Frame.Encoded), apart from other transports' encodings;
	// the parameter sets prepended to a keyframe's add their checksum.
	encodingKey = uint64(0x5752_5443) << 32 // "WRTC"
	// connectTimeout bounds the wait for a client's ICE and DTLS once it
	// has its answer.
	connectTimeout = 15 * time.Second
)

// viewer is a WHEP session's media state, owned by its run goroutine.
type viewer struct {
	video, audio *pion.TrackLocalStaticRTP // nil when the stream has none WebRTC carries

	cfg    avcConfig // the stream's parameter sets, from its sequence header
	cfgSum uint32    // their checksum, part of a keyframe's cache key
	keyed  bool      // a keyframe has been sent: before it nothing decodes

	clock                playClock
	videoSeq, audioSeq   uint16
	videoBase, audioBase uint32 // random RTP timestamp offsets (RFC 3550 5.1)
	pkt                  rtp.Packet
}

// runViewer waits for the client to connect, then writes the play's
// frames as RTP until the session ends: each wake drains the outbox
// (bounded batches; the subscriber queue behind it drops to keyframes
// and the core closes a viewer that lags too long).
func (s *session) runViewer() error {
	if err := s.waitConnected(); err != nil {
		return err
	}
	return s.drainOutbox(func(batch []netconn.Outgoing) error {
		now := time.Now()
		for i := range batch {
			if err := s.viewer.handle(s, &batch[i], now); err != nil {
				return err
			}
		}
		return nil
	})
}

// waitConnected waits for ICE and DTLS: frames written before would be
// lost (the tracks are not bound yet), so they wait in the queue.
func (s *session) waitConnected() error {
	t := time.NewTimer(connectTimeout)
	defer t.Stop()
	select {
	case <-s.connected:
		return nil
	case <-s.ctx.Done():
		return context.Cause(s.ctx)
	case <-t.C:
		return errNoConnection
	}
}

// handle writes one message of the play: H.264 video and Opus audio as
// RTP, the rest ignored but for the end of the stream.
func (v *viewer) handle(s *session, m *netconn.Outgoing, now time.Time) error {
	if !m.Media {
		if m.Type == protocol.TypeCommandAMF0 {
			var dec amf.Decoder
			if cmd, err := protocol.DecodeCommand(&dec, m.Type, m.Payload); err == nil && cmd.Name == "onStatus" {
				if code, _ := httpflv.Status(&cmd); code == protocol.PlayUnpublishNotify {
					return ErrUnpublished
				}
			}
		}
		return nil
	}
	switch m.Type {
	case protocol.TypeVideo:
		if v.video != nil {
			v.writeVideo(s, m, now)
		}
	case protocol.TypeAudio:
		if v.audio != nil {
			v.writeAudio(s, m, now)
		}
	}
	return nil
}

// writeVideo sends an H.264 frame: its NAL units, behind the parameter
// sets for a keyframe, in RTP packets (RFC 6184, STAP-A and FU-A)
// stamped at its presentation time on the 90 kHz clock. The packets'
// payloads are made once per frame and shared by every viewer with the
// same parameter sets.
func (v *viewer) writeVideo(s *session, m *netconn.Outgoing, now time.Time) {
	avc, ok := parseAVC(m.Payload)
	if !ok {
		return
	}
	if avc.seqHeader {
		cfg, err := parseAVCConfig(avc.data)
		if err != nil {
			s.log.Debug("unusable H.264 sequence header", zap.Error(err))
			return
		}
		v.cfg, v.cfgSum = cfg, crc32.ChecksumIEEE(avc.data)
		return
	}
	if v.cfg.lengthSize == 0 || (!v.keyed && !avc.keyframe) {
		return // nothing decodes yet
	}
	v.keyed = true
	key := encodingKey | uint64(v.cfg.lengthSize)<<40
	if avc.keyframe {
		key |= 1<<41 | uint64(v.cfgSum)
	}
	build := func() [][]byte {
		var annexB []byte
		if avc.keyframe {
			for _, ps := range append(append([][]byte(nil), v.cfg.sps...), v.cfg.pps...) {
				annexB = append(annexB, annexBStart...)
				annexB = append(annexB, ps...)
			}
		}
		annexB = avccToAnnexB(annexB, avc.data, v.cfg.lengthSize)
		var p codecs.H264Payloader
		return p.Payload(rtpMTU, annexB)
	}
	var payloads [][]byte
	if m.Frame != nil {
		payloads = m.Frame.Encoded(key, build)
	} else {
		payloads = build()
	}
	out := v.clock.drive(m.Timestamp, now)
	ts := v.videoBase + uint32((out+int64(avc.cts))*90)
	v.send(s, v.video, payloads, ts, &v.videoSeq, true)
}

// writeAudio sends an Opus packet on the 48 kHz clock, on the video's
// timeline (or driving it in a stream without video).
func (v *viewer) writeAudio(s *session, m *netconn.Outgoing, now time.Time) {
	packet, ok := opusPacket(m.Payload)
	if !ok {
		return
	}
	var out int64
	if v.video == nil {
		out = v.clock.drive(m.Timestamp, now)
	} else if out, ok = v.clock.follow(m.Timestamp); !ok {
		return
	}
	v.send(s, v.audio, [][]byte{packet}, v.audioBase+uint32(out*48), &v.audioSeq, false)
}

// send writes one frame's RTP packets to a track; the last of a video
// frame has the marker bit. A failed write is not an error of the
// session's: the PeerConnection's state says when the client is gone.
func (v *viewer) send(s *session, track *pion.TrackLocalStaticRTP, payloads [][]byte, ts uint32, seq *uint16, marker bool) {
	for i, p := range payloads {
		v.pkt.Header = rtp.Header{Version: 2, Marker: marker && i == len(payloads)-1, SequenceNumber: *seq, Timestamp: ts}
		v.pkt.Payload = p
		*seq++
		if err := track.WriteRTP(&v.pkt); err != nil {
			return
		}
		s.bytesOut.Add(uint64(len(p)))
	}
	v.pkt.Payload = nil
}
