package webrtc

import (
	"bytes"
	"encoding/binary"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
)

// maxAccessUnit bounds the bytes of one picture being assembled: a
// publisher that never sets the marker bit, or fragments a NAL unit
// without end, costs no more than this.
const maxAccessUnit = 4 << 20

// accessUnit is one picture a WHIP publisher sent, as FLV wants it.
type accessUnit struct {
	rtpTS    uint32
	keyframe bool
	// avcc is the picture's NAL units with 4-byte lengths, without the
	// parameter sets and delimiters (those go in the sequence header).
	avcc []byte
	// config is a new AVCDecoderConfigurationRecord when the parameter
	// sets changed with this picture (or came first), else nil.
	config []byte
}

// auAssembler depacketizes a publisher's H.264 RTP packets (RFC 6184:
// single NAL units, STAP-A, FU-A) and assembles them into access units,
// each ending at the marker bit. A lost packet spoils the picture and
// every one after it until the next keyframe, which the caller asks for.
type auAssembler struct {
	depack  codecs.H264Packet
	buf     []byte // the picture being assembled (AVCC)
	size    int    // payload bytes taken for it, pending fragments included
	ts      uint32
	started bool // buf holds part of the picture at ts
	key     bool
	seq     uint16
	haveSeq bool
	waitKey bool // dropping until a keyframe: at the start, after a loss
	// skipping drops the packets of the spoiled picture at skipTS.
	skipping bool
	skipTS   uint32
	sps      []byte
	pps      []byte
	dirty    bool // sps or pps changed since the last record
}

func newAUAssembler() *auAssembler {
	return &auAssembler{depack: codecs.H264Packet{IsAVC: true}, waitKey: true}
}

// push takes the next packet of the track. emit is called for each
// complete picture (its avcc is reused afterwards); lost reports a
// packet loss or a malformed packet, after which a keyframe is wanted.
func (a *auAssembler) push(p *rtp.Packet, emit func(*accessUnit)) (lost bool) {
	if a.haveSeq && p.SequenceNumber != a.seq+1 {
		if int16(p.SequenceNumber-a.seq) <= 0 {
			return false // a late or repeated packet: already given up on
		}
		a.spoil(p.Timestamp)
		lost = true
	}
	a.seq, a.haveSeq = p.SequenceNumber, true
	if a.skipping {
		if p.Timestamp == a.skipTS {
			return lost
		}
		a.skipping = false
	}
	if a.started && p.Timestamp != a.ts {
		// The previous picture's last packet had no marker bit.
		a.finish(emit)
	}
	if !a.started {
		a.started, a.ts, a.key, a.size = true, p.Timestamp, false, 0
		a.buf = a.buf[:0]
	}
	a.size += len(p.Payload)
	if a.size > maxAccessUnit {
		a.spoil(p.Timestamp)
		return true
	}
	nalus, err := a.depack.Unmarshal(p.Payload)
	if err != nil {
		a.spoil(p.Timestamp)
		return true
	}
	for len(nalus) >= 4 {
		n := int(binary.BigEndian.Uint32(nalus))
		if n == 0 || n > len(nalus)-4 {
			break
		}
		a.nalu(nalus[4 : 4+n])
		nalus = nalus[4+n:]
	}
	if p.Marker {
		a.finish(emit)
	}
	return lost
}

// nalu adds one NAL unit to the picture, keeping parameter sets aside.
func (a *auAssembler) nalu(n []byte) {
	switch n[0] & 0x1f {
	case naluSPS:
		if len(n) >= 4 && !bytes.Equal(n, a.sps) {
			a.sps, a.dirty = append(a.sps[:0], n...), true
		}
	case naluPPS:
		if !bytes.Equal(n, a.pps) {
			a.pps, a.dirty = append(a.pps[:0], n...), true
		}
	case naluAUD:
	default:
		if n[0]&0x1f == naluIDR {
			a.key = true
		}
		a.buf = binary.BigEndian.AppendUint32(a.buf, uint32(len(n)))
		a.buf = append(a.buf, n...)
	}
}

// finish hands over the picture assembled, unless it must be dropped:
// nothing decodable before a keyframe with its parameter sets.
func (a *auAssembler) finish(emit func(*accessUnit)) {
	a.started = false
	if len(a.buf) == 0 {
		return
	}
	if a.waitKey {
		if !a.key || a.sps == nil || a.pps == nil {
			return
		}
		a.waitKey = false
	}
	au := accessUnit{rtpTS: a.ts, keyframe: a.key, avcc: a.buf}
	if a.dirty && a.sps != nil && a.pps != nil {
		au.config = appendAVCConfig(nil, a.sps, a.pps)
		a.dirty = false
	}
	emit(&au)
}

// spoil drops the picture in progress and what the depacketizer holds,
// skips the rest of the picture at ts (its fragments would make a broken
// unit) and waits for a keyframe.
func (a *auAssembler) spoil(ts uint32) {
	a.depack = codecs.H264Packet{IsAVC: true}
	a.started, a.waitKey = false, true
	a.skipping, a.skipTS = true, ts
	a.buf = a.buf[:0]
}
