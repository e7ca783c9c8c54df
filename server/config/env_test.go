package config

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestEnvNames: every key's variable is its path upper-cased, and no two
// keys share one.
func TestEnvNames(t *testing.T) {
	for key, want := range map[string]string{
		"rtmp.listen": "NIMBUS_RTMP_LISTEN", "apps_dir": "NIMBUS_APPS_DIR",
		"log.level": "NIMBUS_LOG_LEVEL", "scripting.pending_connect_timeout": "NIMBUS_SCRIPTING_PENDING_CONNECT_TIMEOUT",
	} {
		if got := EnvName(key); got != want {
			t.Errorf("EnvName(%q) = %s, want %s", key, got, want)
		}
	}
	// ApplyEnv fails if two keys share a variable.
	cfg := Defaults()
	if _, err := cfg.ApplyEnv(nil); err != nil {
		t.Fatal(err)
	}
}

// TestApplyEnv: each type parses by the file's rules, "" sets empty where
// unset leaves the file's value, and unknown NIMBUS_ variables come back.
func TestApplyEnv(t *testing.T) {
	cfg := Defaults()
	cfg.RTMPT.Listen = ":8080" // from a file; no variable touches it
	unknown, err := cfg.ApplyEnv([]string{
		"PATH=/bin",
		"NIMBUS_RTMP_LISTEN=:1936",
		"NIMBUS_RTMFP_LISTEN=",
		"NIMBUS_LOG_LEVEL=debug",
		"NIMBUS_APPS_DIR=/srv/apps",
		"NIMBUS_RTMP_CHUNK_SIZE=8_192",
		"NIMBUS_RTMP_RTMPE=false",
		"NIMBUS_RTMP_IDLE_TIMEOUT=1m30s",
		"NIMBUS_MEDIA_MERGE_ABOVE=1.5",
		"NIMBUS_MEDIA_MAX_GOP_BYTES=0x100000",
		"NIMBUS_RTMFP_REDIRECT_TO=a.example:1935, b.example:1935",
		"NIMBUS_HTTP_USER=admin=x", // the first = ends the name
		"NIMBUS_RTMP_LISTN=:1",
		"NIMBUS_APP_0_NAME=x",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := Defaults()
	want.RTMP.Listen, want.RTMFP.Listen, want.RTMPT.Listen = ":1936", "", ":8080"
	want.Log.Level, want.AppsDir = "debug", "/srv/apps"
	want.RTMP.ChunkSize, want.RTMP.RTMPE, want.RTMP.IdleTimeout = 8192, false, Duration{90 * time.Second}
	want.Media.MergeAbove, want.Media.MaxGOPBytes = 1.5, 1<<20
	want.RTMFP.RedirectTo = []string{"a.example:1935", "b.example:1935"}
	want.HTTP.User = "admin=x"
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("ApplyEnv = %+v\nwant %+v", cfg, want)
	}
	if !slices.Equal(unknown, []string{"NIMBUS_RTMP_LISTN", "NIMBUS_APP_0_NAME"}) {
		t.Errorf("unknown = %q", unknown)
	}
}

// TestApplyEnvLists: a list is comma-separated or a TOML array, and ""
// empties it; a value either form refuses (nil here) leaves it.
func TestApplyEnvLists(t *testing.T) {
	for value, want := range map[string][]string{
		"":               {},
		"h:1":            {"h:1"},
		`["h:1", "i:2"]`: {"h:1", "i:2"},
		` [ "h:1" ] `:    {"h:1"},
		"h:1,i:2,":       nil, // an empty item
		"h:1, i:2":       {"h:1", "i:2"},
		`[]`:             {},
		"[::1]:1935":     nil, // not a TOML array
		`["[::1]:1935"]`: {"[::1]:1935"},
		"h:1,,i:2":       nil,
	} {
		cfg := Defaults()
		cfg.RTMFP.RedirectTo = []string{"old:1"}
		_, err := cfg.ApplyEnv([]string{"NIMBUS_RTMFP_REDIRECT_TO=" + value})
		if want == nil {
			if err == nil || !slices.Equal(cfg.RTMFP.RedirectTo, []string{"old:1"}) {
				t.Errorf("%q: accepted as %q", value, cfg.RTMFP.RedirectTo)
			}
			continue
		}
		if err != nil || !slices.Equal(cfg.RTMFP.RedirectTo, want) || cfg.RTMFP.RedirectTo == nil {
			t.Errorf("%q: %q, %v; want %q", value, cfg.RTMFP.RedirectTo, err, want)
		}
	}
}

// TestApplyEnvErrors: a value the file would refuse is refused, naming the
// variable and the key.
func TestApplyEnvErrors(t *testing.T) {
	for _, kv := range []string{
		"NIMBUS_RTMP_CHUNK_SIZE=big",
		"NIMBUS_RTMP_CHUNK_SIZE=",
		"NIMBUS_RTMP_CHUNK_SIZE=-1",
		"NIMBUS_RTMP_CHUNK_SIZE=4294967296", // past uint32
		"NIMBUS_RTMP_CHUNK_SIZE=1\nlisten = 2",
		"NIMBUS_RTMP_RTMPE=yes",
		"NIMBUS_RTMP_RTMPE=",
		"NIMBUS_RTMP_IDLE_TIMEOUT=60",
		"NIMBUS_MEDIA_MERGE_ABOVE=high",
	} {
		cfg := Defaults()
		_, err := cfg.ApplyEnv([]string{kv})
		name, _, _ := strings.Cut(kv, "=")
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%q: error %v, want one naming %s", kv, err, name)
		}
	}
}
