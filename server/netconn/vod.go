package netconn

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/amf"
	"github.com/nimbus-media/nimbus/media"
	"github.com/nimbus-media/nimbus/media/flvfile"
	"github.com/nimbus-media/nimbus/media/vod"
	"github.com/nimbus-media/nimbus/protocol"
)

// vodLead is how far ahead of real time a recorded stream is sent. The
// client's buffer fills that far at once (a quick start, and room for a
// network hiccup) and then at the media's own rate, as AMS and nginx-rtmp
// send files: not as fast as the socket takes them, which would hold whole
// files in socket buffers and make a seek or a stop wait for them.
const vodLead = 3 * time.Second

// vodBurst is how far past its time the reader lets the next tag wait,
// so that it wakes about ten times a second and sends the tags of the
// last tenth of a second together, in one write, rather than waking and
// writing for every tag (73 a second for a typical stream). With vodLead
// ahead of the client's clock, the client never notices.
const vodBurst = 100 * time.Millisecond

// Bounds of a VOD play's queue: what its reader may have read ahead of
// the connection's sender (the socket is full, or the client reads
// slowly). Past either, the reader waits; the pacing keeps the queue far
// below them for a client that keeps up.
const (
	vodMaxEntries = 512
	vodMaxBytes   = 1 << 20
)

// vodKeptEntries is the queue capacity a drained play keeps.
const vodKeptEntries = 32

// switchGap separates a playlist item's first timestamp from the last of
// the item before (about a frame), so that timestamps never go back.
const switchGap = 40

// vodItem is one recorded stream of a play's playlist.
type vodItem struct {
	name   string
	src    vod.Source
	start  int64 // ms into the file; 0 from its beginning
	length int64 // ms; < 0 to the end, 0 one frame
}

// vodPlay sends recorded streams to one NetStream. Its goroutine reads
// the files tag by tag, paced by the clock (vodLead), into a bounded
// queue that the connection's sender drains through the outbox
// (appendNext). The NetStream commands (seek, pause, a playlist's next
// item) reach the goroutine through the fields under mu.
type vodPlay struct {
	c        *Conn
	streamID uint32
	log      *zap.Logger
	wake     chan struct{} // something under mu changed, or the queue has room
	done     chan struct{}
	// unsent counts what push queued that the connection has not been
	// told of (flush). Run goroutine only.
	unsent int

	mu    sync.Mutex
	q     []Outgoing // queued messages from head on
	head  int
	bytes int
	// items are the playlist: items[0] plays (or has ended: ended), the
	// others wait for it.
	items  []*vodItem
	ended  bool
	seekTo int64 // ms, -1 when no seek is pending
	paused bool
	// peek: a seek while paused sends the frame at the new position
	// (for the client to show) and stays paused.
	peek    bool
	resume  int64 // ms the client unpaused at, -1 when none is pending
	stopped bool
	closed  bool // the goroutine has ended and closed the files

	// The goroutine's own state.
	item       *vodItem
	off        uint32 // sent timestamp = file timestamp + off
	endTS      uint32 // with limited: the item ends past this file timestamp
	limited    bool
	oneFrame   bool
	anchorTS   uint32    // a sent timestamp and
	anchorWall time.Time // when the client plays it
	// lastOut is the latest audio or video timestamp sent since the
	// play or its last seek: the next item starts after it. The latest,
	// not the last: a file's last tag (an AVC end of sequence) may come
	// before audio sent earlier.
	lastOut uint32
	next    flvfile.Tag // read, waiting until it is due
	hasNext bool
	// ending: the last item's media has all been sent, and the play
	// waits for the client to play it (itemEnded) before it ends.
	ending bool
}

// newVODPlay starts playing first on ns; the play's status replies must
// already be queued. The goroutine ends with the play or the connection.
func newVODPlay(ns *netStream, p *play, first *vodItem) *vodPlay {
	v := &vodPlay{
		c: ns.c, streamID: ns.id, log: ns.c.log.With(zap.String("stream", first.name)),
		wake: make(chan struct{}, 1), done: make(chan struct{}),
		items: []*vodItem{first}, seekTo: -1, resume: -1,
	}
	p.vod = v
	v.startItem(first, true, time.Now())
	go v.run(ns.c.tr.Context())
	return v
}

func (v *vodPlay) signal() {
	select {
	case v.wake <- struct{}{}:
	default:
	}
}

// stop ends the goroutine and waits for it, which is quick: it never
// waits for anything but its wake channel, a timer or a file read.
func (v *vodPlay) stop() {
	v.mu.Lock()
	v.stopped = true
	v.mu.Unlock()
	v.signal()
	<-v.done
}

func (v *vodPlay) run(ctx context.Context) {
	defer close(v.done)
	defer v.closeFiles()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		delay, block, quit := v.step(time.Now())
		if quit || block || delay > 0 {
			v.flush() // what the steps queued goes out in one write
		}
		switch {
		case quit:
			return
		case block:
			select {
			case <-v.wake:
			case <-ctx.Done():
				return
			}
		case delay > 0:
			timer.Reset(delay)
			select {
			case <-timer.C:
			case <-v.wake:
				timer.Stop()
			case <-ctx.Done():
				return
			}
		}
	}
}

func (v *vodPlay) closeFiles() {
	v.mu.Lock()
	items := v.items
	v.items, v.closed = nil, true
	v.mu.Unlock()
	for _, it := range items {
		_ = it.src.Close()
	}
}

// step does the next thing there is to do: a command's effect, or
// sending the next tag once it is due. It returns how long to wait before
// the next step (block: until woken), or quit.
func (v *vodPlay) step(now time.Time) (delay time.Duration, block, quit bool) {
	v.mu.Lock()
	switch {
	case v.stopped:
		v.mu.Unlock()
		return 0, false, true
	case v.seekTo >= 0:
		ms := v.seekTo
		v.seekTo, v.ended = -1, false
		v.mu.Unlock()
		v.seek(ms, now)
		return 0, false, false
	case v.resume >= 0:
		// The client's buffer holds what was sent before the pause: it
		// plays on from pos, and sending resumes vodLead ahead of it.
		v.anchorTS, v.anchorWall = uint32(v.resume), now
		v.resume, v.peek = -1, false
		v.mu.Unlock()
		return 0, false, false
	case v.paused && !v.peek:
		v.mu.Unlock()
		return 0, true, false
	case v.ended:
		if len(v.items) < 2 {
			v.mu.Unlock()
			return 0, true, false
		}
		// An item was added after the playlist had ended: it starts anew.
		old := v.items[0]
		v.items = v.items[1:]
		next := v.items[0]
		v.ended = false
		v.mu.Unlock()
		_ = old.src.Close()
		v.push(v.c.statusMessage(v.streamID, protocol.LevelStatus, protocol.PlayStart, "Started playing "+next.name+".",
			amf.Property{Key: "details", Value: next.name}))
		v.startItem(next, false, now)
		return 0, false, false
	case len(v.q)-v.head >= vodMaxEntries || v.bytes >= vodMaxBytes:
		v.mu.Unlock()
		return 0, true, false
	}
	v.mu.Unlock()
	if v.ending {
		return v.itemEnded(now), false, false
	}
	if !v.hasNext {
		t, err := v.item.src.Next()
		switch {
		case errors.Is(err, io.EOF):
			return v.itemEnded(now), false, false
		case err != nil:
			v.failed(err)
			return 0, false, false
		}
		if t.Type == protocol.TypeDataAMF0 && media.IsMetaData(t.Data) {
			return 0, false, false // the item's start sent the indexed one
		}
		if v.limited && t.Type != protocol.TypeDataAMF0 && t.Timestamp-v.endTS-1 < 1<<31 {
			return v.itemEnded(now), false, false
		}
		v.next, v.hasNext = t, true
	}
	out := v.next.Timestamp + v.off
	due := v.anchorWall.Add(time.Duration(int32(out-v.anchorTS))*time.Millisecond - vodLead)
	if d := due.Sub(now); d > 0 {
		return d + vodBurst, false, false
	}
	t := v.next
	v.next, v.hasNext = flvfile.Tag{}, false
	o := v.tagMessage(t, out)
	if !v.push(o) {
		return 0, false, false // a seek or stop came meanwhile
	}
	if t.Type != protocol.TypeDataAMF0 {
		if int32(out-v.lastOut) > 0 {
			v.lastOut = out
		}
		picture := !o.SeqHeader && (t.Type == protocol.TypeVideo || !v.item.src.Info().HasVideo)
		if picture {
			v.mu.Lock()
			v.peek = false
			v.mu.Unlock()
		}
		if v.oneFrame && picture {
			return v.itemEnded(now), false, false
		}
	}
	return 0, false, false
}

// tagMessage makes the message for a tag sent at timestamp ts.
func (v *vodPlay) tagMessage(t flvfile.Tag, ts uint32) Outgoing {
	o := Outgoing{
		Message: protocol.Message{Type: t.Type, StreamID: v.streamID, Timestamp: ts, Payload: t.Data},
		Media:   true,
	}
	switch t.Type {
	case protocol.TypeVideo:
		vi := media.ParseVideo(t.Data)
		o.SeqHeader, o.Keyframe = vi.SeqHeader, vi.Keyframe
	case protocol.TypeAudio:
		o.SeqHeader = media.ParseAudio(t.Data).SeqHeader
	}
	return o
}

// push queues o unless a seek or stop is pending (o was read for the
// position before it); the connection is told when the run loop is
// about to wait (flush). Run goroutine only.
func (v *vodPlay) push(o Outgoing) bool {
	v.mu.Lock()
	if v.seekTo >= 0 || v.stopped {
		v.mu.Unlock()
		return false
	}
	v.pushLocked(o)
	v.mu.Unlock()
	if v.unsent++; v.unsent >= vodFlushEvery {
		v.flush() // a start's or a seek's lead goes out as it is read
	}
	return true
}

// vodFlushEvery is the most messages push queues before the connection
// is told: about a tenth of a second of a typical stream, so that the
// seconds of lead read at a start or a seek reach the client as they are
// read, not once all are.
const vodFlushEvery = 8

// flush tells the connection about what push queued since the last
// flush. Run goroutine only.
func (v *vodPlay) flush() {
	if v.unsent > 0 {
		v.unsent = 0
		v.c.out.signal()
	}
}

func (v *vodPlay) pushLocked(o Outgoing) {
	if v.head > 0 && v.head >= len(v.q)/2 {
		// Move what is left to the front, so that a queue the sender
		// never quite empties does not grow its array forever.
		n := copy(v.q, v.q[v.head:])
		clear(v.q[n:])
		v.q, v.head = v.q[:n], 0
	}
	v.q = append(v.q, o)
	v.bytes += len(o.Payload)
}

// clearLocked drops what is queued, on a seek.
func (v *vodPlay) clearLocked() {
	clear(v.q)
	v.q, v.head, v.bytes = v.q[:0], 0, 0
}

// startItem positions the reader at an item's start and queues its
// onMetaData and, when it starts mid-file, the sequence headers in force
// there. The first item's timestamps are the file's; a later one's
// follow the item before.
func (v *vodPlay) startItem(it *vodItem, first bool, now time.Time) {
	info := it.src.Info()
	origin, headers, err := it.src.Start(it.start)
	if err != nil {
		v.log.Warn("vod: sequence header unreadable", zap.Error(err))
	}
	v.item, v.hasNext, v.ending = it, false, false
	if !first {
		v.off = v.lastOut + switchGap - origin
	}
	v.limited, v.oneFrame = it.length > 0, it.length == 0
	v.endTS = uint32(max(it.start, int64(info.First)) + it.length)
	start := origin + v.off
	// A later item continues the first one's clock, unless the client has
	// played past its start already (it was added after the end).
	if first || now.Sub(v.anchorWall.Add(time.Duration(int32(start-v.anchorTS))*time.Millisecond)) > 0 {
		v.anchorTS, v.anchorWall = start, now
	}
	v.push(Outgoing{Message: protocol.Message{Type: protocol.TypeDataAMF0, StreamID: v.streamID, Timestamp: start, Payload: info.Meta},
		Media: true, SeqHeader: true})
	for _, h := range headers {
		v.push(v.tagMessage(h, start))
	}
}

// seek moves to the keyframe at or before ms (the client's timeline) of
// the current item.
func (v *vodPlay) seek(ms int64, now time.Time) {
	// off may be "negative" (an item from a later time than the one
	// before it ended at): sent = file + off in 32-bit arithmetic.
	target := max(ms-int64(int32(v.off)), 0)
	ts := v.item.src.Seek(uint32(target))
	v.hasNext, v.ending, v.lastOut = false, false, ts+v.off
	v.anchorTS, v.anchorWall = ts+v.off, now
}

// itemEnded moves to the playlist's next item (Play.Switch, Play.Start)
// or, after the last, ends the play as nginx-rtmp does: StreamEOF, then
// onPlayStatus NetStream.Play.Complete, then NetStream.Play.Stop.
//
// The last item's end waits until the client has played what was sent
// (vodLead ahead of it), returning how long is left: a play appended
// (reset false) meanwhile still follows on with Play.Switch, as it does
// in AMS, rather than after a Play.Complete the client had not reached.
func (v *vodPlay) itemEnded(now time.Time) time.Duration {
	v.mu.Lock()
	if len(v.items) > 1 {
		v.ending = false
		old := v.items[0]
		v.items = v.items[1:]
		next := v.items[0]
		v.mu.Unlock()
		_ = old.src.Close()
		details := amf.Property{Key: "details", Value: next.name}
		v.push(v.c.dataMessage(v.streamID, "onPlayStatus", protocol.StatusObject(protocol.LevelStatus, protocol.PlaySwitch,
			"Switching to "+next.name+".", details)))
		v.push(v.c.statusMessage(v.streamID, protocol.LevelStatus, protocol.PlayStart, "Started playing "+next.name+".", details))
		v.startItem(next, false, now)
		return 0
	}
	if played := v.anchorWall.Add(time.Duration(int32(v.lastOut-v.anchorTS)) * time.Millisecond); now.Before(played) {
		v.mu.Unlock()
		v.ending = true
		return played.Sub(now)
	}
	v.ending = false
	v.ended = true
	v.mu.Unlock()
	v.finish()
	return 0
}

// finish queues the end of the playlist.
func (v *vodPlay) finish() {
	name, info := v.item.name, v.item.src.Info()
	v.push(userControlMessage(protocol.EventStreamEOF, v.streamID))
	v.push(v.c.dataMessage(v.streamID, "onPlayStatus", protocol.StatusObject(protocol.LevelStatus, protocol.PlayComplete,
		"Finished playing "+name+".", amf.Property{Key: "duration", Value: float64(info.Duration) / 1000},
		amf.Property{Key: "bytes", Value: float64(info.Bytes)})))
	v.push(v.c.statusMessage(v.streamID, protocol.LevelStatus, protocol.PlayStop, "Stopped playing "+name+".",
		amf.Property{Key: "details", Value: name}))
}

// failed ends the play on a file that went bad after it was indexed
// (replaced or cut while playing).
func (v *vodPlay) failed(err error) {
	v.log.Warn("vod: read failed", zap.Error(err))
	v.mu.Lock()
	v.ended = true
	v.mu.Unlock()
	v.push(userControlMessage(protocol.EventStreamEOF, v.streamID))
	v.push(v.c.statusMessage(v.streamID, protocol.LevelError, protocol.PlayFailed, "Failed to read "+v.item.name+".",
		amf.Property{Key: "details", Value: v.item.name}))
}

// appendNext moves queued messages to dst, up to max; the caller holds
// the outbox lock. A queue that drops below half wakes the reader.
func (v *vodPlay) appendNext(p *play, dst []Outgoing, max int) []Outgoing {
	v.mu.Lock()
	full := len(v.q)-v.head >= vodMaxEntries/2 || v.bytes >= vodMaxBytes/2
	for v.head < len(v.q) && len(dst) < max {
		o := v.q[v.head]
		v.q[v.head] = Outgoing{}
		v.head++
		v.bytes -= len(o.Payload)
		if !o.Media || !p.skip(o.Type, o.SeqHeader, o.Keyframe) {
			dst = append(dst, o)
		}
	}
	if v.head == len(v.q) {
		v.q, v.head = v.q[:0], 0
		if cap(v.q) > vodKeptEntries {
			// The start's lead filled it; a player that keeps up holds a
			// message or two, and there may be thousands of players.
			v.q = nil
		}
	}
	wake := full && len(v.q)-v.head < vodMaxEntries/2 && v.bytes < vodMaxBytes/2
	v.mu.Unlock()
	if wake {
		v.signal()
	}
	return dst
}

// maxPlaylist bounds the items waiting in a playlist: each holds an open
// file.
const maxPlaylist = 32

// add appends an item to the playlist (play with reset false); false
// when the playlist is full.
func (v *vodPlay) add(it *vodItem) bool {
	v.mu.Lock()
	closed, full := v.closed, len(v.items) > maxPlaylist
	if !closed && !full {
		v.items = append(v.items, it)
	}
	v.mu.Unlock()
	switch {
	case full:
		_ = it.src.Close()
		return false
	case closed:
		_ = it.src.Close() // the connection went meanwhile
		return true
	}
	v.signal()
	return true
}

// requestSeek asks for a seek: what is queued is dropped and the seek's
// replies queued in its place (StreamEOF, Seek.Notify, StreamBegin, as
// nginx-rtmp sends them), so that they precede the frames from the new
// position. A paused play stays paused once it has sent the keyframe
// there.
func (v *vodPlay) requestSeek(ms float64, replies ...Outgoing) {
	v.mu.Lock()
	v.clearLocked()
	for _, o := range replies {
		v.pushLocked(o)
	}
	v.seekTo = int64(max(ms, 0))
	v.peek = v.paused
	v.mu.Unlock()
	v.signal()
	v.c.out.signal()
}

// pause stops reading; unpause resumes at pos (ms, the client's
// playhead), its replies queued ahead of the frames that follow.
func (v *vodPlay) pause(on bool, pos float64, replies ...Outgoing) {
	v.mu.Lock()
	v.paused = on
	if !on {
		for _, o := range replies {
			v.pushLocked(o)
		}
		v.resume = int64(max(pos, 0))
	}
	v.mu.Unlock()
	v.signal()
	v.c.out.signal()
}

// statusMessage makes an onStatus for a play's queue, with the client ID
// as sendStatus adds it.
func (c *Conn) statusMessage(streamID uint32, level, code, description string, extra ...amf.Property) Outgoing {
	extra = append(extra, amf.Property{Key: "clientid", Value: c.id})
	payload, _ := protocol.AppendCommand(nil, "onStatus", 0, nil, protocol.StatusObject(level, code, description, extra...))
	return Outgoing{Message: protocol.Message{Type: protocol.TypeCommandAMF0, StreamID: streamID, Payload: payload}}
}

// dataMessage makes a data message (onPlayStatus) for a play's queue.
func (c *Conn) dataMessage(streamID uint32, vals ...any) Outgoing {
	payload, _ := protocol.AppendValues(nil, vals...)
	return Outgoing{Message: protocol.Message{Type: protocol.TypeDataAMF0, StreamID: streamID, Payload: payload}}
}

// userControlMessage makes a User Control event for a play's queue.
func userControlMessage(ev protocol.EventType, streamID uint32) Outgoing {
	return Outgoing{Message: protocol.Message{Type: protocol.TypeUserControl,
		Payload: protocol.AppendUserControl(nil, protocol.UserControl{Event: ev, StreamID: streamID})}}
}
