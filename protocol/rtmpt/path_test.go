package rtmpt

import (
	"strconv"
	"testing"
)

func TestParsePath(t *testing.T) {
	good := map[string]Request{
		"/fcs/ident2":                 {Cmd: CmdIdent},
		"/open/1":                     {Cmd: CmdOpen},
		"/send/abc123/0":              {Cmd: CmdSend, Session: "abc123", Seq: 0, HasSeq: true},
		"/idle/XYZ/18446744073709551": {Cmd: CmdIdle, Session: "XYZ", Seq: 18446744073709551, HasSeq: true},
		"/close/0123456789abcdef/7":   {Cmd: CmdClose, Session: "0123456789abcdef", Seq: 7, HasSeq: true},
		"/close/0123456789abcdef":     {Cmd: CmdClose, Session: "0123456789abcdef"},
		"/idle/a/9999999999999999999": {Cmd: CmdIdle, Session: "a", Seq: 9999999999999999999, HasSeq: true},
	}
	for p, want := range good {
		got, err := ParsePath(p)
		if err != nil || got != want {
			t.Errorf("ParsePath(%q) = %+v, %v; want %+v", p, got, err, want)
		}
	}
	for _, p := range []string{
		"", "/", "open/1", "/open/2", "/open/1/", "/fcs/ident", "/fcs/ident2/",
		"/send", "/send/", "/send/abc", "/send/abc/", "/send//1", "/send/abc/1/", "/send/abc/1/2",
		"/send/ab-c/1", "/send/abc/-1", "/send/abc/+1", "/send/abc/1x", "/send/abc/ 1",
		"/idle/abc/99999999999999999999", "/SEND/abc/1", "/poll/abc/1", "/close/", "/close/abc/",
		"/send/" + string(make([]byte, 64)) + "/1", "/send/é/1",
	} {
		if r, err := ParsePath(p); err == nil {
			t.Errorf("ParsePath(%q) = %+v, want an error", p, r)
		}
	}
	long := "/send/" + repeat('a', MaxSessionIDLen) + "/1"
	if _, err := ParsePath(long); err != nil {
		t.Errorf("a %d-character id: %v", MaxSessionIDLen, err)
	}
	if _, err := ParsePath("/send/" + repeat('a', MaxSessionIDLen+1) + "/1"); err == nil {
		t.Errorf("a %d-character id was accepted", MaxSessionIDLen+1)
	}
}

func repeat(c byte, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = c
	}
	return string(b)
}

// format writes a request back as its path.
func format(r Request) string {
	switch r.Cmd {
	case CmdIdent:
		return "/fcs/ident2"
	case CmdOpen:
		return "/open/1"
	}
	p := "/" + r.Cmd.String() + "/" + r.Session
	if r.HasSeq {
		p += "/" + strconv.FormatUint(r.Seq, 10)
	}
	return p
}

// FuzzParsePath: a path is accepted only in its one canonical form, so
// that what a request names is never ambiguous.
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"/fcs/ident2", "/open/1", "/send/abc/0", "/idle/0123456789abcdef/42",
		"/close/x", "/close/x/1", "/send/a/007", "/send//1", "/idle/a/1/2", "/send/a/99999999999999999999", "/%00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		r, err := ParsePath(p)
		if err != nil {
			return
		}
		if r.Cmd != CmdIdent && r.Cmd != CmdOpen && !validID(r.Session) {
			t.Fatalf("%q: accepted id %q", p, r.Session)
		}
		// Leading zeros aside, the path is the request's canonical form.
		again, err := ParsePath(format(r))
		if err != nil || again != r {
			t.Fatalf("%q parsed as %+v, which formats as %q and parses as %+v, %v", p, r, format(r), again, err)
		}
	})
}
