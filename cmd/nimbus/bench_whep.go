package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	pion "github.com/pion/webrtc/v4"
)

// benchWHEPAPI is the WebRTC viewers' API: pion's default codecs, host
// candidates (loopback included, for a server on the same host), no mDNS.
var benchWHEPAPI = sync.OnceValues(func() (*pion.API, error) {
	var se pion.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]pion.NetworkType{pion.NetworkTypeUDP4})
	m := &pion.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	return pion.NewAPI(pion.WithMediaEngine(m), pion.WithSettingEngine(se)), nil
})

// benchPlayWHEP plays a stream over WHEP as benchPlay reads an RTMP
// play: it reports RTP payload bytes and keyframes (an IDR unit, or the
// parameter sets that precede one). RTP carries no onBenchTime, so it
// reports no latency. playing says the server answered 201.
func benchPlayWHEP(ctx context.Context, rawURL string, report func(n int, key bool, lat float64)) (playing bool, err error) {
	api, err := benchWHEPAPI()
	if err != nil {
		return false, err
	}
	pc, err := api.NewPeerConnection(pion.Configuration{})
	if err != nil {
		return false, err
	}
	defer pc.Close()
	for _, k := range []pion.RTPCodecType{pion.RTPCodecTypeVideo, pion.RTPCodecTypeAudio} {
		if _, err := pc.AddTransceiverFromKind(k, pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionRecvonly}); err != nil {
			return false, err
		}
	}
	var mu sync.Mutex // report is called from each track's goroutine
	pc.OnTrack(func(tr *pion.TrackRemote, _ *pion.RTPReceiver) {
		video := tr.Kind() == pion.RTPCodecTypeVideo
		buf := make([]byte, 1500)
		var pkt rtp.Packet
		for {
			n, _, err := tr.Read(buf)
			if err != nil {
				return
			}
			if pkt.Unmarshal(buf[:n]) != nil {
				continue
			}
			mu.Lock()
			report(len(pkt.Payload), video && startsKeyframe(pkt.Payload), -1)
			mu.Unlock()
		}
	})
	failed := make(chan struct{})
	var once sync.Once
	pc.OnConnectionStateChange(func(s pion.PeerConnectionState) {
		if s == pion.PeerConnectionStateFailed || s == pion.PeerConnectionStateClosed {
			once.Do(func() { close(failed) })
		}
	})
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return false, err
	}
	gathered := pion.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return false, err
	}
	<-gathered
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, strings.NewReader(pc.LocalDescription().SDP))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/sdp")
	resp, err := benchHTTP.Do(req)
	if err != nil {
		return false, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if err != nil {
		return false, err
	}
	if resp.StatusCode != http.StatusCreated {
		return false, fmt.Errorf("POST %s: %s: %s", rawURL, resp.Status, strings.TrimSpace(string(body)))
	}
	if err := pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: string(body)}); err != nil {
		return true, err
	}
	defer benchDelete(rawURL, resp.Header.Get("Location"))
	select {
	case <-ctx.Done():
		return true, nil
	case <-failed:
		return true, fmt.Errorf("WHEP %s: the connection failed", rawURL)
	}
}

// startsKeyframe tells whether an H.264 RTP payload starts a keyframe:
// an IDR unit, the start of a fragmented one, or parameter sets.
func startsKeyframe(p []byte) bool {
	if len(p) < 2 {
		return false
	}
	switch t := p[0] & 0x1f; t {
	case 5, 7:
		return true
	case 24: // STAP-A: the first aggregated unit
		return len(p) > 3 && p[3]&0x1f == 7
	case 28: // FU-A: a start fragment of an IDR unit
		return p[1]&0x80 != 0 && p[1]&0x1f == 5
	}
	return false
}

// benchDelete ends a WHEP session.
func benchDelete(rawURL, location string) {
	base, err := url.Parse(rawURL)
	if err != nil || location == "" {
		return
	}
	ref, err := base.Parse(location)
	if err != nil {
		return
	}
	req, err := http.NewRequest(http.MethodDelete, ref.String(), nil)
	if err != nil {
		return
	}
	if resp, err := benchHTTP.Do(req); err == nil {
		_ = resp.Body.Close()
	}
}
