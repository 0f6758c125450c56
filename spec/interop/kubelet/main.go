// kubelet: a kubelet-style port-forward server for kube-spdy's tests, built on moby/spdystream as the
// kubelet is (k8s.io/apimachinery pkg/util/httpstream/spdy + kubelet pkg/cri/streaming/portforward).
// It plays the API server and the kubelet at once: POST …/portforward with an SPDY/3.1 upgrade and
// X-Stream-Protocol-Version: portforward.k8s.io, then per forwarded connection an error + data stream
// pair (paired by requestid), a dial to TARGET:PORT, bytes copied both ways, errors written as text on
// the error stream. Like the kubelet it has no flow control (spdystream ignores WINDOW_UPDATE and
// SETTINGS) and no stream cap unless -max-streams is given (a test of refused streams).
//
//	kubelet -addr 127.0.0.1:0 [-target 127.0.0.1] [-pod default/web] [-max-streams N] [-stream-creation-timeout 30s]
//	        [-tls-cert FILE -tls-key FILE] [-token-file FILE]   (TLS, bearer tokens and the pod GET: apiserver.go)
//
// Stdout: one JSON object per line: {"event":"listening","addr":"127.0.0.1:PORT"} first, then
// {"event":"upgrade"} per SPDY connection and {"event":"forward-error",…} per failed forward.
// Stdin: one command per line, answered by one JSON line:
//
//	goaway   every SPDY connection sends GOAWAY and closes once its streams end (spdystream Close)
//	reset    every upgraded TCP connection is closed at once (a restarting API server)
//	cancel   the streams of every pair being forwarded are reset (RST_STREAM CANCEL; the connection stays)
//	stats    {"event":"stats","connections":N,"streams":N,"upgrades":N}
//
// The code that serves one upgraded connection, servePortForward(net.Conn), is transport-neutral so a
// WebSocket tunnel (which yields a net.Conn of its own) can hand its connections to it as well.
package main

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// protocolV1 is the port-forward subprotocol (X-Stream-Protocol-Version).
const protocolV1 = "portforward.k8s.io"

var (
	outMu sync.Mutex
	enc   = json.NewEncoder(os.Stdout)
)

type obj map[string]interface{}

func emit(o obj) {
	outMu.Lock()
	defer outMu.Unlock()
	_ = enc.Encode(o)
}

// config holds the flags every served connection uses.
type config struct {
	target                string
	pod                   string
	maxStreams            int
	streamCreationTimeout time.Duration
	tokenFile             string
}

var cfg config

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	flag.StringVar(&cfg.target, "target", "127.0.0.1", "host the pod's ports are dialed on")
	flag.StringVar(&cfg.pod, "pod", "default/web", "pod name in error text")
	flag.IntVar(&cfg.maxStreams, "max-streams", 0, "refuse streams (RST_STREAM REFUSED_STREAM) past this many open on one connection; 0 = no cap, as the kubelet")
	flag.DurationVar(&cfg.streamCreationTimeout, "stream-creation-timeout", 30*time.Second, "wait for both streams of a pair")
	tlsCert := flag.String("tls-cert", "", "serve https with this PEM certificate (and -tls-key)")
	tlsKey := flag.String("tls-key", "", "PEM private key of -tls-cert")
	flag.StringVar(&cfg.tokenFile, "token-file", "", "require Authorization: Bearer <this file's content>, read for every request (401 Status otherwise)")
	flag.Parse()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(1)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", handlePortForward)
	emit(obj{"event": "listening", "addr": ln.Addr().String()})
	go commands()
	// HTTP/1.1 only (no h2 over TLS): the upgrades hijack the connection.
	srv := &http.Server{Handler: mux, TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){}}
	if *tlsCert != "" {
		err = srv.ServeTLS(ln, *tlsCert, *tlsKey)
	} else {
		err = srv.Serve(ln)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(1)
	}
}

// commands reads control commands from stdin (see the file comment); EOF on stdin exits the process.
func commands() {
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		switch strings.TrimSpace(sc.Text()) {
		case "goaway":
			n := registry.each(func(s *session) { s.goAway() })
			emit(obj{"event": "goaway", "connections": n})
		case "reset":
			n := registry.each(func(s *session) { s.raw.Close() })
			emit(obj{"event": "reset", "connections": n})
		case "cancel":
			pairs := 0
			n := registry.each(func(s *session) { pairs += s.cancel() })
			emit(obj{"event": "cancel", "connections": n, "pairs": pairs})
		case "stats":
			conns, streams, upgrades := registry.stats()
			emit(obj{"event": "stats", "connections": conns, "streams": streams, "upgrades": upgrades})
		case "":
		default:
			emit(obj{"event": "error", "error": "unknown command " + sc.Text()})
		}
	}
	os.Exit(0)
}

// handlePortForward answers POST …/portforward with the SPDY/3.1 upgrade, as the kubelet's streaming
// server does (httpstream.Handshake, then spdy.NewResponseUpgrader().UpgradeResponse).
func handlePortForward(w http.ResponseWriter, req *http.Request) {
	if !authorized(w, req) {
		return
	}
	if servePodGet(w, req) {
		return
	}
	if !strings.HasSuffix(req.URL.Path, "/portforward") {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if serveTunnel(w, req) { // the WebSocket tunnel, tunnel.go
		return
	}
	if !headerHas(req.Header, "Connection", "upgrade") || !headerHas(req.Header, "Upgrade", "spdy/3.1") {
		http.Error(w, "unable to upgrade: missing upgrade headers in request", http.StatusBadRequest)
		return
	}
	versions := req.Header.Values("X-Stream-Protocol-Version")
	ok := false
	for _, v := range versions {
		for _, p := range strings.Split(v, ",") {
			if strings.TrimSpace(p) == protocolV1 {
				ok = true
			}
		}
	}
	if !ok {
		w.Header().Add("X-Accepted-Stream-Protocol-Versions", protocolV1)
		http.Error(w, "unable to upgrade: unable to negotiate protocol", http.StatusForbidden)
		return
	}
	hj, isHijacker := w.(http.Hijacker)
	if !isHijacker {
		http.Error(w, "unable to upgrade: connection does not support hijacking", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Connection", "Upgrade")
	w.Header().Set("Upgrade", "SPDY/3.1")
	w.Header().Set("X-Stream-Protocol-Version", protocolV1)
	w.WriteHeader(http.StatusSwitchingProtocols)
	conn, rw, err := hj.Hijack()
	if err != nil {
		return
	}
	// Bytes the client sent right after its request may already sit in the server's reader: keep them.
	var nc net.Conn = conn
	if rw.Reader.Buffered() > 0 {
		nc = &bufferedConn{Conn: conn, r: rw.Reader}
	}
	emit(obj{"event": "upgrade"})
	servePortForward(nc)
}

func headerHas(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, p := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(p), token) {
				return true
			}
		}
	}
	return false
}

// bufferedConn reads what the HTTP server had buffered before the rest of the connection.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
