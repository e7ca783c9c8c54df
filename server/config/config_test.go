package config

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"

	"github.com/nimbus-media/nimbus"
)

// TestDefaultsFile: the shipped config.toml, from which Defaults comes,
// sets every key Config has (a key it left out would default to its zero
// value, undocumented) and only keys Config has.
func TestDefaultsFile(t *testing.T) {
	if _, err := decodeTOML(Config{}, nimbus.DefaultConfig); err != nil {
		t.Fatalf("config.toml has a key Config lacks: %v", err)
	}
	var file map[string]any
	if err := toml.Unmarshal(nimbus.DefaultConfig, &file); err != nil {
		t.Fatal(err)
	}
	keys := configKeys()
	for _, want := range []string{"apps_dir", "rtmp.listen", "media.io_uring", "scripting.queue", "rtmfp.redirect_to"} {
		if !slices.ContainsFunc(keys, func(k configKey) bool { return k.path == want }) {
			t.Errorf("configKeys misses %s", want)
		}
	}
	for _, k := range keys {
		table, path := file, strings.Split(k.path, ".")
		for _, name := range path[:len(path)-1] {
			table, _ = table[name].(map[string]any)
		}
		if _, ok := table[path[len(path)-1]]; !ok {
			t.Errorf("config.toml does not set %s", k.path)
		}
	}
	if _, ok := file["app"]; !ok {
		t.Error("config.toml declares no [[app]]")
	}
}

// TestPartialConfig: a file that sets some keys gets the defaults for the
// others, in the tables it names too.
func TestPartialConfig(t *testing.T) {
	cfg, err := ParseConfig([]byte("[rtmp]\nchunk_size = 8192\n[media]\nio_uring = false\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := Defaults()
	want.RTMP.ChunkSize = 8192
	want.Media.IOURing = false
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("ParseConfig = %+v\nwant %+v", cfg, want)
	}
	if cfg.RTMP.Listen != ":1935" || cfg.RTMP.IdleTimeout.Seconds() != 60 || cfg.HTTP.Listen != "127.0.0.1:8080" {
		t.Errorf("defaults lost: rtmp.listen %q rtmp.idle_timeout %v http.listen %q", cfg.RTMP.Listen, cfg.RTMP.IdleTimeout, cfg.HTTP.Listen)
	}
	if len(cfg.Apps) != 1 || cfg.Apps[0].Name != "live" {
		t.Errorf("apps %+v, want live alone", cfg.Apps)
	}
}
