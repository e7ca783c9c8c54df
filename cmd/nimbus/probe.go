package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/nimbus-media/nimbus/protocol"
	"github.com/nimbus-media/nimbus/protocol/rtmfp/tc"
)

// probe connects, prints the connect result, the server's version and the
// round-trip time of a call, and disconnects.
func probe(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	digest := fs.Bool("digest", true, "use the digest (Flash Player 9+) handshake for rtmp://")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: nimbus probe rtmp[fp]://host/app")
	}
	start := time.Now()
	c, _, err := dialURL(ctx, fs.Arg(0), "LNX 9,0,124,2", *digest)
	if err != nil {
		return err
	}
	defer c.Close()
	setup := time.Since(start)
	// Any answer to a call measures the round trip: servers without
	// _checkbw (rtmfp-cpp's tcserver) answer _error.
	t0 := time.Now()
	var se *protocol.StatusError
	if _, err := c.Call("_checkbw"); err != nil && !errors.As(err, &se) {
		return fmt.Errorf("round trip: %w", err)
	}
	rtt := time.Since(t0)
	info, props := c.Info(), c.ServerProperties()
	fmt.Fprintf(out, "code:    %s\n", info.String("code"))
	fmt.Fprintf(out, "fmsVer:  %s\n", props.String("fmsVer"))
	fmt.Fprintf(out, "connect: %v\n", setup.Round(time.Microsecond))
	fmt.Fprintf(out, "rtt:     %v\n", rtt.Round(time.Microsecond))
	if mc, ok := c.(*tc.Client); ok {
		fmt.Fprintf(out, "session rtt: %v\n", mc.Session().RTT().Round(time.Microsecond))
	}
	return nil
}

func probeMain(ctx context.Context, args []string) error { return probe(ctx, args, os.Stdout) }
