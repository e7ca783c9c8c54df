package web

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/zap"
)

// Event is one entry of the live event stream (/api/v1/events).
type Event struct {
	Type   string      `json:"type"` // connect, disconnect, publish, unpublish
	Time   time.Time   `json:"time"`
	App    string      `json:"app"` // "app/instance"
	Stream string      `json:"stream,omitempty"`
	Client *ClientInfo `json:"client,omitempty"`
}

// Timings of the WebSocket connections. A dashboard answers pings from its
// browser without any script running; one that does not within pongWait is
// gone.
const (
	pingEvery = 20 * time.Second
	pongWait  = 45 * time.Second
	// maxInbound bounds what a dashboard may send: it sends nothing but
	// control frames, so anything large is hostile.
	maxInbound = 4 << 10
)

// hub fans live messages out to the connected dashboards. Every dashboard
// has a bounded queue; one whose queue is full when a message comes (a slow
// or stalled browser) is disconnected instead of being waited for, so
// broadcasting never blocks and a dashboard costs at most its queue.
type hub struct {
	log          *zap.Logger
	queue        int
	writeTimeout time.Duration
	upgrader     websocket.Upgrader

	mu      sync.Mutex
	clients map[*wsClient]struct{}
	closed  bool
	wg      sync.WaitGroup

	// dropped counts dashboards disconnected for falling behind.
	dropped atomic.Uint64
}

type wsClient struct {
	conn *websocket.Conn
	send chan []byte
	done chan struct{}
	once sync.Once
}

func (c *wsClient) close() {
	c.once.Do(func() {
		close(c.done)
		_ = c.conn.Close()
	})
}

func newHub(queue int, writeTimeout time.Duration, log *zap.Logger) *hub {
	return &hub{
		log: log, queue: queue, writeTimeout: writeTimeout,
		clients: make(map[*wsClient]struct{}),
		// The default origin check refuses cross-origin pages, which is
		// what keeps other sites from reading the event stream with the
		// operator's cookie.
		upgrader: websocket.Upgrader{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 1024, WriteBufferSize: 4096},
	}
}

// serve upgrades r and runs the connection until it ends.
func (h *hub) serve(w http.ResponseWriter, r *http.Request, first []byte) {
	conn, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	c := &wsClient{conn: conn, send: make(chan []byte, h.queue), done: make(chan struct{})}
	if first != nil {
		c.send <- first // the queue is new and has room for one
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		_ = conn.Close()
		return
	}
	h.clients[c] = struct{}{}
	h.wg.Add(2)
	h.mu.Unlock()
	go h.write(c)
	h.read(c)
}

// read consumes control frames until the connection fails, then removes c.
func (h *hub) read(c *wsClient) {
	defer h.wg.Done()
	conn := c.conn
	conn.SetReadLimit(maxInbound)
	_ = conn.SetReadDeadline(time.Now().Add(pongWait))
	conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(pongWait)) })
	for {
		if _, _, err := conn.NextReader(); err != nil {
			break
		}
	}
	h.remove(c)
}

// write sends queued messages and pings. A write that cannot finish within
// writeTimeout ends the connection.
func (h *hub) write(c *wsClient) {
	defer h.wg.Done()
	defer c.close()
	ping := time.NewTicker(pingEvery)
	defer ping.Stop()
	for {
		select {
		case msg := <-c.send:
			_ = c.conn.SetWriteDeadline(time.Now().Add(h.writeTimeout))
			if err := c.conn.WriteMessage(websocket.TextMessage, msg); err != nil {
				return
			}
		case <-ping.C:
			if err := c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(h.writeTimeout)); err != nil {
				return
			}
		case <-c.done:
			return
		}
	}
}

func (h *hub) remove(c *wsClient) {
	h.mu.Lock()
	delete(h.clients, c)
	h.mu.Unlock()
	c.close()
}

// broadcast queues msg for every dashboard without blocking; msg is shared
// and must not be modified afterwards.
func (h *hub) broadcast(msg []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		select {
		case c.send <- msg:
		default:
			delete(h.clients, c)
			c.close()
			h.dropped.Add(1)
			h.log.Info("dropped a dashboard that stopped reading", zap.String("remote", c.conn.RemoteAddr().String()))
		}
	}
}

// count is the number of connected dashboards.
func (h *hub) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients)
}

// shutdown disconnects every dashboard and waits for their goroutines.
func (h *hub) shutdown() {
	h.mu.Lock()
	h.closed = true
	for c := range h.clients {
		delete(h.clients, c)
		c.close()
	}
	h.mu.Unlock()
	h.wg.Wait()
}
