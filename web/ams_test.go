package web

import (
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// amsResult is the AMS admin reply document.
type amsResult struct {
	XMLName     xml.Name `xml:"result"`
	Level       string   `xml:"level"`
	Code        string   `xml:"code"`
	Description string   `xml:"description"`
	Timestamp   string   `xml:"timestamp"`
	Data        struct {
		Items []struct {
			XMLName xml.Name
			Value   string `xml:",chardata"`
			Inner   string `xml:",innerxml"`
		} `xml:",any"`
	} `xml:"data"`
}

// field returns the text of data's child called name.
func (r amsResult) field(name string) string {
	for _, it := range r.Data.Items {
		if it.XMLName.Local == name {
			return it.Value
		}
	}
	return ""
}

func amsCall(t *testing.T, base, method string, params url.Values) (int, amsResult, string) {
	t.Helper()
	res, err := http.Get(base + "/admin/" + method + "?" + params.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	var r amsResult
	if err := xml.Unmarshal(body, &r); err != nil {
		t.Fatalf("%s: reply is not AMS XML: %v\n%s", method, err, body)
	}
	if !strings.HasPrefix(res.Header.Get("Content-Type"), "text/xml") {
		t.Errorf("%s: content type %q", method, res.Header.Get("Content-Type"))
	}
	return res.StatusCode, r, string(body)
}

func TestAMSAdmin(t *testing.T) {
	_, b, base := startTest(t, true, nil)
	auth := url.Values{"auser": {testUser}, "apswd": {testPassword}}
	with := func(kv ...string) url.Values {
		v := url.Values{"auser": auth["auser"], "apswd": auth["apswd"]}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	for _, tt := range []struct {
		name, method string
		params       url.Values
		status       int
		code         string
		check        func(t *testing.T, r amsResult, body string)
	}{
		{"no credentials", "getLiveStreams", url.Values{"appInst": {"live"}}, 401, "NetConnection.Connect.Rejected", nil},
		{"wrong password", "getApps", url.Values{"auser": {testUser}, "apswd": {"x"}}, 401, "NetConnection.Connect.Rejected", nil},
		{"getLiveStreams", "getLiveStreams", with("appInst", "live/_definst_"), 200, "NetConnection.Call.Success",
			func(t *testing.T, r amsResult, body string) {
				if r.field("_0") != "cam<1>" || !strings.Contains(body, "<data><_0>cam&lt;1&gt;</_0></data>") {
					t.Errorf("stream not listed as _0: %s", body)
				}
			}},
		{"getLiveStreams of the default instance", "getLiveStreams", with("appInst", "live"), 200, "NetConnection.Call.Success",
			func(t *testing.T, r amsResult, body string) {
				if r.field("_0") != "cam<1>" {
					t.Errorf("stream not listed: %s", body)
				}
			}},
		{"getApps", "getApps", with(), 200, "NetConnection.Call.Success",
			func(t *testing.T, r amsResult, body string) {
				if r.field("_0") != "live" {
					t.Errorf("app not listed: %s", body)
				}
			}},
		{"getServerStats", "getServerStats", with(), 200, "NetConnection.Call.Success",
			func(t *testing.T, r amsResult, body string) {
				if r.field("server_bytes_in") != "1010" || r.field("num_cores") == "" || r.field("launchTime") == "" {
					t.Errorf("server stats: %s", body)
				}
			}},
		{"getAppStats", "getAppStats", with("app", "live"), 200, "NetConnection.Call.Success",
			func(t *testing.T, r amsResult, body string) {
				if r.field("connected") != "2" || r.field("bytes_out") != "510" {
					t.Errorf("app stats: %s", body)
				}
			}},
		{"getAppStats of an unknown app", "getAppStats", with("app", "vod"), 404, "NetConnection.Call.Failed", nil},
		{"getLiveStreamStats", "getLiveStreamStats", with("appInst", "live/_definst_", "stream", "cam<1>"), 200, "NetConnection.Call.Success",
			func(t *testing.T, r amsResult, body string) {
				if !strings.Contains(body, "<publisher><name>cam&lt;1&gt;</name>") || !strings.Contains(body, "<type>publishing</type><client>1</client>") {
					t.Errorf("live stream stats: %s", body)
				}
			}},
		{"getUsers", "getUsers", with("appInst", "live/_definst_"), 200, "NetConnection.Call.Success",
			func(t *testing.T, r amsResult, body string) {
				if r.field("_0") != "1" || r.field("_1") != "2" {
					t.Errorf("users: %s", body)
				}
			}},
		{"getUserStats", "getUserStats", with("appInst", "live/_definst_", "userid", "2"), 200, "NetConnection.Call.Success",
			func(t *testing.T, r amsResult, body string) {
				if r.field("protocol") != "rtmfp" || r.field("bytes_out") != "500" {
					t.Errorf("user stats: %s", body)
				}
			}},
		{"getUserStats of an unknown client", "getUserStats", with("appInst", "live", "userid", "9"), 404, "NetConnection.Call.Failed", nil},
		{"reloadApp", "reloadApp", with("appInst", "live/_definst_"), 200, "NetConnection.Call.Success", nil},
		{"unloadApp", "unloadApp", with("appInst", "live"), 200, "NetConnection.Call.Success", nil},
		{"unloadApp of an unknown app", "unloadApp", with("appInst", "vod"), 404, "NetConnection.Call.Failed", nil},
		{"unknown method", "getEverything", with(), 404, "NetConnection.Call.Failed", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, r, body := amsCall(t, base, tt.method, tt.params)
			if status != tt.status || r.Code != tt.code {
				t.Fatalf("status %d code %q, want %d %q\n%s", status, r.Code, tt.status, tt.code, body)
			}
			wantLevel := "status"
			if status != 200 {
				wantLevel = "error"
				if r.Description == "" {
					t.Errorf("error without a description: %s", body)
				}
			}
			if r.Level != wantLevel || r.Timestamp == "" {
				t.Errorf("level %q timestamp %q: %s", r.Level, r.Timestamp, body)
			}
			if tt.check != nil {
				tt.check(t, r, body)
			}
		})
	}
	if got := strings.Join(b.recorded(), "|"); got != "reload live/_definst_|unload live/_definst_" {
		t.Errorf("actions %q", got)
	}
}

func FuzzAMSEscape(f *testing.F) {
	for _, s := range []string{"cam<1>", "a&b", `"quoted" 'single'`, "ctl\x01\x1f\ttab", "unicode ☁"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		doc := appendXML(nil, xtext("v", s))
		var got string
		if err := xml.Unmarshal(doc, &got); err != nil {
			t.Fatalf("%q escapes to invalid XML %q: %v", s, doc, err)
		}
		want := strings.Map(func(r rune) rune {
			if r < 0x20 && r != '\t' && r != '\n' && r != '\r' {
				return -1
			}
			return r
		}, s)
		// XML parsers normalise line ends; invalid UTF-8 becomes U+FFFD.
		want = strings.ReplaceAll(strings.ReplaceAll(want, "\r\n", "\n"), "\r", "\n")
		if strings.ToValidUTF8(want, "\uFFFD") == want && !strings.ContainsAny(want, "\uFFFE\uFFFF") && got != want {
			t.Fatalf("%q came back as %q", want, got)
		}
	})
}
