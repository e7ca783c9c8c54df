// Package webrtc is the glue of WebRTC on the playback listener, with
// pion: WHEP playback (POST /APP/STREAM/whep) and WHIP ingest (POST
// /APP/STREAM/whip). Each session becomes a client of the NetConnection
// layer (package netconn) with a transport of its own (session, protocol
// "webrtc"), fed the commands an RTMP player or publisher would send, so
// that the same authorization applies and the admin API lists and counts
// it. A viewer's play is one more media.Sink of its stream, whose wake
// signals the session's goroutine; that goroutine turns FLV-style H.264
// and Enhanced RTMP Opus frames into RTP. A publisher's RTP becomes FLV
// AVC video and Enhanced RTMP Opus audio, which RTMP and RTMFP players
// watch.
//
// Offers are answered whole (non-trickle): the answer carries every
// candidate, so PATCH is refused. ICE runs over UDP on the configured
// addresses and ports, and over TCP on one shared port when configured.
package webrtc

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/sdp/v3"
	pion "github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/apps"
	"github.com/nimbus-media/nimbus/server/config"
	"github.com/nimbus-media/nimbus/server/httpflv"
	"github.com/nimbus-media/nimbus/server/netconn"
)

const (
	// maxOfferBytes bounds an SDP offer; a browser's is a few KiB.
	maxOfferBytes = 64 << 10
	// nackHistory is how many packets a viewer's video keeps for
	// retransmission (a power of two): about a second of a 2 Mbit/s
	// stream, a bounded 300 KiB or so per viewer.
	nackHistory = 256
	// RefusedSessions is the refusal label (nimbus_refusals_total) of a
	// session over webrtc.max_sessions.
	RefusedSessions = "webrtc_sessions"
)

// Deps is what WebRTC needs of the server.
type Deps struct {
	// Apps is the application registry sessions connect to.
	Apps *apps.Registry
	// Core returns the NetConnection layer's settings for a new session.
	Core func() *netconn.Config
	// Track registers a session with the server for shutdown; done
	// forgets it. ok is false once the server is shutting down.
	Track func(c Closer) (done func(), ok bool)
	// NewID names a new connection.
	NewID func() string
	// Refused counts a refusal by limit (nimbus_refusals_total).
	Refused func(limit string)
	// SetupTimeout bounds the wait for the application's decisions.
	SetupTimeout time.Duration
}

// Closer is a session as the server's shutdown sees it.
type Closer interface {
	Shutdown()
	Close(cause error)
}

// Server answers WHEP and WHIP requests on the playback listener and
// holds the sessions.
type Server struct {
	cfg    config.WebRTCConfig
	cors   string
	deps   Deps
	log    *zap.Logger
	api    *pion.API
	tcpMux ice.TCPMux // nil without ICE over TCP

	mu       sync.Mutex
	sessions map[string]*session // by resource
	pending  int                 // sessions being set up, not yet in sessions
}

// New prepares WebRTC: the codecs (H.264, Opus), RTCP (NACK, PLI,
// reports) and ICE settings every session uses, and the ICE-TCP listener
// when configured. corsOrigin is the playback listener's.
func New(cfg config.WebRTCConfig, corsOrigin string, d Deps, log *zap.Logger) (*Server, error) {
	s := &Server{cfg: cfg, cors: corsOrigin, deps: d, log: log.Named("webrtc"), sessions: map[string]*session{}}
	m := &pion.MediaEngine{}
	// packetization-mode=1 only: frames are fragmented (FU-A). Browsers
	// offer the profiles below; the stream goes as it is, whatever its
	// profile, as other servers send it, and browsers decode it.
	for i, profile := range []string{"42e01f", "42001f", "4d001f", "64001f"} {
		if err := m.RegisterCodec(pion.RTPCodecParameters{
			RTPCodecCapability: pion.RTPCodecCapability{MimeType: pion.MimeTypeH264, ClockRate: 90000,
				SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=" + profile},
			PayloadType: pion.PayloadType(102 + 2*i),
		}, pion.RTPCodecTypeVideo); err != nil {
			return nil, fmt.Errorf("webrtc: register H.264: %w", err)
		}
	}
	if err := m.RegisterCodec(pion.RTPCodecParameters{
		RTPCodecCapability: pion.RTPCodecCapability{MimeType: pion.MimeTypeOpus, ClockRate: 48000, Channels: 2,
			SDPFmtpLine: "minptime=10;useinbandfec=1"},
		PayloadType: 111,
	}, pion.RTPCodecTypeAudio); err != nil {
		return nil, fmt.Errorf("webrtc: register Opus: %w", err)
	}
	reg := &interceptor.Registry{}
	if err := pion.ConfigureNackWithOptions(m, reg, nil, nack.ResponderSize(nackHistory)); err != nil {
		return nil, fmt.Errorf("webrtc: nack: %w", err)
	}
	if err := pion.ConfigureRTCPReports(reg); err != nil {
		return nil, fmt.Errorf("webrtc: rtcp reports: %w", err)
	}
	se, err := s.settings()
	if err != nil {
		return nil, err
	}
	s.api = pion.NewAPI(pion.WithMediaEngine(m), pion.WithInterceptorRegistry(reg), pion.WithSettingEngine(se))
	return s, nil
}

// settings is the ICE configuration: host candidates on the configured
// addresses (loopback only when listed), the UDP port range, 1:1 NAT
// addresses, ICE-TCP on its shared port, no mDNS (a server has nothing
// to hide, and needs nothing resolved: a browser's hidden address shows
// up as a peer-reflexive candidate when it checks ours).
func (s *Server) settings() (pion.SettingEngine, error) {
	var se pion.SettingEngine
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	// A client gone without a word is noticed within 10 s.
	se.SetICETimeouts(5*time.Second, 10*time.Second, 2*time.Second)
	if s.cfg.UDPPortMin != 0 {
		if err := se.SetEphemeralUDPPortRange(s.cfg.UDPPortMin, s.cfg.UDPPortMax); err != nil {
			return se, fmt.Errorf("webrtc: udp ports: %w", err)
		}
	}
	if len(s.cfg.IPs) > 0 {
		allowed := make([]net.IP, 0, len(s.cfg.IPs))
		for _, a := range s.cfg.IPs {
			ip := net.ParseIP(a)
			allowed = append(allowed, ip)
			if ip.IsLoopback() {
				se.SetIncludeLoopbackCandidate(true)
			}
		}
		se.SetIPFilter(func(ip net.IP) bool {
			for _, a := range allowed {
				if a.Equal(ip) {
					return true
				}
			}
			return false
		})
	}
	if len(s.cfg.NAT1To1IPs) > 0 {
		if err := se.SetICEAddressRewriteRules(pion.ICEAddressRewriteRule{
			External: s.cfg.NAT1To1IPs, AsCandidateType: pion.ICECandidateTypeHost,
		}); err != nil {
			return se, fmt.Errorf("webrtc: nat_1to1_ips: %w", err)
		}
	}
	types := []pion.NetworkType{pion.NetworkTypeUDP4, pion.NetworkTypeUDP6}
	if s.cfg.ICETCPListen != "" {
		ln, err := net.Listen("tcp", s.cfg.ICETCPListen)
		if err != nil {
			return se, fmt.Errorf("webrtc: ice_tcp_listen %s: %w", s.cfg.ICETCPListen, err)
		}
		// Writes past 512 KiB queued for a client are dropped, as UDP
		// would lose them, rather than blocking its writer.
		s.tcpMux = ice.NewTCPMuxDefault(ice.TCPMuxParams{Listener: ln, ReadBufferSize: 32, WriteBufferSize: 512 << 10})
		se.SetICETCPMux(s.tcpMux)
		types = append(types, pion.NetworkTypeTCP4, pion.NetworkTypeTCP6)
	}
	se.SetNetworkTypes(types)
	return se, nil
}

// ICETCPAddr is the ICE-TCP listener's address, nil when it is off.
func (s *Server) ICETCPAddr() net.Addr {
	if s.tcpMux == nil {
		return nil
	}
	return s.tcpMux.(*ice.TCPMuxDefault).LocalAddr()
}

// Close closes the ICE-TCP listener, once the sessions are gone.
func (s *Server) Close() {
	if s.tcpMux != nil {
		_ = s.tcpMux.Close()
	}
}

// Sessions is the number of sessions, set up or being set up.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions) + s.pending
}

// Route returns the handler of a WHEP or WHIP URL's path, or nil for a
// path that is not one (the playback listener serves it otherwise):
// /APP[/INSTANCE]/STREAM/whep and /whip take a POST, and the session
// resource they answer with (/…/whep/ID) a DELETE.
func (s *Server) Route(path string) http.Handler {
	rest, resource, whip, ok := splitPath(path)
	if !ok {
		return nil
	}
	tg, ok := httpflv.ParsePath(rest + ".flv") // the same names as HTTP-FLV's
	if !ok {
		return nil
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.serve(w, r, tg, whip, resource)
	})
}

// splitPath splits off the /whep or /whip of a path, and the session
// resource after it (32 hex digits).
func splitPath(path string) (rest, resource string, whip, ok bool) {
	if i := strings.LastIndexByte(path, '/'); i > 0 && isResource(path[i+1:]) {
		if r, w, ok := cutKind(path[:i]); ok {
			return r, path[i+1:], w, true
		}
	}
	r, w, ok := cutKind(path)
	return r, "", w, ok
}

func cutKind(p string) (rest string, whip, ok bool) {
	if rest, ok = strings.CutSuffix(p, "/whep"); ok {
		return rest, false, true
	}
	rest, ok = strings.CutSuffix(p, "/whip")
	return rest, true, ok
}

func isResource(s string) bool {
	if len(s) != 32 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// serve answers a WHEP or WHIP request.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, tg httpflv.Target, whip bool, resource string) {
	h := w.Header()
	if s.cors != "" {
		h.Set("Access-Control-Expose-Headers", "Location")
	}
	allow := "POST, OPTIONS"
	if resource != "" {
		allow = "DELETE, OPTIONS"
	}
	switch {
	case r.Method == http.MethodOptions:
		h.Set("Access-Control-Allow-Methods", allow)
		h.Set("Access-Control-Allow-Headers", "Content-Type, Authorization, If-Match")
		h.Set("Access-Control-Max-Age", "86400")
		w.WriteHeader(http.StatusNoContent)
	case resource == "" && r.Method == http.MethodPost:
		s.create(w, r, tg, whip)
	case resource != "" && r.Method == http.MethodDelete:
		s.delete(w, tg, whip, resource)
	case resource != "" && r.Method == http.MethodPatch:
		// Trickle ICE and ICE restarts: the answer already has every
		// candidate (RFC 9725 4.3: a server without them answers 405).
		h.Set("Allow", allow)
		http.Error(w, "trickle ICE and ICE restarts are not supported: the answer carries every candidate", http.StatusMethodNotAllowed)
	default:
		h.Set("Allow", allow)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// delete ends a session at its client's request.
func (s *Server) delete(w http.ResponseWriter, tg httpflv.Target, whip bool, resource string) {
	s.mu.Lock()
	sess := s.sessions[resource]
	s.mu.Unlock()
	if sess == nil || sess.whip != whip || sess.target != tg {
		http.Error(w, "no such session", http.StatusNotFound)
		return
	}
	sess.Close(errDeleted)
	w.WriteHeader(http.StatusOK)
}

// create answers an offer: it reads and checks the SDP, takes a session
// slot, plays connect/play (or publish) to the application, then
// negotiates and answers 201 with the SDP answer and the session's URL;
// the session then runs on a goroutine of its own.
func (s *Server) create(w http.ResponseWriter, r *http.Request, tg httpflv.Target, whip bool) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/sdp" {
		http.Error(w, "the offer must be Content-Type: application/sdp", http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxOfferBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "the offer is larger than "+strconv.Itoa(maxOfferBytes)+" bytes", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "reading the offer: "+err.Error(), http.StatusBadRequest)
		return
	}
	offer := pion.SessionDescription{Type: pion.SDPTypeOffer, SDP: string(body)}
	parsed, err := offer.Unmarshal()
	if err != nil {
		http.Error(w, "malformed SDP offer: "+err.Error(), http.StatusBadRequest)
		return
	}
	if err := checkOffer(parsed, whip); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	resource, ok := s.reserve()
	if !ok {
		s.deps.Refused(RefusedSessions)
		s.log.Warn("session refused", zap.String("limit", RefusedSessions), zap.Int("max", s.cfg.MaxSessions),
			zap.String("remote", r.RemoteAddr))
		h := w.Header()
		h.Set("Retry-After", "10")
		http.Error(w, "too many WebRTC sessions", http.StatusServiceUnavailable)
		return
	}
	sess := newSession(s, r, tg, whip, s.deps.NewID(), resource)
	done, ok := s.deps.Track(sess)
	if !ok {
		s.unreserve()
		sess.core.Close()
		http.Error(w, "server shutting down", http.StatusServiceUnavailable)
		return
	}
	sdpAnswer, err := sess.negotiate(r, offer)
	if err != nil {
		var a *httpflv.Answer
		if !errors.As(err, &a) {
			a = &httpflv.Answer{Status: http.StatusServiceUnavailable, Text: err.Error()}
			err = a
		}
		http.Error(w, a.Text, a.Status)
		s.unreserve()
		sess.finish(err)
		done()
		return
	}
	s.mu.Lock()
	s.pending--
	s.sessions[resource] = sess
	s.mu.Unlock()
	h := w.Header()
	h.Set("Content-Type", "application/sdp")
	h.Set("Location", r.URL.Path+"/"+resource)
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, sdpAnswer)
	go func() {
		defer done()
		var err error
		if whip {
			err = sess.runPublisher()
		} else {
			err = sess.runViewer()
		}
		sess.finish(err)
	}()
}

// checkOffer refuses an offer with nothing we could use: a WHEP client
// must be able to receive H.264 or Opus, a WHIP client send them.
func checkOffer(sd *sdp.SessionDescription, whip bool) error {
	for _, md := range sd.MediaDescriptions {
		for _, a := range md.Attributes {
			if a.Key != "rtpmap" {
				continue
			}
			v := strings.ToLower(a.Value)
			if strings.Contains(v, " h264/90000") || strings.Contains(v, " opus/48000") {
				return nil
			}
		}
	}
	if whip {
		return errors.New("the offer sends neither H.264 nor Opus, the codecs WHIP takes")
	}
	return errors.New("the offer receives neither H.264 nor Opus, the codecs WHEP sends")
}

// reserve takes a session slot and names the session's resource.
func (s *Server) reserve() (resource string, ok bool) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.sessions)+s.pending >= s.cfg.MaxSessions {
		return "", false
	}
	s.pending++
	return hex.EncodeToString(b[:]), true
}

func (s *Server) unreserve() {
	s.mu.Lock()
	s.pending--
	s.mu.Unlock()
}

// forget removes an ended session.
func (s *Server) forget(sess *session) {
	s.mu.Lock()
	if s.sessions[sess.resource] == sess {
		delete(s.sessions, sess.resource)
	}
	s.mu.Unlock()
}
