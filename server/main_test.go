package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/nimbus-media/nimbus/apps"
	"github.com/nimbus-media/nimbus/internal/testtools"
	"github.com/nimbus-media/nimbus/media"
	"github.com/nimbus-media/nimbus/server/config"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if testFLVDir != "" {
		_ = os.RemoveAll(testFLVDir)
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutines leaked:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// testServer is a server on an ephemeral loopback port, with its log lines
// captured for assertions.
type testServer struct {
	*Server
	url  string // rtmp://127.0.0.1:PORT/live
	mfp  string // rtmfp://127.0.0.1:PORT/live
	logs *observer.ObservedLogs
}

// startServer starts a server; change adjusts the default configuration.
// The server is stopped, and every connection closed, when the test ends.
// Its log lines are kept for assertions (ts.logs).
func startServer(t *testing.T, change func(*config.Config)) *testServer {
	t.Helper()
	core, logs := observer.New(zap.DebugLevel)
	log := zap.New(core)
	if testing.Verbose() {
		log = zap.New(zapcoreTee(core, t))
	}
	ts := startServerLog(t, change, log)
	ts.logs = logs
	return ts
}

// startServerLog is startServer with a logger of the caller's: long runs
// must not keep every line in memory.
func startServerLog(t *testing.T, change func(*config.Config), log *zap.Logger) *testServer {
	t.Helper()
	cfg := config.Defaults()
	cfg.RTMP.Listen = "127.0.0.1:0"
	cfg.RTMFP.Listen = "127.0.0.1:0"
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.RTMPT.Listen = "" // the RTMPT tests turn it on
	cfg.Play.Listen = "127.0.0.1:0"
	cfg.Apps = []config.AppConfig{{Name: "live"}}
	// The I/O engine's switches may come from the environment, so that
	// make test runs the RTMP suite again with the poller and io_uring
	// off; a test's own change still wins.
	var env []string
	for _, k := range []string{config.EnvName("rtmp.poller"), config.EnvName("media.io_uring")} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	if _, err := cfg.ApplyEnv(env); err != nil {
		t.Fatal(err)
	}
	if change != nil {
		change(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	srv := New(cfg, log)
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			var stacks strings.Builder
			_ = pprof.Lookup("goroutine").WriteTo(&stacks, 1)
			t.Errorf("server did not stop within 10 s; goroutines:\n%s", stacks.String())
		}
	})
	ts := &testServer{Server: srv, url: fmt.Sprintf("rtmp://%s/live", srv.RTMPAddr())}
	if a := srv.RTMFPAddr(); a != nil {
		ts.mfp = fmt.Sprintf("rtmfp://%s/live", a)
	}
	return ts
}

// stream returns the live stream called name in live/_definst_, or nil.
func (ts *testServer) stream(t *testing.T, name string) *media.Stream {
	t.Helper()
	inst, err := ts.Apps().Resolve("live", apps.DefaultInstance)
	if err != nil {
		t.Fatal(err)
	}
	return inst.Streams().Get(name)
}

// waitFor polls cond until it holds or the timeout passes.

var testFLVDir string

// testFLV returns the shared H.264/AAC test file (see testtools.FLV).
func testFLV(t *testing.T) string {
	t.Helper()
	if testFLVDir == "" {
		var err error
		if testFLVDir, err = os.MkdirTemp("", "nimbus-test"); err != nil {
			t.Fatal(err)
		}
	}
	return testtools.FLV(t, testFLVDir)
}

// errorsAs is errors.As with the target's type checked at compile time.
func errorsAs[T error](err error, target *T) bool { return errors.As(err, target) }
