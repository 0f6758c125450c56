// The WebSocket tunnel for port-forward (kubectl's default since 1.31), on Debian's gorilla/websocket as
// Kubernetes serves it (apiserver pkg/util/proxy/streamtunnel.go, client-go tools/portforward
// tunneling_connection.go): a GET on …/portforward with "Upgrade: websocket" offering the subprotocol
// SPDY/3.1+portforward.k8s.io is answered 101 with that subprotocol; then the unchanged SPDY/3.1 byte
// stream travels inside binary messages and servePortForward serves it as it serves the SPDY upgrade.
//
// Writes are Go's natural ones: spdystream writes a frame in several Write calls (each header field,
// then the payload) and every Write becomes one message via NextWriter, fragmented by gorilla past its
// write buffer. So a peer reading this tunnel meets frames split across messages at arbitrary offsets,
// as it does behind a real API server. Reads do not assume boundaries either: one message after another
// is read as one byte stream.
//
// Flags (registered here, parsed by main):
//
//	-tunnel=false   no tunnel: the GET reaches the SPDY handler and is answered 400 "unable to upgrade:
//	                missing upgrade headers in request", as a kubelet or API server without the tunnel does
//
// Stdout: {"event":"upgrade","transport":"websocket"} per tunnel.
package main

import (
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// tunnelProtocol is the WebSocket subprotocol of the tunnel: "SPDY/3.1+" and the port-forward protocol.
const tunnelProtocol = "SPDY/3.1+" + protocolV1

var tunnelEnabled = flag.Bool("tunnel", true, "accept the WebSocket tunnel (SPDY/3.1+portforward.k8s.io); false answers its GET 400 as a server without it")

// serveTunnel takes the request when it is a WebSocket upgrade and the tunnel is enabled; it reports
// whether it did (the hook in handlePortForward).
func serveTunnel(w http.ResponseWriter, req *http.Request) bool {
	if !*tunnelEnabled || !websocket.IsWebSocketUpgrade(req) {
		return false
	}
	offered := false
	for _, p := range websocket.Subprotocols(req) {
		if p == tunnelProtocol {
			offered = true
		}
	}
	if !offered {
		// The API server's answer when no SPDY/3.1+…k8s.io subprotocol is offered.
		http.Error(w, "unable to upgrade: no tunneling spdy protocols provided", http.StatusBadRequest)
		return true
	}
	upgrader := websocket.Upgrader{
		Subprotocols: []string{tunnelProtocol},
		CheckOrigin:  func(*http.Request) bool { return true },
	}
	ws, err := upgrader.Upgrade(w, req, nil) // writes its own 4xx on a bad handshake
	if err != nil {
		return true
	}
	emit(obj{"event": "upgrade", "transport": "websocket"})
	servePortForward(&tunnelConn{ws: ws})
	return true
}

// tunnelConn is a WebSocket as a net.Conn carrying a byte stream in binary messages. gorilla allows one
// reader and one writer at a time: each side has its own lock.
type tunnelConn struct {
	ws        *websocket.Conn
	rmu       sync.Mutex
	cur       io.Reader // the message being read, nil between messages
	wmu       sync.Mutex
	closeOnce sync.Once
}

var errTextMessage = errors.New("tunnel: text message (binary messages only)")

// Read returns bytes of the current message, moving to the next one at its end. A close with 1000
// (or without a code) is io.EOF.
func (c *tunnelConn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for {
		if c.cur == nil {
			kind, r, err := c.ws.NextReader()
			if err != nil {
				if websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseNoStatusReceived) {
					return 0, io.EOF
				}
				return 0, err
			}
			if kind != websocket.BinaryMessage {
				return 0, errTextMessage
			}
			c.cur = r
		}
		n, err := c.cur.Read(p)
		if err == io.EOF {
			c.cur = nil
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
}

// Write sends p as one binary message (gorilla fragments it past its write buffer).
func (c *tunnelConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	w, err := c.ws.NextWriter(websocket.BinaryMessage)
	if err != nil {
		return 0, err
	}
	n, err := w.Write(p)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	return n, err
}

// Close sends a close frame with 1000 (normal closure: EOF for the peer), then closes the TCP connection.
func (c *tunnelConn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
		_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(5*time.Second))
		err = c.ws.Close()
	})
	if err != nil && strings.Contains(err.Error(), "use of closed network connection") {
		return nil
	}
	return err
}

func (c *tunnelConn) LocalAddr() net.Addr                { return c.ws.LocalAddr() }
func (c *tunnelConn) RemoteAddr() net.Addr               { return c.ws.RemoteAddr() }
func (c *tunnelConn) SetDeadline(t time.Time) error      { return c.ws.UnderlyingConn().SetDeadline(t) }
func (c *tunnelConn) SetReadDeadline(t time.Time) error  { return c.ws.SetReadDeadline(t) }
func (c *tunnelConn) SetWriteDeadline(t time.Time) error { return c.ws.SetWriteDeadline(t) }
