package web

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"time"
)

// apiError is the body of every API error.
type apiError struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, apiError{Error: msg})
}

// writeActionError maps a backend error to its status.
func writeActionError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
		return
	case errors.Is(err, ErrConflict):
		writeError(w, http.StatusConflict, err.Error())
		return
	}
	writeError(w, http.StatusInternalServerError, err.Error())
}

// authed wraps an API handler. Reads need any valid credential; actions
// (mutating) from a dashboard session also need its CSRF token in the
// X-CSRF-Token header, which a foreign page cannot read. Without configured
// credentials the server is loopback-only and open, but still refuses
// foreign Host names (DNS rebinding) and cross-origin actions.
func (s *Server) authed(mutating bool, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		who, sess := s.auth.identify(r, time.Now())
		switch who {
		case anonymous:
			w.Header().Set("WWW-Authenticate", `Bearer realm="nimbus"`)
			writeError(w, http.StatusUnauthorized, "authentication required")
			return
		case viaOpen:
			if !loopbackHost(r) {
				writeError(w, http.StatusForbidden, "host name not allowed without credentials")
				return
			}
			if mutating && !sameOrigin(r) {
				writeError(w, http.StatusForbidden, "cross-origin request refused")
				return
			}
		case viaSession:
			if mutating && subtle.ConstantTimeCompare([]byte(r.Header.Get(csrfHeader)), []byte(sess.csrf)) != 1 {
				writeError(w, http.StatusForbidden, "missing or wrong CSRF token")
				return
			}
		}
		h(w, r)
	})
}

// sessionView tells the dashboard who it is and the CSRF token to send.
type sessionView struct {
	User string `json:"user"`
	Open bool   `json:"open"`
	CSRF string `json:"csrf"`
}

func (s *Server) sessionInfo(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	view := sessionView{User: s.cfg.User, Open: s.auth.open()}
	switch who, sess := s.auth.identify(r, now); {
	case who == viaSession:
		view.CSRF = sess.csrf
	case who == viaOpen:
		// An open server has no login: a session gives the dashboard its
		// CSRF token all the same, so actions need the same proof.
		id, sess := s.auth.newSession(now)
		s.setSessionCookie(w, r, id)
		view.CSRF = sess.csrf
	}
	// Scripts (basic auth, tokens) need no CSRF token and get no session,
	// so that they cannot crowd out the dashboards' sessions.
	writeJSON(w, http.StatusOK, view)
}

func (s *Server) setSessionCookie(w http.ResponseWriter, r *http.Request, id string) {
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: id, Path: "/", HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode, MaxAge: int(s.auth.ttl / time.Second),
	})
}

func (s *Server) dashboard(w http.ResponseWriter, r *http.Request) {
	if who, _ := s.auth.identify(r, time.Now()); who == anonymous || (who == viaOpen && !loopbackHost(r)) {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.ServeFileFS(w, r, uiFiles, "ui/index.html")
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if s.auth.open() {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	http.ServeFileFS(w, r, uiFiles, "ui/login.html")
}

// maxLoginForm bounds the login form body.
const maxLoginForm = 4 << 10

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		writeError(w, http.StatusForbidden, "cross-origin login refused")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginForm)
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, "bad login form")
		return
	}
	if !s.auth.checkPassword(r.PostForm.Get("user"), r.PostForm.Get("password")) {
		http.Redirect(w, r, "/login?failed=1", http.StatusSeeOther)
		return
	}
	id, _ := s.auth.newSession(time.Now())
	s.setSessionCookie(w, r, id)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		writeError(w, http.StatusForbidden, "cross-origin logout refused")
		return
	}
	s.auth.endSession(r)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func (s *Server) getServer(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.stats.current(time.Now()).Server)
}

// getStatsHistory is the last minutes of ticks, from which a dashboard
// starts its charts.
func (s *Server) getStatsHistory(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, StatsHistory{IntervalSeconds: s.cfg.StatsInterval.Seconds(), Samples: s.history.samples()})
}

func (s *Server) getApps(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, nonNil(s.backend.Apps()))
}

func (s *Server) reloadApp(w http.ResponseWriter, r *http.Request) {
	if err := s.backend.ReloadApp(r.PathValue("app"), r.URL.Query().Get("instance")); err != nil {
		writeActionError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) unloadApp(w http.ResponseWriter, r *http.Request) {
	if err := s.backend.UnloadApp(r.PathValue("app"), r.URL.Query().Get("instance")); err != nil {
		writeActionError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) getClients(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, nonNil(s.backend.Clients()))
}

func (s *Server) getClient(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	for _, c := range s.backend.Clients() {
		if c.ID == id {
			writeJSON(w, http.StatusOK, c)
			return
		}
	}
	writeError(w, http.StatusNotFound, "no client "+id)
}

func (s *Server) disconnectClient(w http.ResponseWriter, r *http.Request) {
	if err := s.backend.DisconnectClient(r.PathValue("id")); err != nil {
		writeActionError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) getStreams(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, nonNil(s.backend.Streams()))
}

func (s *Server) findStream(r *http.Request) (StreamInfo, bool) {
	app, inst, name := r.PathValue("app"), r.PathValue("instance"), r.PathValue("name")
	for _, st := range s.backend.Streams() {
		if st.App == app && st.Instance == inst && st.Name == name {
			return st, true
		}
	}
	return StreamInfo{}, false
}

func (s *Server) getStream(w http.ResponseWriter, r *http.Request) {
	st, ok := s.findStream(r)
	if !ok {
		writeError(w, http.StatusNotFound, "no stream "+r.PathValue("name"))
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) stopStream(w http.ResponseWriter, r *http.Request) {
	if err := s.backend.StopStream(r.PathValue("app"), r.PathValue("instance"), r.PathValue("name")); err != nil {
		writeActionError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) getSharedObjects(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, nonNil(s.backend.SharedObjects()))
}

func (s *Server) getNetGroups(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, nonNil(s.backend.NetGroups()))
}

// eventsSocket upgrades to the live update stream; the first message is the
// current snapshot, so a new dashboard draws at once.
func (s *Server) eventsSocket(w http.ResponseWriter, r *http.Request) {
	first, err := json.Marshal(s.stats.current(time.Now()))
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	s.hub.serve(w, r, first)
}

// nonNil makes an empty list encode as [] rather than null.
func nonNil[T any](v []T) []T {
	if v == nil {
		return []T{}
	}
	return v
}
