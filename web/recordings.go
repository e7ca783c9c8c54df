package web

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"path"
	"path/filepath"
	"strings"
)

// maxRecordBody bounds the optional JSON body of a record request.
const maxRecordBody = 4 << 10

// recordRequest is the optional body of POST .../record.
type recordRequest struct {
	// Mode is "record" (replace the file, the default) or "append"
	// (AMS's "appendWithGap" is taken as append).
	Mode string `json:"mode"`
}

// startRecording handles POST /api/v1/streams/{app}/{instance}/{name}/record:
// the mode comes from the query (mode=) or a JSON body, the query first.
func (s *Server) startRecording(w http.ResponseWriter, r *http.Request) {
	req := recordRequest{Mode: r.URL.Query().Get("mode")}
	if req.Mode == "" {
		r.Body = http.MaxBytesReader(w, r.Body, maxRecordBody)
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil && !errors.Is(err, io.EOF) {
			writeError(w, http.StatusBadRequest, "bad record request body: "+err.Error())
			return
		}
	}
	var appendMode bool
	switch req.Mode {
	case "", "record":
	case "append", "appendWithGap":
		appendMode = true
	default:
		writeError(w, http.StatusBadRequest, "unknown record mode "+req.Mode+`; want "record" or "append"`)
		return
	}
	if err := s.backend.StartRecording(r.PathValue("app"), r.PathValue("instance"), r.PathValue("name"), appendMode); err != nil {
		writeActionError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) stopRecording(w http.ResponseWriter, r *http.Request) {
	if err := s.backend.StopRecording(r.PathValue("app"), r.PathValue("instance"), r.PathValue("name")); err != nil {
		writeActionError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// getRecordings lists the recorded files, of one application (?app=) or
// instance (&instance=) when asked.
func (s *Server) getRecordings(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	app, inst := q.Get("app"), q.Get("instance")
	if inst != "" && app == "" {
		writeError(w, http.StatusBadRequest, "instance without app")
		return
	}
	list, err := s.backend.Recordings(app, inst)
	if err != nil {
		writeActionError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, nonNil(list))
}

// downloadRecording sends a recorded file as an attachment, with ranges
// (http.ServeContent), so that a download resumes and a player seeks. A
// name with .. or an absolute one is refused here; the backend opens the
// rest through os.Root, which refuses symbolic links out of the folder.
func (s *Server) downloadRecording(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	if !filepath.IsLocal(filepath.FromSlash(name)) || strings.ContainsAny(name, "\\\x00") {
		writeError(w, http.StatusBadRequest, "invalid recording name "+name)
		return
	}
	f, err := s.backend.OpenRecording(r.PathValue("app"), r.PathValue("instance"), name)
	if err != nil {
		writeActionError(w, err)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	base := path.Base(name)
	h := w.Header()
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": base}))
	if strings.EqualFold(path.Ext(base), ".flv") {
		h.Set("Content-Type", "video/x-flv")
	} else {
		h.Set("Content-Type", "application/octet-stream")
	}
	http.ServeContent(w, r, base, st.ModTime(), f)
}
