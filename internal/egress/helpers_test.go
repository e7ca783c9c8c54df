package egress

import (
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/nimbus-media/nimbus/media"
	"github.com/nimbus-media/nimbus/protocol"
)

// TestMain fails the package if a test leaves a goroutine behind (a
// fan-out's helpers must end with Close).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type testPublisher struct{}

func (*testPublisher) Silence() time.Duration { return 0 }
func (*testPublisher) Evict(error)            {}

func video(key bool, size int) *media.Frame {
	p := make([]byte, size)
	p[0], p[1] = 0x27, 1
	if key {
		p[0] = 0x17
	}
	return media.NewFrame(protocol.TypeVideo, 0, p)
}

func drainEntries(s *media.Subscriber) (out []media.Entry) {
	for {
		e, ok := s.Pop()
		if !ok {
			return out
		}
		out = append(out, e)
	}
}

// funcSink is a media.Sink that calls wake.
type funcSink func()

func (f funcSink) Wake()    { f() }
func (f funcSink) Lagging() {}

// publish makes a registry whose streams fan out through cfg and
// publishes stream "s" on it; the stream is unpublished when the test
// ends.
func publish(t testing.TB, cfg Config) (*media.Registry, *media.Stream, *testPublisher) {
	t.Helper()
	reg := media.NewRegistry(media.Config{GOPCache: true, Fanout: NewFanout(cfg)})
	pub := &testPublisher{}
	s, err := reg.Publish("s", pub)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Unpublish(pub) })
	return reg, s, pub
}
