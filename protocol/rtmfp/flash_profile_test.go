package rtmfp

import (
	"bytes"
	"context"
	"testing"
	"time"
)

// A strict Flash-profile receiver gets everything a session sends without
// dropping a packet: bursts within one 4 ms clock tick (where RFC 7016
// lets a sender omit the unchanged timestamp), acknowledgements, and the
// handshake. Both directions are checked.
func TestFlashStrictReceiverDropsNothing(t *testing.T) {
	leakCheck(t)
	scfg, ccfg := testConfig(), testConfig()
	scfg.FlashStrict, ccfg.FlashStrict = true, true
	server, client, ss, cs := pair(t, scfg, ccfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	msg := bytes.Repeat([]byte("0123456789abcdef"), 16<<10) // 256 KiB: hundreds of packets in bursts
	for _, dir := range []struct {
		name     string
		from, to *Session
	}{{"server to client", ss, cs}, {"client to server", cs, ss}} {
		f, err := dir.from.OpenFlow([]byte("flash"), FlowOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for range 4 {
			if err := f.Write(msg, WriteOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		rf, err := dir.to.AcceptFlow(ctx)
		if err != nil {
			t.Fatalf("%s: accept: %v", dir.name, err)
		}
		for i := range 4 {
			m, err := rf.ReadMessage(ctx)
			if err != nil || !bytes.Equal(m.Data, msg) {
				t.Fatalf("%s: message %d: %d bytes, %v", dir.name, i, len(m.Data), err)
			}
		}
	}
	if n := client.FlashDropped(); n != 0 {
		t.Errorf("the client dropped %d packets from the server that Flash would drop", n)
	}
	if n := server.FlashDropped(); n != 0 {
		t.Errorf("the server dropped %d packets from the client that Flash would drop", n)
	}
}
