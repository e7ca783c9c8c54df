package rtmpconn

import (
	"crypto/rc4"
	"io"
	"testing"

	"github.com/nimbus-media/nimbus/internal/egress"
	"github.com/nimbus-media/nimbus/internal/testtools"
	"github.com/nimbus-media/nimbus/protocol"
	"github.com/nimbus-media/nimbus/protocol/rtmp"
)

// BenchmarkRTMPEPlayerWrite is one player's write of a live frame (8 KiB of
// video at chunk size 4096) as the server makes it. rtmp: the frame's
// shared chunks in one non-blocking writev, nothing copied. rtmpe: the
// frame chunked into the writer's buffer, enciphered into a scratch buffer
// and written. The difference is what encryption costs per player and
// frame, apart from the hand-off to a sending goroutine that RTMPE, like
// RTMPS, also pays (nimbus bench measures the whole).
func BenchmarkRTMPEPlayerWrite(b *testing.B) {
	frame := protocol.Message{Type: protocol.TypeVideo, StreamID: 1, Payload: make([]byte, 8<<10)}
	b.Run("rtmp", func(b *testing.B) {
		nc, wait := testtools.TCPSink(b, io.Discard)
		s := egress.NewSocket(nc)
		s.SetBlocking(!s.Direct())
		w := rtmp.NewWriter(s)
		w.SetChunkSize(4096)
		chunks := rtmp.ChunkVector(csidVideo, frame, 4096)
		b.SetBytes(int64(len(frame.Payload)))
		b.ReportAllocs()
		for b.Loop() {
			if err := w.WritePrechunked(csidVideo, frame, chunks); err != nil {
				b.Fatal(err)
			}
			if err := w.Flush(); err != nil {
				b.Fatal(err)
			}
			if s.Pending() > 0 {
				s.SetBlocking(true)
				if _, err := s.FlushPending(); err != nil {
					b.Fatal(err)
				}
				s.SetBlocking(false)
			}
		}
		b.StopTimer()
		wait()
	})
	b.Run("rtmpe", func(b *testing.B) {
		nc, wait := testtools.TCPSink(b, io.Discard)
		read, _ := rc4.NewCipher([]byte("benchmark key 01"))
		write, _ := rc4.NewCipher([]byte("benchmark key 02"))
		s := egress.NewSocket(rtmp.NewRTMPEConn(nc, &rtmp.Ciphers{Read: read, Write: write}))
		w := rtmp.NewWriter(s)
		w.SetChunkSize(4096)
		b.SetBytes(int64(len(frame.Payload)))
		b.ReportAllocs()
		for b.Loop() {
			if err := w.WriteMessage(csidVideo, frame); err != nil {
				b.Fatal(err)
			}
			if err := w.Flush(); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		wait()
	})
}
