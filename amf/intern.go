package amf

// commonNames are the command names, property names and status values that
// occur in almost every RTMP message (RTMP 1.0 §7.2, FLV onMetaData). The
// decoder returns these shared strings instead of allocating a copy each
// time; looking a []byte up in a map with a string(b) key does not allocate.
var commonNames, maxCommonName = buildCommonNames()

func buildCommonNames() (map[string]string, int) {
	names := []string{
		// commands and replies
		"connect", "_result", "_error", "onStatus", "createStream", "deleteStream",
		"closeStream", "releaseStream", "FCPublish", "FCUnpublish", "FCSubscribe",
		"onFCPublish", "onFCUnpublish", "publish", "play", "play2", "pause", "seek",
		"receiveAudio", "receiveVideo", "getStreamLength", "onBWDone", "_checkbw",
		"@setDataFrame", "@clearDataFrame", "onMetaData", "|RtmpSampleAccess",
		// connect command object and _result properties
		"app", "type", "flashVer", "swfUrl", "tcUrl", "fpad", "capabilities",
		"audioCodecs", "videoCodecs", "videoFunction", "pageUrl", "objectEncoding",
		"nonprivate", "fmsVer", "mode",
		// onStatus info objects
		"level", "code", "description", "details", "clientid", "status", "error", "warning",
		// onMetaData
		"duration", "width", "height", "videodatarate", "framerate", "videocodecid",
		"audiodatarate", "audiosamplerate", "audiosamplesize", "stereo", "audiocodecid",
		"encoder", "filesize",
	}
	m := make(map[string]string, len(names))
	longest := 0
	for _, n := range names {
		m[n] = n
		longest = max(longest, len(n))
	}
	return m, longest
}

// str converts b to a string, sharing the well-known ones. Only lengths that
// can match are looked up, so long strings cost no hashing.
func str(b []byte) string {
	if len(b) <= maxCommonName {
		if s, ok := commonNames[string(b)]; ok {
			return s
		}
	}
	return string(b)
}
