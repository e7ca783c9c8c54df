// Command nimbus is the Nimbus media server and its client tools.
//
//	nimbus [serve] [-config FILE] [-rtmp ADDR] [-rtmfp ADDR] [-rtmpt ADDR] [-http ADDR]
//	nimbus publish [-loop] FILE.flv URL
//	nimbus play [-o FILE.flv] [-duration D] URL
//	nimbus probe URL
//	nimbus bench -url URL [-players N] [-flv FILE] [-server-pid PID]
//
// URLs are rtmp://, rtmpt:// (RTMP through HTTP) or rtmfp://. A listener
// flag given empty turns its listener off. NIMBUS_<SECTION>_<KEY>
// environment variables (NIMBUS_RTMP_LISTEN) override the configuration
// file, and the flags override them.
//
//	nimbus token -secret SECRET [-app APP] [-ttl 1h] STREAM
//	nimbus passwd [-token] [-iterations N] < password
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "nimbus:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args)
	case "publish":
		return publish(ctx, args)
	case "play":
		return play(ctx, args)
	case "token":
		return token(args)
	case "probe":
		return probeMain(ctx, args)
	case "bench":
		return bench(ctx, args, os.Stdout)
	case "passwd":
		return passwd(args, os.Stdin, os.Stdout)
	case "version":
		return printVersion()
	}
	return fmt.Errorf("unknown command %q (serve, publish, play, probe, bench, token, passwd, version)", cmd)
}
