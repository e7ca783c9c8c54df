package webrtc

import (
	"encoding/binary"
	"errors"
)

// H.264 NAL unit types (ITU-T H.264 Table 7-1) this package looks at.
const (
	naluIDR = 5
	naluSPS = 7
	naluPPS = 8
	naluAUD = 9
)

// FLV video layouts: the legacy AVC tag and Enhanced RTMP's 'avc1'.
const (
	flvCodecAVC       = 7
	avcSequenceHeader = 0
	avcNALU           = 1

	exHeaderBit        = 0x80
	exSequenceStart    = 0
	exCodedFrames      = 1
	exCodedFramesX     = 3
	fourCCAVC1         = 'a'<<24 | 'v'<<16 | 'c'<<8 | '1'
	fourCCOpus         = 'O'<<24 | 'p'<<16 | 'u'<<8 | 's'
	audioFormatEx      = 9
	exAudioSeqStart    = 0
	exAudioCodedFrames = 1
)

// avcVideo is an H.264 video message of a stream, whichever FLV layout
// carried it.
type avcVideo struct {
	seqHeader bool   // data is an AVCDecoderConfigurationRecord
	keyframe  bool   // a picture that starts a GOP
	cts       int32  // composition time offset, ms (PTS = DTS + cts)
	data      []byte // AVCC NAL units (length-prefixed), or the record
}

// parseAVC reads an H.264 FLV video payload: legacy (codec 7) or
// Enhanced RTMP 'avc1'. ok is false for anything else (other codecs, end
// of sequence, Enhanced RTMP metadata and multitrack).
func parseAVC(p []byte) (v avcVideo, ok bool) {
	if len(p) < 5 {
		return v, false
	}
	if p[0]&exHeaderBit == 0 {
		if p[0]&0x0f != flvCodecAVC {
			return v, false
		}
		v.keyframe = p[0]>>4 == 1
		v.cts = int32(uint32(p[2])<<16|uint32(p[3])<<8|uint32(p[4])) << 8 >> 8 // signed 24 bits
		v.data = p[5:]
		switch p[1] {
		case avcSequenceHeader:
			v.seqHeader, v.keyframe = true, false
		case avcNALU:
		default:
			return v, false
		}
		return v, true
	}
	if binary.BigEndian.Uint32(p[1:5]) != fourCCAVC1 {
		return v, false
	}
	v.keyframe = (p[0]>>4)&0x07 == 1
	switch p[0] & 0x0f {
	case exSequenceStart:
		v.seqHeader, v.keyframe, v.data = true, false, p[5:]
	case exCodedFrames:
		if len(p) < 8 {
			return v, false
		}
		v.cts = int32(uint32(p[5])<<16|uint32(p[6])<<8|uint32(p[7])) << 8 >> 8
		v.data = p[8:]
	case exCodedFramesX:
		v.data = p[5:]
	default:
		return v, false
	}
	return v, true
}

// opusPacket returns the Opus packet of an Enhanced RTMP audio message
// ('Opus' coded frames); ok is false for anything else, its sequence
// start (the OpusHead) included.
func opusPacket(p []byte) (packet []byte, ok bool) {
	if len(p) < 6 || p[0]>>4 != audioFormatEx || p[0]&0x0f != exAudioCodedFrames || binary.BigEndian.Uint32(p[1:5]) != fourCCOpus {
		return nil, false
	}
	return p[5:], true
}

// avcConfig is what an AVCDecoderConfigurationRecord (ISO/IEC 14496-15
// 5.3.3.1) gives a packetizer: its parameter sets and how long the NAL
// unit length prefixes of the frames are.
type avcConfig struct {
	sps, pps   [][]byte
	lengthSize int
}

var errAVCConfig = errors.New("malformed AVCDecoderConfigurationRecord")

// parseAVCConfig reads an AVCDecoderConfigurationRecord.
func parseAVCConfig(b []byte) (avcConfig, error) {
	var c avcConfig
	if len(b) < 7 || b[0] != 1 {
		return c, errAVCConfig
	}
	c.lengthSize = int(b[4]&0x03) + 1
	if c.lengthSize == 3 {
		return c, errAVCConfig
	}
	rest := b[5:]
	for _, list := range []*[][]byte{&c.sps, &c.pps} {
		if len(rest) < 1 {
			return c, errAVCConfig
		}
		n := int(rest[0])
		if list == &c.sps {
			n &= 0x1f
		}
		rest = rest[1:]
		for range n {
			if len(rest) < 2 {
				return c, errAVCConfig
			}
			l := int(binary.BigEndian.Uint16(rest))
			if len(rest) < 2+l || l == 0 {
				return c, errAVCConfig
			}
			*list = append(*list, rest[2:2+l])
			rest = rest[2+l:]
		}
	}
	if len(c.sps) == 0 || len(c.pps) == 0 {
		return c, errAVCConfig
	}
	return c, nil
}

// appendAVCConfig appends the AVCDecoderConfigurationRecord of one SPS
// and one PPS, with 4-byte NAL unit lengths. The High profiles' extension
// (chroma format, bit depths) is left out: decoders take those from the
// SPS, and ffmpeg and Flash accept the record without it.
func appendAVCConfig(dst, sps, pps []byte) []byte {
	dst = append(dst, 1, sps[1], sps[2], sps[3], 0xfc|3, 0xe0|1)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(sps)))
	dst = append(dst, sps...)
	dst = append(dst, 1)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(pps)))
	return append(dst, pps...)
}

var annexBStart = []byte{0, 0, 0, 1}

// avccToAnnexB appends the NAL units of an AVCC frame (lengthSize-byte
// length prefixes) as Annex B (start codes), which the RTP payloader
// splits. A truncated unit ends the frame.
func avccToAnnexB(dst, avcc []byte, lengthSize int) []byte {
	for len(avcc) >= lengthSize {
		var n int
		for _, b := range avcc[:lengthSize] {
			n = n<<8 | int(b)
		}
		avcc = avcc[lengthSize:]
		if n == 0 || n > len(avcc) {
			break
		}
		dst = append(dst, annexBStart...)
		dst = append(dst, avcc[:n]...)
		avcc = avcc[n:]
	}
	return dst
}
