package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The AMS Administration API over HTTP: GET /admin/<method>?auser=&apswd=
// with the XML replies AMS's administration server sends
// (ams-behaviour.md §8.1): <result> with level, code, timestamp and, on
// success, <data>, whose array members are named _0, _1, ...

// amsTime is the Linux form of AMS's timestamp ("Sun 23 Sep 2007 06:16:40 PM IST").
const amsTime = "Mon 02 Jan 2006 03:04:05 PM MST"

// xnode is an element of a reply: text, or children.
type xnode struct {
	name string
	text string
	kids []xnode
}

func xtext(name, text string) xnode { return xnode{name: name, text: text} }
func xint(name string, v uint64) xnode {
	return xnode{name: name, text: strconv.FormatUint(v, 10)}
}
func xlist(name string, kids ...xnode) xnode { return xnode{name: name, kids: kids} }

// xarray names items _0, _1, ... as AMS encodes arrays.
func xarray(name string, items []string) xnode {
	n := xnode{name: name, kids: make([]xnode, len(items))}
	for i, it := range items {
		n.kids[i] = xtext("_"+strconv.Itoa(i), it)
	}
	return n
}

func appendXML(b []byte, n xnode) []byte {
	b = append(b, '<')
	b = append(b, n.name...)
	b = append(b, '>')
	if n.kids == nil {
		b = appendXMLEscaped(b, n.text)
	}
	for _, k := range n.kids {
		b = appendXML(b, k)
	}
	b = append(b, '<', '/')
	b = append(b, n.name...)
	return append(b, '>')
}

// appendXMLEscaped writes s as XML character data. Names come from peers
// and may be any bytes: invalid UTF-8 and characters XML 1.0 cannot carry
// (§2.2 Char) become U+FFFD or are dropped, so the document always parses.
func appendXMLEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == '&':
			b = append(b, "&amp;"...)
		case r == '<':
			b = append(b, "&lt;"...)
		case r == '>':
			b = append(b, "&gt;"...)
		case r == '"':
			b = append(b, "&quot;"...)
		case r == '\'':
			b = append(b, "&apos;"...)
		case r < 0x20 && r != '\t' && r != '\n' && r != '\r':
			// not representable in XML 1.0
		case r == utf8.RuneError && size == 1, r == 0xFFFE, r == 0xFFFF:
			b = utf8.AppendRune(b, utf8.RuneError)
		default:
			b = append(b, s[i-size:i]...)
		}
	}
	return b
}

// amsReply writes an AMS result document.
func amsReply(w http.ResponseWriter, status int, level, code, description string, data *xnode) {
	res := xnode{name: "result", kids: []xnode{xtext("level", level), xtext("code", code)}}
	if description != "" {
		res.kids = append(res.kids, xtext("description", description))
	}
	res.kids = append(res.kids, xtext("timestamp", time.Now().Format(amsTime)))
	if data != nil {
		res.kids = append(res.kids, *data)
	}
	b := append([]byte(`<?xml version="1.0" encoding="utf-8"?>`+"\n"), appendXML(nil, res)...)
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func amsOK(w http.ResponseWriter, data *xnode) {
	amsReply(w, http.StatusOK, "status", "NetConnection.Call.Success", "", data)
}

func amsFail(w http.ResponseWriter, status int, description string) {
	amsReply(w, status, "error", "NetConnection.Call.Failed", description, nil)
}

// splitAppInst splits an appInst parameter ("live/_definst_", or "live"
// for the default instance).
func splitAppInst(s string) (app, inst string) {
	app, inst, _ = strings.Cut(strings.Trim(s, "/"), "/")
	if inst == "" {
		inst = "_definst_"
	}
	return app, inst
}

// amsAdmin serves /admin/<method>. Credentials are AMS's auser/apswd, or
// any credential the JSON API takes. A refused login is answered with
// NetConnection.Connect.Rejected, as AMS does, and status 401.
func (s *Server) amsAdmin(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ok := false
	if who, _ := s.auth.identify(r, time.Now()); who == viaSession || who == viaScript {
		ok = true
	} else if u := q.Get("auser"); u != "" {
		ok = s.auth.checkPassword(u, q.Get("apswd"))
	} else if who == viaOpen {
		ok = loopbackHost(r)
	}
	if !ok {
		amsReply(w, http.StatusUnauthorized, "error", "NetConnection.Connect.Rejected", "Admin user requires valid username and password.", nil)
		return
	}
	method := r.PathValue("method")
	switch method {
	case "ping":
		amsOK(w, nil)
	case "getServerStats":
		amsOK(w, s.amsServerStats())
	case "getApps":
		var names []string
		for _, a := range s.backend.Apps() {
			names = append(names, a.Name)
		}
		d := xarray("data", names)
		amsOK(w, &d)
	case "getActiveInstances":
		var paths []string
		for _, a := range s.backend.Apps() {
			for _, i := range a.Instances {
				paths = append(paths, i.Path)
			}
		}
		d := xarray("data", paths)
		amsOK(w, &d)
	case "getAppStats":
		s.amsAppStats(w, q.Get("app"))
	case "getLiveStreams":
		app, inst := splitAppInst(q.Get("appInst"))
		var names []string
		for _, st := range s.backend.Streams() {
			if st.App == app && st.Instance == inst && st.Published {
				names = append(names, st.Name)
			}
		}
		d := xarray("data", names)
		amsOK(w, &d)
	case "getLiveStreamStats":
		s.amsLiveStreamStats(w, q.Get("appInst"), q.Get("stream"))
	case "getUsers":
		path := appInstPath(q.Get("appInst"))
		var ids []string
		for _, c := range s.backend.Clients() {
			if c.App == path {
				ids = append(ids, c.ID)
			}
		}
		d := xarray("data", ids)
		amsOK(w, &d)
	case "getUserStats":
		s.amsUserStats(w, q.Get("appInst"), q.Get("userid"))
	case "reloadApp", "unloadApp":
		app, inst := splitAppInst(q.Get("appInst"))
		if q.Get("appInst") == "" {
			amsFail(w, http.StatusBadRequest, "Missing appInst parameter.")
			return
		}
		act := s.backend.ReloadApp
		if method == "unloadApp" {
			act = s.backend.UnloadApp
		}
		if err := act(app, inst); err != nil {
			amsFail(w, amsStatus(err), err.Error())
			return
		}
		amsOK(w, nil)
	default:
		amsFail(w, http.StatusNotFound, "Method not found ("+method+").")
	}
}

// appInstPath is the "app/instance" path an appInst parameter names.
func appInstPath(s string) string {
	app, inst := splitAppInst(s)
	return app + "/" + inst
}

func amsStatus(err error) int {
	if errors.Is(err, ErrNotFound) {
		return http.StatusNotFound
	}
	return http.StatusInternalServerError
}

func (s *Server) amsServerStats() *xnode {
	st := s.stats.current(time.Now()).Server
	memPct := uint64(0)
	if st.PhysicalMemory > 0 {
		memPct = st.MemoryBytes * 100 / st.PhysicalMemory
	}
	d := xlist("data",
		xint("cpu_Usage", uint64(st.CPUPercent+0.5)),
		xtext("launchTime", st.Started.Format(amsTime)),
		xint("up_time", uint64(st.UptimeSeconds)),
		xint("memory_Usage", memPct),
		xint("num_cores", uint64(st.NumCPU)),
		xint("physical_Mem", st.PhysicalMemory),
		xint("server_bytes_in", st.BytesIn),
		xint("server_bytes_out", st.BytesOut),
		xlist("io",
			xint("bytes_in", st.BytesIn),
			xint("bytes_out", st.BytesOut),
			xint("bw_in", uint64(st.BandwidthIn/8)),
			xint("bw_out", uint64(st.BandwidthOut/8)),
			xint("connected", uint64(st.TotalConnections)),
		),
	)
	return &d
}

func (s *Server) amsAppStats(w http.ResponseWriter, app string) {
	for _, a := range s.backend.Apps() {
		if a.Name != app {
			continue
		}
		var in, out uint64
		for _, c := range s.backend.Clients() {
			if strings.HasPrefix(c.App, app+"/") {
				in, out = in+c.BytesIn, out+c.BytesOut
			}
		}
		d := xlist("data",
			xint("connected", uint64(a.Clients)),
			xint("bytes_in", in),
			xint("bytes_out", out),
			xint("total_instances_loaded", uint64(len(a.Instances))),
			xint("live_streams", uint64(a.Streams)),
		)
		amsOK(w, &d)
		return
	}
	amsFail(w, http.StatusNotFound, "Application ("+app+") is not defined.")
}

func (s *Server) amsLiveStreamStats(w http.ResponseWriter, appInst, name string) {
	app, inst := splitAppInst(appInst)
	for _, st := range s.backend.Streams() {
		if st.App != app || st.Instance != inst || st.Name != name || !st.Published {
			continue
		}
		d := xlist("data",
			xlist("publisher",
				xtext("name", st.Name),
				xtext("time", st.Since.Format(amsTime)),
				xtext("type", "publishing"),
				xtext("client", st.Publisher),
				xtext("publish_time", st.Since.Format(amsTime)),
				xtext("client_type", "normal"),
				xtext("video_codec", st.VideoCodec),
				xtext("audio_codec", st.AudioCodec),
				xint("bitrate", uint64(st.Bitrate)),
			),
			xint("subscriber_count", uint64(st.Subscribers)),
		)
		amsOK(w, &d)
		return
	}
	amsFail(w, http.StatusNotFound, "Stream ("+name+") is not published on "+app+"/"+inst+".")
}

func (s *Server) amsUserStats(w http.ResponseWriter, appInst, id string) {
	path := appInstPath(appInst)
	for _, c := range s.backend.Clients() {
		if c.ID != id || c.App != path {
			continue
		}
		d := xlist("data",
			xtext("connect_time", c.Since.Format(amsTime)),
			xint("bytes_in", c.BytesIn),
			xint("bytes_out", c.BytesOut),
			xtext("protocol", c.Protocol),
			xtext("agent", c.Agent),
			xtext("address", c.Address),
		)
		amsOK(w, &d)
		return
	}
	amsFail(w, http.StatusNotFound, "Client ("+id+") is not connected to "+path+".")
}
