package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/internal/testtools"
)

// serveEnv starts `nimbus serve` with args and NIMBUS_ variables env in
// place of any the test runs with.
func serveEnv(t *testing.T, ctx context.Context, bin string, env []string, args ...string) (*exec.Cmd, *testtools.Buffer) {
	t.Helper()
	serverLog := &testtools.Buffer{}
	srv := exec.CommandContext(ctx, bin, append([]string{"serve"}, args...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NIMBUS_") {
			srv.Env = append(srv.Env, kv)
		}
	}
	srv.Env = append(srv.Env, env...)
	srv.Stdout, srv.Stderr = serverLog, serverLog
	srv.WaitDelay = 5 * time.Second
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if srv.ProcessState == nil {
			_ = srv.Process.Kill()
			_ = srv.Wait()
		}
	})
	return srv, serverLog
}

// TestServeEnv runs the real binary with NIMBUS_ variables: they override
// the file (RTMP listens where NIMBUS_RTMP_LISTEN says, "" turns the other
// listeners off), a variable naming no key is warned about, SIGHUP applies
// them again over the re-read file, and a listener flag overrides them.
func TestServeEnv(t *testing.T) {
	bin := nimbusBin(t)
	addr := freePort(t)
	file := filepath.Join(t.TempDir(), "nimbus.toml")
	// The file's RTMP address is not where the server should listen.
	if err := os.WriteFile(file, []byte("[rtmp]\nlisten = \"127.0.0.1:1\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	env := []string{"NIMBUS_RTMP_LISTEN=" + addr, "NIMBUS_RTMFP_LISTEN=", "NIMBUS_RTMPT_LISTEN=",
		"NIMBUS_HTTP_LISTEN=", "NIMBUS_APPS_DIR=", "NIMBUS_RTMP_LISTN=:1"}
	srv, serverLog := serveEnv(t, ctx, bin, env, "-config", file)
	waitListening(t, addr, serverLog)
	const typo = "NIMBUS_RTMP_LISTN"
	if !strings.Contains(serverLog.String(), typo) {
		t.Errorf("no warning about %s:\n%s", typo, serverLog.String())
	}
	for _, off := range []string{"rtmfp listening", "rtmpt listening", "admin http listening"} {
		if strings.Contains(serverLog.String(), off) {
			t.Errorf("%q logged though its variable is empty:\n%s", off, serverLog.String())
		}
	}

	// Reloaded without the environment, the file's RTMP address would
	// differ from the running one, which the server warns about.
	if err := srv.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog(t, serverLog, "configuration reloaded")
	if log := serverLog.String(); strings.Contains(log, "listener changes") || strings.Count(log, typo) != 2 {
		t.Errorf("SIGHUP did not apply the environment again:\n%s", log)
	}

	// The flag wins over the variable.
	flagAddr := freePort(t)
	_, flagLog := serveEnv(t, ctx, bin, env, "-config", file, "-rtmp", flagAddr)
	waitListening(t, flagAddr, flagLog)

	// A value the file would refuse stops the server, naming the variable.
	bad, badLog := serveEnv(t, ctx, bin, append(env, "NIMBUS_RTMP_CHUNK_SIZE=big"), "-config", file)
	if err := bad.Wait(); err == nil || !strings.Contains(badLog.String(), "NIMBUS_RTMP_CHUNK_SIZE") {
		t.Errorf("NIMBUS_RTMP_CHUNK_SIZE=big: exit %v\n%s", err, badLog.String())
	}
}
