package netconn

import (
	"errors"
	"fmt"
	"io/fs"
	"time"

	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/amf"
	"github.com/nimbus-media/nimbus/media"
	"github.com/nimbus-media/nimbus/media/mp4file"
	"github.com/nimbus-media/nimbus/protocol"
)

// netStream is one NetStream of a connection: it publishes, plays, or is idle.
type netStream struct {
	id uint32
	c  *Conn

	pub     *media.Stream // set while publishing
	pubName string
	rec     *recording // set while the published stream is recorded

	play *play
}

// Silence implements media.Publisher.
func (ns *netStream) Silence() time.Duration { return ns.c.tr.Silence() }

// ClientID names the publishing connection for monitoring.
func (ns *netStream) ClientID() string { return ns.c.id }

// Evict implements media.Publisher: another connection took the name over.
func (ns *netStream) Evict(reason error) {
	ns.c.log.Info("publisher evicted", zap.String("stream", ns.pubName), zap.Error(reason))
	ns.c.tr.Close(reason)
}

// dispatch handles the NetStream commands; handled is false for commands
// that belong to the NetConnection.
func (ns *netStream) dispatch(cmd *protocol.Command) (handled bool, err error) {
	switch cmd.Name {
	case "publish":
		return true, ns.onPublish(cmd)
	case "play":
		return true, ns.onPlay(cmd)
	case "play2":
		return true, ns.onPlay2(cmd)
	case "pause", "pauseRaw":
		return true, ns.onPause(cmd)
	case "seek":
		return true, ns.onSeek(cmd)
	case "receiveAudio", "receiveVideo":
		on, _ := cmd.Arg(0).(bool)
		ns.onReceive(cmd.Name == "receiveAudio", on)
		return true, nil
	case "closeStream":
		ns.close(true)
		return true, nil
	}
	return false, nil
}

func (ns *netStream) onPublish(cmd *protocol.Command) error {
	c := ns.c
	raw, ok := cmd.Arg(0).(string)
	if !ok {
		// publish(false) / publish(null) stops publishing (Flash NetStream.publish()).
		ns.stopPublish(true)
		return nil
	}
	name, query := splitQuery(raw)
	if ns.pub != nil || ns.play != nil {
		ns.close(false)
	}
	if name == "" {
		return c.sendStatus(ns.id, protocol.LevelError, protocol.PublishBadName, "Stream name is empty.")
	}
	kind := cmd.ArgString(1)
	switch kind {
	case "", "live":
	case "record", "append", "appendWithGap":
	default:
		c.log.Info("unknown publish type; publishing live", zap.String("stream", name), zap.String("type", kind))
	}
	if err := c.cfg.Auth.Publish(c.tr.Context(), c.streamAuth(name, query, kind)); err != nil {
		c.log.Info("publish refused", zap.String("stream", name), zap.Error(err))
		return c.sendStatus(ns.id, protocol.LevelError, protocol.PublishBadName, denialText(err),
			amf.Property{Key: "details", Value: name})
	}
	if n := c.publishing(); n >= c.cfg.MaxPublishers {
		c.log.Info("publish refused: publisher limit", zap.String("stream", name), zap.Int("limit", c.cfg.MaxPublishers))
		c.refused("publishers_per_connection")
		return c.sendStatus(ns.id, protocol.LevelError, protocol.PublishBadName,
			fmt.Sprintf("Too many streams published on this connection (limit %d).", c.cfg.MaxPublishers),
			amf.Property{Key: "details", Value: name})
	}
	s, err := c.inst.Streams().Publish(name, ns)
	if err != nil {
		c.log.Info("publish refused", zap.String("stream", name), zap.Error(err))
		desc := name + " is already being published."
		if errors.Is(err, media.ErrTooManyStreams) {
			desc = "Too many streams in this application instance."
			c.refused("streams_per_instance")
		}
		return c.sendStatus(ns.id, protocol.LevelError, protocol.PublishBadName, desc,
			amf.Property{Key: "details", Value: name})
	}
	ns.pub, ns.pubName = s, name
	c.log.Info("publishing", zap.String("stream", name), zap.Uint32("msid", ns.id))
	c.inst.Publish(c, name)
	if c.fcPublished[name] {
		delete(c.fcPublished, name)
		if err := c.sendCommand(ns.id, "onFCPublish", 0, nil,
			protocol.StatusObject(protocol.LevelStatus, protocol.PublishStart, name+" is now published.")); err != nil {
			return err
		}
	}
	if err := c.sendStatus(ns.id, protocol.LevelStatus, protocol.PublishStart, name+" is now published.",
		amf.Property{Key: "details", Value: name}); err != nil {
		return err
	}
	return ns.startRecording(kind)
}

// stopPublish ends publishing; with notify the publisher gets Unpublish.Success.
func (ns *netStream) stopPublish(notify bool) {
	if ns.pub == nil {
		return
	}
	ns.stopRecording(notify)
	ns.pub.Unpublish(ns)
	ns.c.log.Info("unpublished", zap.String("stream", ns.pubName))
	ns.c.cfg.Auth.Done(ns.c.streamAuth(ns.pubName, "", "publish"))
	ns.c.inst.Unpublish(ns.c, ns.pubName)
	if notify {
		_ = ns.c.sendStatus(ns.id, protocol.LevelStatus, protocol.UnpublishSuccess, ns.pubName+" is now unpublished.",
			amf.Property{Key: "details", Value: ns.pubName})
	}
	ns.pub, ns.pubName = nil, ""
}

func (ns *netStream) publishMedia(m protocol.Message) {
	// The payload aliases the transport's read buffer: the frame gets its
	// own copy, shared from here on by every subscriber.
	payload := append([]byte(nil), m.Payload...)
	f := media.NewFrame(m.Type, m.Timestamp, payload)
	if ns.c.tr.InputPending() {
		ns.pub.WriteMore(ns, f)
		return
	}
	ns.pub.Write(ns, f)
}

func (ns *netStream) publishData(ts uint32, p []byte) {
	kind, body := media.ClassifyData(p)
	switch kind {
	case media.DataClearFrame:
		return // metadata is replaced by the next @setDataFrame
	case media.DataSetFrame:
		f := &media.Frame{Type: protocol.TypeDataAMF0, Timestamp: ts, Payload: append([]byte(nil), body...)}
		f.Metadata = media.IsMetaData(body)
		ns.pub.Write(ns, f)
	default:
		ns.pub.Write(ns, &media.Frame{Type: protocol.TypeDataAMF0, Timestamp: ts, Payload: append([]byte(nil), body...)})
	}
}

// playArgs are play's optional arguments (RTMP commands draft §4.2.1).
// Flash, ffmpeg and librtmp send start and length in milliseconds
// (-2000, -1000, 3000), older clients -2 and -1 in seconds.
type playArgs struct {
	start  float64
	length float64 // ms; < 0 to the end, 0 one frame
	reset  bool
}

// liveOnly tells whether start asks for a live stream that must exist now
// (-1).
func (a playArgs) liveOnly() bool { return a.start == -1 || a.start == -1000 }

// recorded tells whether start asks for a recorded stream from a
// position (≥ 0); -2, the default, takes the live stream if it is
// published and the recording otherwise.
func (a playArgs) recorded() bool { return a.start >= 0 }

func parsePlayArgs(cmd *protocol.Command) playArgs {
	a := playArgs{start: -2, length: -1, reset: true}
	if n, ok := cmd.ArgNumber(1); ok {
		a.start = n
	}
	if n, ok := cmd.ArgNumber(2); ok {
		a.length = n
	}
	switch r := cmd.Arg(3).(type) {
	case bool:
		a.reset = r
	case float64:
		a.reset = r != 0
	}
	return a
}

func (ns *netStream) onPlay(cmd *protocol.Command) error {
	c := ns.c
	raw, ok := cmd.Arg(0).(string)
	if !ok {
		ns.stopPlay() // play(false) stops playback
		return nil
	}
	name, query := splitQuery(raw)
	args := parsePlayArgs(cmd)
	appending := !args.reset && ns.play != nil && ns.play.vod != nil
	if !appending && (ns.pub != nil || ns.play != nil) {
		ns.close(false)
	}
	if err := c.cfg.Auth.Play(c.tr.Context(), c.streamAuth(name, query, "")); err != nil {
		c.log.Info("play refused", zap.String("stream", name), zap.Error(err))
		return c.sendStatus(ns.id, protocol.LevelError, protocol.PlayFailed, denialText(err),
			amf.Property{Key: "details", Value: name})
	}
	live := func() bool { s := c.inst.Streams().Get(name); return s != nil && s.Published() }
	switch {
	case args.liveOnly():
		if !live() {
			c.log.Info("play: stream not found", zap.String("stream", name))
			return ns.notFound(name)
		}
		return ns.subscribe(name, true, func() error { return ns.sendPlayStart(name, args.reset) })
	case appending || args.recorded() || !live():
		f, err := c.openVOD(name)
		if err == nil {
			it := &vodItem{name: name, src: f, start: int64(max(args.start, 0)), length: int64(args.length)}
			if args.length < 0 {
				it.length = -1
			}
			if appending {
				if !ns.play.vod.add(it) {
					c.log.Info("play: playlist full", zap.String("stream", name), zap.Int("limit", maxPlaylist))
					return c.sendStatus(ns.id, protocol.LevelError, protocol.PlayFailed,
						fmt.Sprintf("Failed to play %s; the playlist holds %d items already.", name, maxPlaylist),
						amf.Property{Key: "details", Value: name})
				}
				ns.play.also = append(ns.play.also, name)
				return nil
			}
			return ns.playVOD(it, args.reset)
		}
		switch {
		case !appending && missing(err) && live():
			// A recorded start (≥ 0) of a live stream without a file:
			// librtmp asks so for every stream not flagged live.
		case appending || args.recorded() || !missing(err):
			return ns.vodRefused(name, err)
		}
		// Live or recorded, and neither is there: wait for a publisher,
		// as nginx-rtmp does (idle streams).
	}
	return ns.subscribe(name, false, func() error { return ns.sendPlayStart(name, args.reset) })
}

// missing tells whether a file error means there is no recorded stream
// of the name at all, rather than a bad or unreadable one.
func missing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, errNoStorage) || errors.Is(err, errBadName)
}

func (ns *netStream) notFound(name string) error {
	return ns.c.sendStatus(ns.id, protocol.LevelError, protocol.PlayStreamNotFound, "Failed to play "+name+"; stream not found.",
		amf.Property{Key: "details", Value: name})
}

// vodRefused answers a play whose recorded stream cannot be played: not
// there (StreamNotFound), or a bad name, an unsupported format, a file
// that is neither FLV nor MP4 or has no media (Play.Failed, with the
// reason logged).
func (ns *netStream) vodRefused(name string, err error) error {
	c := ns.c
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errNoStorage) {
		c.log.Info("play: stream not found", zap.String("stream", name), zap.Error(err))
		return ns.notFound(name)
	}
	c.log.Warn("play: recorded stream unplayable", zap.String("stream", name), zap.Error(err))
	desc := "Failed to play " + name + "; the file is not playable FLV or MP4 media."
	switch {
	case errors.Is(err, errBadName):
		desc = "Failed to play " + name + "; invalid stream name."
	case errors.Is(err, errUnsupported):
		desc = "Failed to play " + name + "; only FLV and MP4 files are supported."
	case errors.Is(err, mp4file.ErrTooLarge):
		desc = "Failed to play " + name + "; its sample tables are too large."
	}
	return c.sendStatus(ns.id, protocol.LevelError, protocol.PlayFailed, desc, amf.Property{Key: "details", Value: name})
}

// playVOD starts playing a recorded stream: AMS's reply sequence with
// StreamIsRecorded first, then the file paced by its own goroutine.
func (ns *netStream) playVOD(it *vodItem, reset bool) error {
	c := ns.c
	if err := c.userControl(protocol.EventStreamIsRecorded, ns.id); err != nil {
		_ = it.src.Close()
		return err
	}
	if err := ns.sendPlayStart(it.name, reset); err != nil {
		_ = it.src.Close()
		return err
	}
	p := &play{streamID: ns.id, name: it.name}
	ns.play = p
	newVODPlay(ns, p, it)
	c.out.addPlay(p)
	c.log.Info("playing recorded stream", zap.String("stream", it.name), zap.Int64("start_ms", it.start),
		zap.Int64("length_ms", it.length), zap.Uint32("msid", ns.id))
	return nil
}

// sendPlayStart queues AMS's play reply sequence: StreamBegin, Play.Reset,
// Play.Start, |RtmpSampleAccess and, for Flash Player, Data.Start.
func (ns *netStream) sendPlayStart(name string, reset bool) error {
	c := ns.c
	details := amf.Property{Key: "details", Value: name}
	if err := c.userControl(protocol.EventStreamBegin, ns.id); err != nil {
		return err
	}
	if reset {
		if err := c.sendStatus(ns.id, protocol.LevelStatus, protocol.PlayReset, "Playing and resetting "+name+".", details); err != nil {
			return err
		}
	}
	if err := c.sendStatus(ns.id, protocol.LevelStatus, protocol.PlayStart, "Started playing "+name+".", details); err != nil {
		return err
	}
	if err := c.sendData(ns.id, "|RtmpSampleAccess", c.cfg.SampleAccess, c.cfg.SampleAccess); err != nil {
		return err
	}
	if c.isFlashPlayer() {
		return c.sendData(ns.id, "onStatus", amf.Object{{Key: "code", Value: protocol.DataStart}})
	}
	return nil
}

// subscribe attaches a new play of name to the stream registry. started
// queues the status replies: it runs once the subscription is certain and
// before the play's media may be sent, so that a refusal comes instead of
// Play.Start and the replies precede the first frame.
func (ns *netStream) subscribe(name string, mustExist bool, started func() error) error {
	c := ns.c
	p := &play{streamID: ns.id, name: name, out: c.out, lagging: func() {
		c.log.Warn("slow subscriber dropped", zap.String("stream", name))
		c.refused("subscriber_queue")
		c.tr.Close(ErrSlowSubscriber)
	}}
	subCfg := c.cfg.Subscriber
	subCfg.Label = c.tr.Protocol()
	p.sub = media.NewSubscriber(subCfg, p)
	if _, err := c.inst.Streams().Subscribe(name, p.sub, mustExist); err != nil {
		switch {
		case errors.Is(err, media.ErrNotFound):
			return c.sendStatus(ns.id, protocol.LevelError, protocol.PlayStreamNotFound, "Failed to play "+name+"; stream not found.",
				amf.Property{Key: "details", Value: name})
		case errors.Is(err, media.ErrTooManyStreams):
			c.log.Info("play refused: stream limit", zap.String("stream", name))
			c.refused("streams_per_instance")
			return c.sendStatus(ns.id, protocol.LevelError, protocol.PlayFailed, "Too many streams in this application instance.",
				amf.Property{Key: "details", Value: name})
		}
		return fmt.Errorf("subscribe %q: %w", name, err)
	}
	ns.play = p
	if err := started(); err != nil {
		return err
	}
	c.out.addPlay(p)
	c.log.Info("playing", zap.String("stream", name), zap.Uint32("msid", ns.id))
	return nil
}

func (ns *netStream) stopPlay() {
	p := ns.play
	if p == nil {
		return
	}
	ns.c.out.removePlay(p)
	if p.vod != nil {
		p.vod.stop()
	} else if s := p.sub.Stream(); s != nil {
		s.Unsubscribe(p.sub)
	}
	ns.play = nil
	ns.c.log.Info("stopped playing", zap.String("stream", p.name))
	ns.c.cfg.Auth.Done(ns.c.streamAuth(p.name, "", "play"))
	for _, name := range p.also {
		ns.c.cfg.Auth.Done(ns.c.streamAuth(name, "", "play"))
	}
}

// onPlay2 handles NetStream.play2 (RTMP commands draft §4.2.2): switching a
// playing stream to another name without stopping the NetStream.
func (ns *netStream) onPlay2(cmd *protocol.Command) error {
	c := ns.c
	obj, _ := cmd.Arg(0).(amf.Object)
	name, _ := splitQuery(obj.String("streamName"))
	transition := obj.String("transition")
	if transition == "stop" {
		ns.stopPlay()
		return nil
	}
	if name == "" {
		return c.sendStatus(ns.id, protocol.LevelError, protocol.PlayFailed, "play2 needs a streamName.")
	}
	if ns.play == nil || (transition != "switch" && transition != "swap") {
		args := playArgs{start: -2, reset: transition != "append" && transition != "appendAndWait"}
		if n, ok := obj.Number("start"); ok {
			args.start = n
		}
		ns.close(false)
		return ns.subscribe(name, args.liveOnly(), func() error { return ns.sendPlayStart(name, args.reset) })
	}
	ns.stopPlay()
	return ns.subscribe(name, false, func() error {
		if err := c.sendStatus(ns.id, protocol.LevelStatus, protocol.PlayTransition, "Transitioned to "+name+".",
			amf.Property{Key: "details", Value: name}); err != nil {
			return err
		}
		return c.sendData(ns.id, "onPlayStatus", protocol.StatusObject(protocol.LevelStatus, protocol.PlayTransitionComplete,
			"Transition to "+name+" complete.", amf.Property{Key: "details", Value: name}))
	})
}

func (ns *netStream) onPause(cmd *protocol.Command) error {
	c := ns.c
	p := ns.play
	if p == nil {
		return nil
	}
	pause, _ := cmd.Arg(0).(bool)
	pos, _ := cmd.ArgNumber(1)
	if p.vod != nil {
		return ns.pauseVOD(p, pause, pos)
	}
	c.out.withPlay(func() {
		p.paused = pause
		if !pause {
			// A live stream resumes at the live edge, from a keyframe.
			p.sub.Reset()
			p.waitKeyframe = true
		}
	})
	if pause {
		if err := c.sendStatus(ns.id, protocol.LevelStatus, protocol.PauseNotify, fmt.Sprintf("Pausing %s.", p.name),
			amf.Property{Key: "details", Value: p.name}); err != nil {
			return err
		}
		return c.userControl(protocol.EventStreamEOF, ns.id)
	}
	if err := c.userControl(protocol.EventStreamBegin, ns.id); err != nil {
		return err
	}
	return c.sendStatus(ns.id, protocol.LevelStatus, protocol.UnpauseNotify, fmt.Sprintf("Unpausing %s at %.0f ms.", p.name, pos),
		amf.Property{Key: "details", Value: p.name})
}

// onSeek moves a recorded stream to the keyframe at or before the asked
// time. On a live stream there is nothing to seek to, so playback
// continues at the live edge and the client is told the seek is done.
func (ns *netStream) onSeek(cmd *protocol.Command) error {
	p := ns.play
	if p == nil {
		return nil
	}
	ms, _ := cmd.ArgNumber(0)
	if p.vod != nil {
		c := ns.c
		p.vod.requestSeek(ms,
			userControlMessage(protocol.EventStreamEOF, ns.id),
			c.statusMessage(ns.id, protocol.LevelStatus, protocol.SeekNotify, fmt.Sprintf("Seeking %.0f (stream ID: %d).", ms, ns.id),
				amf.Property{Key: "details", Value: p.name}),
			userControlMessage(protocol.EventStreamBegin, ns.id))
		return nil
	}
	return ns.c.sendStatus(ns.id, protocol.LevelStatus, protocol.SeekNotify,
		fmt.Sprintf("Seeking %.0f (stream ID: %d).", ms, ns.id), amf.Property{Key: "details", Value: p.name})
}

// pauseVOD pauses or resumes a recorded stream: the reader stops, and
// resumes at the client's position (pos, ms). Pause.Notify and StreamEOF
// go at once; StreamBegin and Unpause.Notify precede the resumed frames.
func (ns *netStream) pauseVOD(p *play, pause bool, pos float64) error {
	c := ns.c
	details := amf.Property{Key: "details", Value: p.name}
	if pause {
		p.vod.pause(true, pos)
		if err := c.sendStatus(ns.id, protocol.LevelStatus, protocol.PauseNotify, "Pausing "+p.name+".", details); err != nil {
			return err
		}
		return c.userControl(protocol.EventStreamEOF, ns.id)
	}
	p.vod.pause(false, pos, userControlMessage(protocol.EventStreamBegin, ns.id),
		c.statusMessage(ns.id, protocol.LevelStatus, protocol.UnpauseNotify, fmt.Sprintf("Unpausing %s at %.0f ms.", p.name, pos), details))
	return nil
}

func (ns *netStream) onReceive(audio, on bool) {
	p := ns.play
	if p == nil {
		return
	}
	ns.c.out.withPlay(func() {
		if audio {
			p.noAudio = !on
			return
		}
		if on && p.noVideo {
			p.waitKeyframe = true
		}
		p.noVideo = !on
	})
}

// close stops whatever the stream does; with notify a publisher gets
// Unpublish.Success.
func (ns *netStream) close(notify bool) {
	ns.stopPublish(notify)
	ns.stopPlay()
}
