package hls

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
)

// What a stream's FLV frames carry, as the muxer needs it: the codec
// configurations from the sequence headers, and each coded frame as an
// access unit (NAL units without their length prefixes) with its
// composition time offset. Frames share their payloads with every other
// subscriber: nothing here copies or modifies them.

// Video codecs the muxer takes.
const (
	codecH264 = iota + 1
	codecH265
)

// FLV and Enhanced RTMP header values (FLV spec, VIDEODATA and AUDIODATA;
// enhanced-rtmp-v2).
const (
	flvCodecAVC  = 7
	flvCodecHEVC = 12 // the pre-Enhanced-RTMP convention of some encoders
	flvAAC       = 10
	flvAudioEx   = 9

	exSequenceStart   = 0
	exCodedFrames     = 1 // with a composition time offset
	exCodedFramesX    = 3 // without one (it is zero)
	exAudioCodedFrame = 1

	fourCCAVC  = 'a'<<24 | 'v'<<16 | 'c'<<8 | '1'
	fourCCHEVC = 'h'<<24 | 'v'<<16 | 'c'<<8 | '1'
	fourCCAAC  = 'm'<<24 | 'p'<<16 | '4'<<8 | 'a'
)

var errShort = errors.New("truncated")

// videoPacket is one video message, parsed.
type videoPacket struct {
	codec     int
	seqHeader bool
	cts       int32  // composition time offset, ms
	data      []byte // the configuration record, or the length-prefixed NAL units
}

// parseVideo reads an FLV video message of H.264 or H.265, legacy or
// Enhanced RTMP. ok is false for anything else (other codecs,
// multitrack, metadata and command frames), which the muxer skips.
func parseVideo(p []byte) (v videoPacket, ok bool) {
	if len(p) < 1 {
		return v, false
	}
	if p[0]&0x80 == 0 {
		// Legacy: FrameType(4) CodecID(4), AVCPacketType, CTS(24).
		switch p[0] & 0x0f {
		case flvCodecAVC:
			v.codec = codecH264
		case flvCodecHEVC:
			v.codec = codecH265
		default:
			return v, false
		}
		if p[0]>>4 == 5 || len(p) < 5 {
			return v, false // a command frame, or too short
		}
		switch p[1] {
		case 0:
			v.seqHeader = true
		case 1:
			v.cts = int24(p[2:5])
		default:
			return v, false // end of sequence
		}
		v.data = p[5:]
		return v, true
	}
	// Enhanced: IsExHeader(1) FrameType(3) PacketType(4), FourCC.
	if len(p) < 5 || (p[0]>>4)&0x07 == 5 {
		return v, false
	}
	switch binary.BigEndian.Uint32(p[1:5]) {
	case fourCCAVC:
		v.codec = codecH264
	case fourCCHEVC:
		v.codec = codecH265
	default:
		return v, false
	}
	switch p[0] & 0x0f {
	case exSequenceStart:
		v.seqHeader, v.data = true, p[5:]
	case exCodedFrames:
		if len(p) < 8 {
			return v, false
		}
		v.cts, v.data = int24(p[5:8]), p[8:]
	case exCodedFramesX:
		v.data = p[5:]
	default:
		return v, false // multitrack, metadata, sequence end
	}
	return v, true
}

// int24 reads a signed 24-bit big-endian integer.
func int24(b []byte) int32 {
	return int32(uint32(b[0])<<24|uint32(b[1])<<16|uint32(b[2])<<8) >> 8
}

// videoConfig is a video track's configuration, from its decoder
// configuration record.
type videoConfig struct {
	codec         int
	vps, sps, pps []byte // vps is H.265's
	// lengthSize is how many bytes prefix each NAL unit of a frame.
	lengthSize int
}

// parseAVCConfig reads an AVCDecoderConfigurationRecord (ISO 14496-15
// 5.3.3.1): the first SPS and PPS are the track's.
func parseAVCConfig(rec []byte) (videoConfig, error) {
	c := videoConfig{codec: codecH264}
	if len(rec) < 6 || rec[0] != 1 {
		return c, fmt.Errorf("avc configuration record: %w or not version 1", errShort)
	}
	c.lengthSize = int(rec[4]&0x03) + 1
	p := rec[5:]
	nSPS := int(p[0] & 0x1f)
	p = p[1:]
	for i := range nSPS {
		nal, rest, err := nalWith16BitLength(p)
		if err != nil {
			return c, fmt.Errorf("avc configuration record: sps: %w", err)
		}
		if i == 0 {
			c.sps = nal
		}
		p = rest
	}
	if len(p) < 1 {
		return c, fmt.Errorf("avc configuration record: pps count: %w", errShort)
	}
	nPPS := int(p[0])
	p = p[1:]
	for i := range nPPS {
		nal, rest, err := nalWith16BitLength(p)
		if err != nil {
			return c, fmt.Errorf("avc configuration record: pps: %w", err)
		}
		if i == 0 {
			c.pps = nal
		}
		p = rest
	}
	if c.sps == nil || c.pps == nil {
		return c, errors.New("avc configuration record: no sps or no pps")
	}
	return c, nil
}

// parseHEVCConfig reads an HEVCDecoderConfigurationRecord (ISO 14496-15
// 8.3.3.1): the first VPS, SPS and PPS are the track's.
func parseHEVCConfig(rec []byte) (videoConfig, error) {
	c := videoConfig{codec: codecH265}
	if len(rec) < 23 || rec[0] != 1 {
		return c, fmt.Errorf("hevc configuration record: %w or not version 1", errShort)
	}
	c.lengthSize = int(rec[21]&0x03) + 1
	n := int(rec[22])
	p := rec[23:]
	for range n {
		if len(p) < 3 {
			return c, fmt.Errorf("hevc configuration record: array: %w", errShort)
		}
		typ := p[0] & 0x3f
		count := int(binary.BigEndian.Uint16(p[1:3]))
		p = p[3:]
		for range count {
			nal, rest, err := nalWith16BitLength(p)
			if err != nil {
				return c, fmt.Errorf("hevc configuration record: nal unit of type %d: %w", typ, err)
			}
			p = rest
			switch {
			case typ == 32 && c.vps == nil:
				c.vps = nal
			case typ == 33 && c.sps == nil:
				c.sps = nal
			case typ == 34 && c.pps == nil:
				c.pps = nal
			}
		}
	}
	if c.vps == nil || c.sps == nil || c.pps == nil {
		return c, errors.New("hevc configuration record: no vps, sps or pps")
	}
	return c, nil
}

func nalWith16BitLength(p []byte) (nal, rest []byte, err error) {
	if len(p) < 2 {
		return nil, nil, errShort
	}
	n := int(binary.BigEndian.Uint16(p))
	if n == 0 || len(p) < 2+n {
		return nil, nil, errShort
	}
	return p[2 : 2+n], p[2+n:], nil
}

// splitNALUs appends the NAL units of a frame (each prefixed by its
// length in lengthSize bytes) to au.
func splitNALUs(au [][]byte, p []byte, lengthSize int) ([][]byte, error) {
	for len(p) > 0 {
		if len(p) < lengthSize {
			return au, fmt.Errorf("nal unit length: %w", errShort)
		}
		var n int
		for _, b := range p[:lengthSize] {
			n = n<<8 | int(b)
		}
		p = p[lengthSize:]
		if n > len(p) {
			return au, fmt.Errorf("nal unit of %d bytes in %d: %w", n, len(p), errShort)
		}
		if n > 0 {
			au = append(au, p[:n])
		}
		p = p[n:]
	}
	return au, nil
}

// audioPacket is one AAC message, parsed.
type audioPacket struct {
	seqHeader bool
	data      []byte // the AudioSpecificConfig, or one raw access unit
}

// parseAudio reads an FLV audio message of AAC, legacy or Enhanced RTMP
// ('mp4a'). ok is false for other codecs and multitrack.
func parseAudio(p []byte) (a audioPacket, ok bool) {
	if len(p) < 2 {
		return a, false
	}
	switch p[0] >> 4 {
	case flvAAC:
		if p[1] > 1 {
			return a, false
		}
		return audioPacket{seqHeader: p[1] == 0, data: p[2:]}, true
	case flvAudioEx:
		if len(p) < 5 || binary.BigEndian.Uint32(p[1:5]) != fourCCAAC {
			return a, false
		}
		switch p[0] & 0x0f {
		case exSequenceStart:
			return audioPacket{seqHeader: true, data: p[5:]}, true
		case exAudioCodedFrame:
			return audioPacket{data: p[5:]}, true
		}
	}
	return a, false
}

// parseAAC reads an AudioSpecificConfig.
func parseAAC(asc []byte) (mpeg4audio.AudioSpecificConfig, error) {
	var c mpeg4audio.AudioSpecificConfig
	if err := c.Unmarshal(asc); err != nil {
		return c, fmt.Errorf("aac audio specific config: %w", err)
	}
	if c.SampleRate <= 0 {
		return c, fmt.Errorf("aac audio specific config: sample rate %d", c.SampleRate)
	}
	return c, nil
}
