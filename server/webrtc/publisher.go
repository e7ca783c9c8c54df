package webrtc

import (
	"encoding/binary"
	"strings"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	pion "github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/protocol"
)

// pliEvery spaces a publisher's keyframe requests (RTCP PLI) while the
// stream waits for a keyframe: at the start and after a loss.
const pliEvery = time.Second

// runPublisher waits for the client to connect and then for the end; the
// media comes on the tracks' goroutines (onTrack). What the core says to
// a publisher (status messages) is taken and dropped: a WHIP client has
// no channel to hear it.
func (s *session) runPublisher() error {
	if err := s.waitConnected(); err != nil {
		return err
	}
	return s.drainOutbox(nil)
}

// onTrack reads one of a publisher's tracks until the session ends:
// H.264 video and Opus audio are published, anything else is ignored.
func (s *session) onTrack(tr *pion.TrackRemote, _ *pion.RTPReceiver) {
	s.startReader(func() {
		switch mime := tr.Codec().MimeType; {
		case strings.EqualFold(mime, pion.MimeTypeH264):
			s.readVideo(tr)
		case strings.EqualFold(mime, pion.MimeTypeOpus):
			s.readAudio(tr)
		default:
			s.log.Info("track not published: only H.264 and Opus are", zap.String("codec", mime))
		}
	})
}

// readRTP reads a track's next packet with a payload into pkt (the
// payload aliases buf), counting every packet as input; what is not RTP
// is skipped.
func (s *session) readRTP(tr *pion.TrackRemote, buf []byte, pkt *rtp.Packet) error {
	for {
		pkt.Payload = nil
		n, _, err := tr.Read(buf)
		if err != nil {
			return err
		}
		if err := pkt.Unmarshal(buf[:n]); err != nil {
			continue
		}
		s.lastIn.Store(time.Now().UnixNano())
		s.bytesIn.Add(uint64(len(pkt.Payload)))
		if len(pkt.Payload) > 0 {
			return nil
		}
	}
}

// readVideo publishes a publisher's H.264 as FLV AVC video: a sequence
// header (AVCDecoderConfigurationRecord) whenever the parameter sets
// change, and each picture's NAL units with 4-byte lengths, keyframes
// flagged. It asks for a keyframe (PLI) until one comes, and after a loss.
func (s *session) readVideo(tr *pion.TrackRemote) {
	asm := newAUAssembler()
	clk := rtpClock{rate: 90000}
	var msg []byte
	var lastPLI time.Time
	buf := make([]byte, 1500)
	var pkt rtp.Packet
	emit := func(au *accessUnit) {
		ts := clk.ms(au.rtpTS, time.Since(s.start))
		if au.config != nil {
			msg = append(append(msg[:0], 0x10|flvCodecAVC, avcSequenceHeader, 0, 0, 0), au.config...)
			s.publish(protocol.TypeVideo, ts, msg)
		}
		frameType := byte(0x20)
		if au.keyframe {
			frameType = 0x10
		}
		msg = append(append(msg[:0], frameType|flvCodecAVC, avcNALU, 0, 0, 0), au.avcc...)
		s.publish(protocol.TypeVideo, ts, msg)
	}
	for {
		if err := s.readRTP(tr, buf, &pkt); err != nil {
			return
		}
		lost := asm.push(&pkt, emit)
		if (lost || asm.waitKey) && time.Since(lastPLI) >= pliEvery {
			lastPLI = time.Now()
			if err := s.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(tr.SSRC())}}); err != nil {
				s.log.Debug("keyframe request", zap.Error(err))
			}
		}
	}
}

// readAudio publishes a publisher's Opus as Enhanced RTMP audio ('Opus'
// FourCC): a sequence start with an OpusHead (RFC 7845 5.1, channel
// mapping family 0), then one message per RTP packet.
func (s *session) readAudio(tr *pion.TrackRemote) {
	clk := rtpClock{rate: 48000}
	channels := byte(tr.Codec().Channels)
	if channels == 0 || channels > 2 {
		channels = 2
	}
	head := []byte{audioFormatEx<<4 | exAudioSeqStart, 'O', 'p', 'u', 's'}
	head = append(head, "OpusHead"...)
	head = append(head, 1, channels, 0, 0) // version, channels, pre-skip 0
	head = binary.LittleEndian.AppendUint32(head, 48000)
	head = append(head, 0, 0, 0) // output gain 0, mapping family 0
	msg := []byte{audioFormatEx<<4 | exAudioCodedFrames, 'O', 'p', 'u', 's'}
	buf := make([]byte, 1500)
	var pkt rtp.Packet
	sentHead := false
	for {
		if err := s.readRTP(tr, buf, &pkt); err != nil {
			return
		}
		ts := clk.ms(pkt.Timestamp, time.Since(s.start))
		if !sentHead {
			s.publish(protocol.TypeAudio, ts, head)
			sentHead = true
		}
		msg = append(msg[:5], pkt.Payload...)
		s.publish(protocol.TypeAudio, ts, msg)
	}
}

// publish hands one message to the core, which copies it into the
// stream; a refusal ends the session.
func (s *session) publish(t protocol.Type, ts uint32, payload []byte) {
	if err := s.core.HandleMessage(protocol.Message{Type: t, StreamID: s.streamID, Timestamp: ts, Payload: payload}); err != nil {
		s.Close(err)
	}
}
