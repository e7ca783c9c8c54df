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
		return errors.New("usage: nimbus publish [-loop] FILE.flv rtmp[t|fp]://host/app/stream")
	}
	file, rawURL := fs.Arg(0), fs.Arg(1)
	c, stream, err := dialURL(ctx, rawURL, "FMLE/3.0 (compatible; nimbus)", *digest)
	if err != nil {
		return err
	}
	defer c.Close()
	if stream == "" {
		return fmt.Errorf("URL %q names no stream", rawURL)
	}
	stop := context.AfterFunc(ctx, func() { _ = c.Close() })
	defer stop()
	id, err := c.CreateStream()
	if err != nil {
		return err
	}
	if err := c.Publish(id, stream, "live"); err != nil {
		return err
	}
	go drain(c) // keep answering pings and acks
	return sendFLV(ctx, c, id, file, *loop)
}

// drain reads and discards what the server sends to a publisher.
func drain(c netClient) {
	for {
		if _, err := c.ReadMessage(); err != nil {
			return
		}
	}
}

// sendFLV sends an FLV file's tags in real time; with loop it starts over,
// keeping timestamps increasing.
func sendFLV(ctx context.Context, c netClient, streamID uint32, file string, loop bool) error {
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
		return errors.New("usage: nimbus play [-o FILE.flv] [-duration D] rtmp[t|fp]://host/app/stream")
	}
	rawURL := fs.Arg(0)
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	c, stream, err := dialURL(ctx, rawURL, "LNX 9,0,124,2", *digest)
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
	if err := c.Play(id, stream, -2000); err != nil {
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
	rec := &flvRecorder{fw: fw}
	defer rec.flush()
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
				return rec.flush()
			}
			continue
		default:
			continue
		}
		if err := rec.write(media.FLVTag{Type: m.Type, Timestamp: m.Timestamp, Data: m.Payload}); err != nil {
			return err
		}
	}
}

// holdLimit is how many media tags flvRecorder holds back waiting for the
// metadata: a few seconds of a typical stream.
const holdLimit = 256

// flvRecorder writes a played stream as FLV. RTMFP carries a stream's data,
// audio and video on separate flows, so the metadata can arrive after the
// first media; the recorder holds media back until the metadata comes (or
// holdLimit tags have arrived without it) so that the file starts with it,
// as FLV readers expect.
type flvRecorder struct {
	fw      *media.FLVWriter
	started bool
	held    []media.FLVTag
}

func (r *flvRecorder) write(t media.FLVTag) error {
	if r.started {
		return r.fw.WriteTag(t)
	}
	if t.Type == protocol.TypeDataAMF0 {
		if err := r.fw.WriteTag(t); err != nil {
			return err
		}
		return r.flush()
	}
	t.Data = append([]byte(nil), t.Data...)
	r.held = append(r.held, t)
	if len(r.held) >= holdLimit {
		return r.flush()
	}
	return nil
}

// flush writes the held tags and stops holding.
func (r *flvRecorder) flush() error {
	r.started = true
	for _, t := range r.held {
		if err := r.fw.WriteTag(t); err != nil {
			return err
		}
	}
	r.held = nil
	return nil
}

// ended reports whether a status message says the stream stopped.
func ended(c netClient, m protocol.Message) bool {
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
