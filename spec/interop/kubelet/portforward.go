// The port-forward protocol on one upgraded connection, as the kubelet serves it
// (kubelet pkg/cri/streaming/portforward/httpstream.go, containerd's PortForward for the copy).
package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/docker/spdystream"
)

const (
	headerStreamType = "Streamtype"
	headerPort       = "Port"
	headerRequestID  = "Requestid"
	streamTypeError  = "error"
	streamTypeData   = "data"
	// idleTimeout is the kubelet's streaming idle timeout.
	idleTimeout = 4 * time.Hour
)

// session is one served SPDY connection.
type session struct {
	raw   net.Conn
	conn  *spdystream.Connection
	mu    sync.Mutex
	pairs map[string]*pair
	open  int // streams accepted and not yet finished
	// active lists the pairs being forwarded (for the cancel command).
	active map[*pair]struct{}
}

// pair is the error and data stream of one forwarded connection.
type pair struct {
	requestID string
	port      int
	error     *spdystream.Stream
	data      *spdystream.Stream
	done      chan struct{} // closed once both halves are there
}

// registry lists the live sessions (for the stdin commands).
var registry = &sessions{m: map[*session]struct{}{}}

type sessions struct {
	mu       sync.Mutex
	m        map[*session]struct{}
	upgrades int
}

func (r *sessions) add(s *session) {
	r.mu.Lock()
	r.m[s] = struct{}{}
	r.upgrades++
	r.mu.Unlock()
}

func (r *sessions) remove(s *session) {
	r.mu.Lock()
	delete(r.m, s)
	r.mu.Unlock()
}

func (r *sessions) each(f func(*session)) int {
	r.mu.Lock()
	list := make([]*session, 0, len(r.m))
	for s := range r.m {
		list = append(list, s)
	}
	r.mu.Unlock()
	for _, s := range list {
		f(s)
	}
	return len(list)
}

func (r *sessions) stats() (conns, streams, upgrades int) {
	r.mu.Lock()
	list := make([]*session, 0, len(r.m))
	for s := range r.m {
		list = append(list, s)
	}
	upgrades = r.upgrades
	r.mu.Unlock()
	for _, s := range list {
		s.mu.Lock()
		streams += s.open
		s.mu.Unlock()
	}
	return len(list), streams, upgrades
}

// servePortForward serves the port-forward protocol on one upgraded connection (SPDY/3.1 bytes in
// both directions) until it closes. It blocks.
func servePortForward(nc net.Conn) {
	conn, err := spdystream.NewConnection(nc, true)
	if err != nil {
		nc.Close()
		return
	}
	s := &session{raw: nc, conn: conn, pairs: map[string]*pair{}, active: map[*pair]struct{}{}}
	registry.add(s)
	defer registry.remove(s)
	conn.SetIdleTimeout(idleTimeout)
	go conn.Serve(s.newStream)
	<-conn.CloseChan()
	nc.Close()
}

// goAway sends GOAWAY; spdystream closes the TCP connection once its streams are done.
func (s *session) goAway() {
	_ = s.conn.Close()
}

// cancel resets the streams of every pair being forwarded (RST_STREAM CANCEL), as apimachinery's
// spdy connection.Close does to each of its streams before closing the connection. Returns how many.
func (s *session) cancel() int {
	s.mu.Lock()
	list := make([]*pair, 0, len(s.active))
	for p := range s.active {
		list = append(list, p)
	}
	s.mu.Unlock()
	for _, p := range list {
		_ = p.data.Reset()
		_ = p.error.Reset()
	}
	return len(list)
}

// newStream validates and replies to a stream, then pairs it (apimachinery spdy newSpdyStream +
// kubelet httpStreamReceived): a stream with a bad header is reset, one past -max-streams refused.
func (s *session) newStream(st *spdystream.Stream) {
	h := st.Headers()
	portText := h.Get(headerPort)
	port, perr := strconv.Atoi(portText)
	streamType := h.Get(headerStreamType)
	switch {
	case portText == "":
		_ = st.Reset()
		return
	case perr != nil || port < 1 || port > 65535:
		_ = st.Reset()
		return
	case streamType != streamTypeError && streamType != streamTypeData:
		_ = st.Reset()
		return
	}
	s.mu.Lock()
	if cfg.maxStreams > 0 && s.open >= cfg.maxStreams {
		s.mu.Unlock()
		_ = st.Refuse()
		return
	}
	s.open++
	s.mu.Unlock()
	if err := st.SendReply(http.Header{}, false); err != nil {
		s.release(1)
		return
	}
	requestID := h.Get(headerRequestID)
	if requestID == "" {
		// Old clients: the error stream is N, its data stream N+2.
		id := st.Identifier()
		if streamType == streamTypeData {
			id -= 2
		}
		requestID = strconv.FormatUint(uint64(id), 10)
	}
	s.mu.Lock()
	p, found := s.pairs[requestID]
	if !found {
		p = &pair{requestID: requestID, port: port, done: make(chan struct{})}
		s.pairs[requestID] = p
		go s.monitor(p)
	}
	var addErr error
	if streamType == streamTypeError {
		if p.error != nil {
			addErr = errors.New("error stream already assigned")
		} else {
			p.error = st
		}
	} else {
		if p.data != nil {
			addErr = errors.New("data stream already assigned")
		} else {
			p.data = st
		}
	}
	complete := addErr == nil && p.error != nil && p.data != nil
	if complete {
		delete(s.pairs, requestID)
		close(p.done)
	}
	errStream := p.error
	s.mu.Unlock()
	if addErr != nil {
		msg := fmt.Sprintf("error processing stream for request %s: %v", requestID, addErr)
		if errStream != nil {
			_, _ = errStream.Write([]byte(msg))
		}
		_ = st.Reset()
		s.release(1)
		return
	}
	if complete {
		go s.forward(p)
	}
}

// monitor fails a pair that is not complete within the stream-creation timeout.
func (s *session) monitor(p *pair) {
	select {
	case <-p.done:
		return
	case <-time.After(cfg.streamCreationTimeout):
	}
	s.mu.Lock()
	if s.pairs[p.requestID] != p {
		s.mu.Unlock()
		return
	}
	delete(s.pairs, p.requestID)
	s.mu.Unlock()
	n := 0
	if p.error != nil {
		_, _ = p.error.Write([]byte("timed out waiting for streams"))
		_ = p.error.Close()
		n++
	}
	if p.data != nil {
		_ = p.data.Close()
		n++
	}
	s.release(n)
}

func (s *session) release(n int) {
	s.mu.Lock()
	s.open -= n
	s.mu.Unlock()
}

// forward dials the pod's port and copies bytes both ways; a failure is text on the error stream.
// Both streams are always closed at the end (kubelet portForward: defer Close of both).
func (s *session) forward(p *pair) {
	s.mu.Lock()
	s.active[p] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.active, p)
		s.mu.Unlock()
	}()
	defer s.release(2)
	defer p.error.Close()
	defer p.data.Close()
	if err := copyToPort(p); err != nil {
		msg := fmt.Sprintf("error forwarding port %d to pod %s, uid : %v", p.port, cfg.pod, err)
		emit(obj{"event": "forward-error", "requestid": p.requestID, "error": msg})
		_, _ = p.error.Write([]byte(msg))
	}
}

// copyToPort is the runtime's part (containerd PortForward): dial TARGET:PORT, copy both ways. The
// client's FIN half-closes the pod connection; the pod's EOF ends the data stream (FIN) once the other
// direction is done or a second has passed.
func copyToPort(p *pair) error {
	c, err := net.DialTimeout("tcp", net.JoinHostPort(cfg.target, strconv.Itoa(p.port)), 10*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	toPod := make(chan error, 1)
	go func() {
		_, err := io.Copy(c, p.data)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		toPod <- err
	}()
	_, fromErr := io.Copy(p.data, c)
	if fromErr != nil {
		return fromErr
	}
	select {
	case <-toPod:
	case <-time.After(time.Second):
	}
	return nil
}
