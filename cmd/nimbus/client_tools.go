package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/nimbus-media/nimbus/amf"
	"github.com/nimbus-media/nimbus/media"
	"github.com/nimbus-media/nimbus/protocol"
	"github.com/nimbus-media/nimbus/protocol/rtmp"
)

// setDataFrame is the AMF0 string that prefixes metadata a publisher sends.
var setDataFrame = []byte("\x02\x00\x0d@setDataFrame")

func publish(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("publish", flag.ContinueOnError)
	loop := fs.Bool("loop", false, "start over at the end of the file")
	digest := fs.Bool("digest", true, "use the digest (Flash Player 9+) handshake")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return errors.New("usage: nimbus publish [-loop] FILE.flv rtmp://host/app/stream")
	}
	file, rawURL := fs.Arg(0), fs.Arg(1)
	u, err := rtmp.ParseURL(rawURL)
	if err != nil {
		return err
	}
	if u.Stream == "" {
		return fmt.Errorf("URL %q names no stream", rawURL)
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	c, err := rtmp.Dial(dctx, rawURL, rtmp.ClientConfig{Digest: *digest, FlashVer: "FMLE/3.0 (compatible; nimbus)"})
	cancel()
	if err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { _ = c.Close() })
	defer stop()
	id, err := c.CreateStream()
	if err != nil {
		return err
	}
	if err := c.Publish(id, u.Stream, "live"); err != nil {
		return err
	}
	go drain(c) // keep answering pings and acks
	return sendFLV(ctx, c, id, file, *loop)
}

// drain reads and discards what the server sends to a publisher.
func drain(c *rtmp.Client) {
	for {
		if _, err := c.ReadMessage(); err != nil {
			return
		}
	}
}

// sendFLV sends an FLV file's tags in real time; with loop it starts over,
// keeping timestamps increasing.
func sendFLV(ctx context.Context, c *rtmp.Client, streamID uint32, file string, loop bool) error {
	start := time.Now()
	var offset, last uint32
	for {
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		fr, err := media.NewFLVReader(f)
		if err != nil {
			f.Close()
			return fmt.Errorf("%s: %w", file, err)
		}
		first := true
		var base uint32
		for {
			tag, err := fr.ReadTag()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				f.Close()
				return fmt.Errorf("%s: %w", file, err)
			}
			if first {
				base, first = tag.Timestamp, false
			}
			ts := tag.Timestamp - base + offset
			last = max(last, ts)
			if wait := time.Until(start.Add(time.Duration(ts) * time.Millisecond)); wait > 0 {
				select {
				case <-ctx.Done():
					f.Close()
					return nil
				case <-time.After(wait):
				}
			}
			payload := tag.Data
			if tag.Type == protocol.TypeDataAMF0 && media.IsMetaData(payload) {
				payload = append(append([]byte(nil), setDataFrame...), payload...)
			}
			if err := c.WriteMessage(protocol.Message{Type: tag.Type, StreamID: streamID, Timestamp: ts, Payload: payload}); err != nil {
				f.Close()
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
		}
		f.Close()
		if !loop {
			return nil
		}
		offset = last + 40
	}
}

func play(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("play", flag.ContinueOnError)
	out := fs.String("o", "", "write the stream to this FLV file (default: discard)")
	duration := fs.Duration("duration", 0, "stop after this long (default: until the stream ends)")
	digest := fs.Bool("digest", true, "use the digest (Flash Player 9+) handshake")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: nimbus play [-o FILE.flv] [-duration D] rtmp://host/app/stream")
	}
	rawURL := fs.Arg(0)
	u, err := rtmp.ParseURL(rawURL)
	if err != nil {
		return err
	}
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	c, err := rtmp.Dial(dctx, rawURL, rtmp.ClientConfig{Digest: *digest})
	cancel()
	if err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { _ = c.Close() })
	defer stop()
	id, err := c.CreateStream()
	if err != nil {
		return err
	}
	if err := c.Play(id, u.Stream, -2); err != nil {
		return err
	}
	var w io.Writer = io.Discard
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	fw, err := media.NewFLVWriter(w, true, true)
	if err != nil {
		return err
	}
	for {
		m, err := c.ReadMessage()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if m.StreamID != id {
			continue
		}
		switch m.Type {
		case protocol.TypeAudio, protocol.TypeVideo:
		case protocol.TypeDataAMF0:
			if !media.IsMetaData(m.Payload) {
				continue
			}
		case protocol.TypeCommandAMF0, protocol.TypeCommandAMF3:
			if ended(c, m) {
				return nil
			}
			continue
		default:
			continue
		}
		if err := fw.WriteTag(media.FLVTag{Type: m.Type, Timestamp: m.Timestamp, Data: m.Payload}); err != nil {
			return err
		}
	}
}

// ended reports whether a status message says the stream stopped.
func ended(c *rtmp.Client, m protocol.Message) bool {
	cmd, err := c.DecodeCommand(m)
	if err != nil || cmd.Name != "onStatus" {
		return false
	}
	info, _ := cmd.Arg(0).(amf.Object)
	switch info.String("code") {
	case protocol.PlayUnpublishNotify, protocol.PlayStop:
		return true
	}
	return false
}
