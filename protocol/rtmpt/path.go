package rtmpt

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Command is what an RTMPT request asks for, named by the first element of
// its path (docs/rtmpt.md).
type Command uint8

// The RTMPT commands.
const (
	// CmdIdent is /fcs/ident2, which Flash sends before /open to learn
	// the address to tunnel to.
	CmdIdent Command = iota + 1
	// CmdOpen is /open/1: start a session.
	CmdOpen
	// CmdSend is /send/<id>/<seq>: RTMP bytes from the client.
	CmdSend
	// CmdIdle is /idle/<id>/<seq>: a poll for RTMP bytes to the client.
	CmdIdle
	// CmdClose is /close/<id>[/<seq>]: the client ends the session.
	CmdClose
)

func (c Command) String() string {
	switch c {
	case CmdIdent:
		return "ident2"
	case CmdOpen:
		return "open"
	case CmdSend:
		return "send"
	case CmdIdle:
		return "idle"
	case CmdClose:
		return "close"
	}
	return "Command(" + strconv.Itoa(int(c)) + ")"
}

// Request is a parsed RTMPT request path.
type Request struct {
	Cmd     Command
	Session string // empty for ident2 and open
	// Seq is the client's request counter; HasSeq is false for a close
	// without one (some clients send /close/<id>).
	Seq    uint64
	HasSeq bool
}

// MaxSessionIDLen bounds a session id in a path. ffmpeg keeps the id in 64
// bytes with its terminator; ours are 16.
const MaxSessionIDLen = 63

// maxSeqDigits keeps a sequence number within a uint64.
const maxSeqDigits = 19

// errBadPath is wrapped by every ParsePath error.
var errBadPath = errors.New("rtmpt: malformed request path")

// ParsePath parses an RTMPT request path. It accepts exactly the forms of
// docs/rtmpt.md: no query, no empty or extra elements, a session id of
// letters and digits, a sequence number of decimal digits.
func ParsePath(p string) (Request, error) {
	switch p {
	case "/fcs/ident2":
		return Request{Cmd: CmdIdent}, nil
	case "/open/1":
		return Request{Cmd: CmdOpen}, nil
	}
	rest, ok := strings.CutPrefix(p, "/")
	if !ok {
		return Request{}, fmt.Errorf("%w: %q does not start with /", errBadPath, clip(p))
	}
	name, rest, _ := strings.Cut(rest, "/")
	var r Request
	switch name {
	case "send":
		r.Cmd = CmdSend
	case "idle":
		r.Cmd = CmdIdle
	case "close":
		r.Cmd = CmdClose
	default:
		return Request{}, fmt.Errorf("%w: unknown command in %q", errBadPath, clip(p))
	}
	id, seq, hasSeq := strings.Cut(rest, "/")
	if !validID(id) {
		return Request{}, fmt.Errorf("%w: bad session id in %q", errBadPath, clip(p))
	}
	r.Session = id
	if !hasSeq {
		if r.Cmd != CmdClose {
			return Request{}, fmt.Errorf("%w: %s without a sequence number", errBadPath, r.Cmd)
		}
		return r, nil
	}
	n, err := parseSeq(seq)
	if err != nil {
		return Request{}, fmt.Errorf("%w: %q: %w", errBadPath, clip(p), err)
	}
	r.Seq, r.HasSeq = n, true
	return r, nil
}

// validID reports whether id can be a session id: 1 to MaxSessionIDLen
// letters and digits.
func validID(id string) bool {
	if id == "" || len(id) > MaxSessionIDLen {
		return false
	}
	for i := range len(id) {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// parseSeq parses a sequence number: decimal digits only, no sign.
func parseSeq(s string) (uint64, error) {
	if s == "" || len(s) > maxSeqDigits {
		return 0, errors.New("sequence number must be 1 to 19 digits")
	}
	var n uint64
	for i := range len(s) {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, errors.New("sequence number must be decimal digits")
		}
		n = n*10 + uint64(c-'0')
	}
	return n, nil
}

// clip shortens a hostile path for an error message.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
