package server

import (
	"bytes"
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/amf"
	"github.com/nimbus-media/nimbus/protocol"
	"github.com/nimbus-media/nimbus/protocol/rtmp"
	"github.com/nimbus-media/nimbus/server/config"
)

// TestConnectReplyOnTheWire checks the messages AMS sends in reply to
// connect, in order: window ack size, peer bandwidth (dynamic), StreamBegin
// 0, chunk size, then _result with fmsVer/capabilities/mode and
// NetConnection.Connect.Success carrying objectEncoding.
func TestConnectReplyOnTheWire(t *testing.T) {
	ts := startServer(t, nil)
	nc, w := rawHandshaken(t, ts)
	writeMsg(t, w, 3, connectCommand(t, ts))
	r := rtmp.NewReader(nc, 1<<20)
	var types []protocol.Type
	for {
		m, err := r.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, m.Type)
		switch m.Type {
		case protocol.TypeWindowAckSize:
			if v := binary.BigEndian.Uint32(m.Payload); v != ts.cfg.RTMP.AckWindow {
				t.Errorf("window ack size %d", v)
			}
		case protocol.TypeSetPeerBandwidth:
			if m.Payload[4] != 2 {
				t.Errorf("peer bandwidth limit type %d, want 2 (dynamic)", m.Payload[4])
			}
		case protocol.TypeUserControl:
			if !bytes.Equal(m.Payload, []byte{0, 0, 0, 0, 0, 0}) {
				t.Errorf("user control %x, want StreamBegin 0", m.Payload)
			}
		case protocol.TypeSetChunkSize:
			if v := binary.BigEndian.Uint32(m.Payload); v != ts.cfg.RTMP.ChunkSize {
				t.Errorf("chunk size %d", v)
			}
		}
		if m.Type == protocol.TypeCommandAMF0 {
			cmd, err := protocol.DecodeCommand(amf.NewDecoder(), m.Type, m.Payload)
			if err != nil {
				t.Fatal(err)
			}
			props, _ := cmd.Object.(amf.Object)
			info, _ := cmd.Arg(0).(amf.Object)
			if cmd.Name != "_result" || cmd.TxnID != 1 || props.String("fmsVer") == "" ||
				info.String("code") != protocol.ConnectSuccess {
				t.Fatalf("connect reply %+v", cmd)
			}
			if _, ok := props.Number("capabilities"); !ok {
				t.Error("no capabilities")
			}
			if mode, _ := props.Number("mode"); mode != 1 {
				t.Error("mode != 1")
			}
			if _, ok := info.Number("objectEncoding"); !ok {
				t.Error("no objectEncoding in the info object")
			}
			break
		}
	}
	want := []protocol.Type{protocol.TypeWindowAckSize, protocol.TypeSetPeerBandwidth, protocol.TypeUserControl,
		protocol.TypeSetChunkSize, protocol.TypeCommandAMF0}
	if len(types) != len(want) {
		t.Fatalf("reply types %v, want %v", types, want)
	}
	for i := range want {
		if types[i] != want[i] {
			t.Fatalf("reply types %v, want %v", types, want)
		}
	}
}

// TestUnknownAppRejected: connecting to an application that is not
// configured gets _error NetConnection.Connect.InvalidApp and the server
// closes the connection.
func TestUnknownAppRejected(t *testing.T) {
	ts := startServer(t, nil)
	_, err := rtmp.Dial(t.Context(), "rtmp://"+ts.RTMPAddr().String()+"/nosuchapp/x", rtmp.ClientConfig{})
	var se *protocol.StatusError
	if !errorsAs(err, &se) || se.Code != protocol.ConnectInvalidApp || se.Level != "error" {
		t.Fatalf("connect to unknown app: %v", err)
	}
}

// TestAggregateMessagesAreSplit: an aggregate message (type 22) from the
// publisher reaches players as its separate audio and video messages with
// rebased timestamps.
func TestAggregateMessagesAreSplit(t *testing.T) {
	ts := startServer(t, nil)
	pub, pid := startPublishing(t, ts, "agg", rtmp.ClientConfig{})
	player, id := startPlaying(t, ts, "agg", rtmp.ClientConfig{})
	sub := func(typ byte, ts uint32, data []byte) []byte {
		b := []byte{typ, byte(len(data) >> 16), byte(len(data) >> 8), byte(len(data)), byte(ts >> 16), byte(ts >> 8), byte(ts), byte(ts >> 24), 0, 0, 0}
		b = append(b, data...)
		return binary.BigEndian.AppendUint32(b, uint32(11+len(data)))
	}
	key := avcFrame(true, 1, 64)
	var agg []byte
	agg = append(agg, sub(9, 5000, key)...)
	agg = append(agg, sub(8, 5020, aacFrame(1))...)
	send(t, pub, pid, protocol.TypeAggregate, 1000, agg)
	if m := readMedia(t, player, id); m.Type != protocol.TypeVideo || m.Timestamp != 1000 || !bytes.Equal(m.Payload, key) {
		t.Fatalf("first split message: type %v ts %d", m.Type, m.Timestamp)
	}
	if m := readMedia(t, player, id); m.Type != protocol.TypeAudio || m.Timestamp != 1020 {
		t.Fatalf("second split message: type %v ts %d", m.Type, m.Timestamp)
	}
}

// TestIdleClientTimedOut: a client that sends nothing, not even ping
// replies, is told NetConnection.Connect.IdleTimeOut and closed.
func TestIdleClientTimedOut(t *testing.T) {
	ts := startServer(t, func(c *config.Config) {
		c.RTMP.IdleTimeout = config.Duration{Duration: 1500 * time.Millisecond}
		c.RTMP.PingInterval = config.Duration{Duration: 500 * time.Millisecond}
	})
	nc, w := rawHandshaken(t, ts)
	writeMsg(t, w, 3, connectCommand(t, ts))
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	r := rtmp.NewReader(nc, 1<<20)
	var pinged, told bool
	for {
		m, err := r.ReadMessage()
		if err != nil {
			var ne net.Error
			if errorsAs(err, &ne) && ne.Timeout() {
				t.Fatal("idle connection not closed")
			}
			break
		}
		if m.Type == protocol.TypeUserControl && m.Payload[1] == byte(protocol.EventPingRequest) {
			pinged = true
		}
		if m.Type == protocol.TypeCommandAMF0 && bytes.Contains(m.Payload, []byte(protocol.ConnectIdleTimeOut)) {
			told = true
		}
	}
	if !pinged || !told {
		t.Fatalf("pinged %v, told IdleTimeOut %v; want both", pinged, told)
	}
}
