package media

import "encoding/binary"

// Legacy FLV codec IDs (FLV spec, VIDEODATA/AUDIODATA) and Enhanced RTMP
// packet types (enhanced-rtmp-v2 "Enhanced Video"/"Enhanced Audio").
const (
	videoCodecAVC  = 7
	videoCodecHEVC = 12 // pre-E-RTMP convention used by some CDNs

	audioFormatAAC = 10
	audioFormatEx  = 9 // E-RTMP: ExHeader follows

	exVideoSequenceStart = 0
	exVideoCodedFrames   = 1
	exVideoCodedFramesX  = 3
	exVideoMetadata      = 4
	exVideoMultitrack    = 6

	exAudioSequenceStart = 0
	exAudioMultitrack    = 5

	multitrackManyCodecs = 2
)

// VideoInfo is what the router needs to know about a video message.
type VideoInfo struct {
	Keyframe  bool
	SeqHeader bool
	Codec     string // "h264", "hevc", FourCC text for E-RTMP, or legacy codec name
	// ConfigKey distinguishes sequence headers that replace each other: one
	// per codec and track, so multitrack streams keep one header per track.
	ConfigKey uint64
}

// ParseVideo classifies a video message payload (FLV VIDEODATA, legacy or
// enhanced). It never fails: unknown layouts are plain non-key frames.
func ParseVideo(p []byte) VideoInfo {
	if len(p) == 0 {
		return VideoInfo{}
	}
	b := p[0]
	frameType := (b >> 4) & 0x07
	if b&0x80 == 0 { // legacy header: FrameType(4) CodecID(4)
		info := VideoInfo{Keyframe: b>>4 == 1, Codec: legacyVideoCodec(b & 0x0f), ConfigKey: uint64(b & 0x0f)}
		if c := b & 0x0f; (c == videoCodecAVC || c == videoCodecHEVC) && len(p) > 1 && p[1] == 0 {
			info.SeqHeader = true
			info.Keyframe = false
		}
		if frameType == 5 { // video info/command frame: not a picture
			info.Keyframe = false
		}
		return info
	}
	// Enhanced header: IsExHeader(1) FrameType(3) PacketType(4), FourCC.
	packetType := b & 0x0f
	info := VideoInfo{Keyframe: frameType == 1}
	if len(p) < 5 {
		return VideoInfo{}
	}
	fourCC := binary.BigEndian.Uint32(p[1:5])
	if packetType == exVideoMultitrack {
		// AvMultitrackType(4) PacketType(4), then a FourCC unless every
		// track has its own, then the first track's ID.
		if len(p) < 6 {
			return VideoInfo{}
		}
		mtType := p[1] >> 4
		packetType = p[1] & 0x0f
		rest := p[2:]
		if mtType != multitrackManyCodecs {
			if len(rest) < 4 {
				return VideoInfo{}
			}
			fourCC = binary.BigEndian.Uint32(rest)
			rest = rest[4:]
		} else if len(rest) >= 4 {
			fourCC = binary.BigEndian.Uint32(rest) // first track's codec
			rest = rest[4:]
		}
		var track uint64
		if len(rest) > 0 {
			track = uint64(rest[0])
		}
		info.ConfigKey = track<<32 | uint64(fourCC)
	} else {
		info.ConfigKey = uint64(fourCC)
	}
	info.Codec = fourCCName(fourCC)
	switch packetType {
	case exVideoSequenceStart:
		info.SeqHeader, info.Keyframe = true, false
	case exVideoCodedFrames, exVideoCodedFramesX:
	case exVideoMetadata:
		info.Keyframe = false
	default:
		info.Keyframe = false
	}
	return info
}

// AudioInfo is what the router needs to know about an audio message.
type AudioInfo struct {
	SeqHeader bool
	Codec     string
	ConfigKey uint64
}

// ParseAudio classifies an audio message payload (FLV AUDIODATA, legacy or
// enhanced).
func ParseAudio(p []byte) AudioInfo {
	if len(p) == 0 {
		return AudioInfo{}
	}
	format := p[0] >> 4
	if format != audioFormatEx {
		info := AudioInfo{Codec: legacyAudioCodec(format), ConfigKey: uint64(format)}
		if format == audioFormatAAC && len(p) > 1 && p[1] == 0 {
			info.SeqHeader = true
		}
		return info
	}
	packetType := p[0] & 0x0f
	if len(p) < 5 {
		return AudioInfo{}
	}
	fourCC := binary.BigEndian.Uint32(p[1:5])
	key := uint64(fourCC)
	if packetType == exAudioMultitrack {
		if len(p) < 6 {
			return AudioInfo{}
		}
		// AvMultitrackType(4) PacketType(4); every multitrack layout then
		// starts with a FourCC and the first track's ID.
		packetType = p[1] & 0x0f
		rest := p[2:]
		if len(rest) >= 4 {
			fourCC = binary.BigEndian.Uint32(rest)
			rest = rest[4:]
		}
		var track uint64
		if len(rest) > 0 {
			track = uint64(rest[0])
		}
		key = track<<32 | uint64(fourCC)
	}
	return AudioInfo{SeqHeader: packetType == exAudioSequenceStart, Codec: fourCCName(fourCC), ConfigKey: key}
}

func legacyVideoCodec(id byte) string {
	switch id {
	case 2:
		return "h263"
	case 3:
		return "screen"
	case 4:
		return "vp6"
	case 5:
		return "vp6a"
	case 6:
		return "screen2"
	case videoCodecAVC:
		return "h264"
	case videoCodecHEVC:
		return "hevc"
	}
	return ""
}

func legacyAudioCodec(f byte) string {
	switch f {
	case 0, 3:
		return "pcm"
	case 1:
		return "adpcm"
	case 2, 14:
		return "mp3"
	case 4, 5, 6:
		return "nellymoser"
	case 7:
		return "g711a"
	case 8:
		return "g711u"
	case audioFormatAAC:
		return "aac"
	case 11:
		return "speex"
	}
	return ""
}

func fourCCName(f uint32) string {
	switch f {
	case 'a'<<24 | 'v'<<16 | 'c'<<8 | '1':
		return "h264"
	case 'h'<<24 | 'v'<<16 | 'c'<<8 | '1':
		return "hevc"
	case 'a'<<24 | 'v'<<16 | '0'<<8 | '1':
		return "av1"
	case 'v'<<24 | 'p'<<16 | '0'<<8 | '9':
		return "vp9"
	case 'v'<<24 | 'p'<<16 | '0'<<8 | '8':
		return "vp8"
	case 'O'<<24 | 'p'<<16 | 'u'<<8 | 's':
		return "opus"
	case 'm'<<24 | 'p'<<16 | '4'<<8 | 'a':
		return "aac"
	case 'f'<<24 | 'L'<<16 | 'a'<<8 | 'C':
		return "flac"
	case 'a'<<24 | 'c'<<16 | '-'<<8 | '3':
		return "ac3"
	case 'e'<<24 | 'c'<<16 | '-'<<8 | '3':
		return "eac3"
	case '.'<<24 | 'm'<<16 | 'p'<<8 | '3':
		return "mp3"
	}
	return string([]byte{byte(f >> 24), byte(f >> 16), byte(f >> 8), byte(f)})
}
