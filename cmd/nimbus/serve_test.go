package main

import (
	"testing"

	"github.com/nimbus-media/nimbus"
	"github.com/nimbus-media/nimbus/server/config"
)

// TestListenFlags: a listener flag given overrides the configuration,
// given empty it turns the listener off, and absent it changes nothing.
func TestListenFlags(t *testing.T) {
	base, err := config.ParseConfig(nimbus.DefaultConfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args                            []string
		rtmp, rtmfp, rtmpt, httpA, play string
	}{
		{nil, ":1935", ":1935", ":80", "127.0.0.1:8080", ":8088"},
		{[]string{"-rtmfp", "", "-rtmpt", "", "-http", "", "-play", ""}, ":1935", "", "", "", ""},
		{[]string{"-rtmpt", "127.0.0.1:8081", "-rtmp", "127.0.0.1:1936", "-play", "127.0.0.1:8089"}, "127.0.0.1:1936", ":1935", "127.0.0.1:8081", "127.0.0.1:8080", "127.0.0.1:8089"},
		{[]string{"-rtmpt=", "-rtmpt", ":8000"}, ":1935", ":1935", ":8000", "127.0.0.1:8080", ":8088"},
	} {
		_, listens, err := parseServeFlags(tc.args)
		if err != nil {
			t.Fatal(err)
		}
		cfg := base
		overrideListens(&cfg, listens)
		if err := cfg.Validate(); err != nil {
			t.Fatalf("%q: %v", tc.args, err)
		}
		if cfg.RTMP.Listen != tc.rtmp || cfg.RTMFP.Listen != tc.rtmfp || cfg.RTMPT.Listen != tc.rtmpt || cfg.HTTP.Listen != tc.httpA ||
			cfg.Play.Listen != tc.play {
			t.Errorf("%q: rtmp %q rtmfp %q rtmpt %q http %q play %q; want %q %q %q %q %q", tc.args,
				cfg.RTMP.Listen, cfg.RTMFP.Listen, cfg.RTMPT.Listen, cfg.HTTP.Listen, cfg.Play.Listen,
				tc.rtmp, tc.rtmfp, tc.rtmpt, tc.httpA, tc.play)
		}
	}
	_, listens, err := parseServeFlags([]string{"-rtmp", ""})
	if err != nil {
		t.Fatal(err)
	}
	cfg := base
	overrideListens(&cfg, listens)
	if err := cfg.Validate(); err == nil {
		t.Error("-rtmp \"\" was accepted; RTMP cannot be off")
	}
}
