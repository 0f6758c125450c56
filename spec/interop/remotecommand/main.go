// remotecommand-server: a kubelet-like remotecommand (exec) server on moby/spdystream, for kube-spdy's
// interop tests (spec/exec-cli.test.ts). Written for kube-spdy after the behaviour of the kubelet's
// cri-streaming remotecommand/httpstream.go: SPDY/3.1 upgrade with X-Stream-Protocol-Version
// negotiation, a SYN_REPLY to every stream as it arrives, a wait for the expected streams, the command
// run as a local process, the outcome written on the error stream (a metav1.Status JSON for v4/v5, text
// for older versions), then every stream reset and the connection closed, as the kubelet's Close does.
//
//	remotecommand-server -addr 127.0.0.1:0 [-protocols v5.channel.k8s.io,…] [-stream-timeout 30s]
//
// It also answers GET /api/v1/namespaces/NS/pods/NAME with a Running pod, so that a client that checks
// the pod first (kubectl, kube-spdy exec) can be pointed at it; a WebSocket upgrade is answered 400 so
// that such clients fall back to SPDY. Output: one JSON object per line ({"event":"listening","addr":…},
// then one {"event":"exec",…} per finished command).
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/docker/spdystream"
)

var (
	outMu sync.Mutex
	enc   = json.NewEncoder(os.Stdout)

	podPath  = regexp.MustCompile(`^/api/v1/namespaces/([^/]+)/pods/([^/]+)$`)
	execPath = regexp.MustCompile(`^/api/v1/namespaces/([^/]+)/pods/([^/]+)/exec$`)

	serverProtocols []string
	streamTimeout   time.Duration
)

type obj map[string]interface{}

func emit(o obj) {
	outMu.Lock()
	defer outMu.Unlock()
	_ = enc.Encode(o)
}

func writeStatus(w http.ResponseWriter, code int, reason, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(obj{"kind": "Status", "apiVersion": "v1", "metadata": obj{}, "status": "Failure", "message": message, "reason": reason, "code": code})
}

func headerHas(h http.Header, name, token string) bool {
	for _, v := range h[http.CanonicalHeaderKey(name)] {
		if strings.Contains(strings.ToLower(v), strings.ToLower(token)) {
			return true
		}
	}
	return false
}

// negotiate returns the first protocol of the client's list that the server supports, or "".
func negotiate(h http.Header) (string, []string) {
	var client []string
	for _, line := range h[http.CanonicalHeaderKey("X-Stream-Protocol-Version")] {
		for _, p := range strings.Split(line, ",") {
			if p = strings.TrimSpace(p); p != "" {
				client = append(client, p)
			}
		}
	}
	for _, c := range client {
		for _, s := range serverProtocols {
			if c == s {
				return c, client
			}
		}
	}
	return "", client
}

func version(protocol string) int {
	if len(protocol) > 1 && protocol[0] == 'v' && strings.HasSuffix(protocol, ".channel.k8s.io") {
		if n, err := strconv.Atoi(protocol[1:2]); err == nil {
			return n
		}
	}
	return 1
}

func handle(w http.ResponseWriter, r *http.Request) {
	if m := podPath.FindStringSubmatch(r.URL.Path); m != nil && r.Method == http.MethodGet {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(obj{
			"apiVersion": "v1", "kind": "Pod",
			"metadata": obj{"name": m[2], "namespace": m[1]},
			"spec":     obj{"containers": []obj{{"name": "main", "image": "go-remotecommand"}}},
			"status":   obj{"phase": "Running"},
		})
		return
	}
	if !execPath.MatchString(r.URL.Path) {
		writeStatus(w, http.StatusNotFound, "NotFound", "the server could not find the requested resource")
		return
	}
	if headerHas(r.Header, "Upgrade", "websocket") {
		writeStatus(w, http.StatusBadRequest, "BadRequest", "WebSocket is not served here: use the SPDY upgrade")
		return
	}
	protocol, client := negotiate(r.Header)
	if protocol == "" {
		for _, p := range serverProtocols {
			w.Header().Add("X-Accepted-Stream-Protocol-Versions", p)
		}
		writeStatus(w, http.StatusForbidden, "Forbidden", fmt.Sprintf("unable to upgrade: unable to negotiate protocol: client supports %v, server accepts %v", client, serverProtocols))
		return
	}
	if !headerHas(r.Header, "Connection", "upgrade") || !headerHas(r.Header, "Upgrade", "spdy/3.1") {
		http.Error(w, "unable to upgrade: missing upgrade headers in request", http.StatusBadRequest)
		return
	}
	q := r.URL.Query()
	flag := func(name string) bool { b, _ := strconv.ParseBool(q.Get(name)); return b }
	stdin, stdout, stderr, tty := flag("stdin"), flag("stdout"), flag("stderr"), flag("tty")
	if tty {
		stderr = false
	}
	command := q["command"]
	if len(command) == 0 {
		writeStatus(w, http.StatusBadRequest, "BadRequest", "you must specify at least one command for the container")
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "cannot hijack", http.StatusInternalServerError)
		return
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		return
	}
	_, _ = buf.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: " + protocol + "\r\n\r\n")
	_ = buf.Flush()
	serve(&bufferedConn{Conn: conn, r: buf.Reader}, protocol, command, stdin, stdout, stderr, tty)
}

// bufferedConn reads first what the HTTP server had already buffered behind the request.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func serve(conn net.Conn, protocol string, command []string, wantStdin, wantStdout, wantStderr, tty bool) {
	ver := version(protocol)
	sc, err := spdystream.NewConnection(conn, true)
	if err != nil {
		conn.Close()
		return
	}
	arrived := make(chan *spdystream.Stream, 16)
	go sc.Serve(func(s *spdystream.Stream) {
		_ = s.SendReply(http.Header{}, false)
		arrived <- s
	})
	expected := map[string]bool{"error": true}
	if wantStdin {
		expected["stdin"] = true
	}
	if wantStdout {
		expected["stdout"] = true
	}
	if wantStderr {
		expected["stderr"] = true
	}
	if tty && ver >= 3 {
		expected["resize"] = true
	}
	streams := map[string]*spdystream.Stream{}
	timeout := time.After(streamTimeout)
	for len(streams) < len(expected) {
		select {
		case s := <-arrived:
			t := s.Headers().Get("streamtype")
			if !expected[t] || streams[t] != nil {
				_ = s.Reset()
				continue
			}
			streams[t] = s
		case <-timeout:
			emit(obj{"event": "timeout", "have": len(streams)})
			sc.Close()
			conn.Close()
			return
		}
	}
	if rs := streams["resize"]; rs != nil {
		go func() { _, _ = io.Copy(io.Discard, rs) }()
	}

	cmd := exec.Command(command[0], command[1:]...)
	if s := streams["stdout"]; s != nil {
		cmd.Stdout = s
		if tty {
			cmd.Stderr = s
		}
	}
	if s := streams["stderr"]; s != nil {
		cmd.Stderr = s
	}
	var stdinPipe io.WriteCloser
	if streams["stdin"] != nil {
		stdinPipe, _ = cmd.StdinPipe()
	}
	exitCode := 0
	var runErr error
	if err := cmd.Start(); err != nil {
		runErr = err
	} else {
		if stdinPipe != nil {
			// Not waited for: a command that ignores stdin must not hold the session (the client may never end it).
			go func() {
				_, _ = io.Copy(stdinPipe, streams["stdin"])
				stdinPipe.Close()
			}()
		}
		if err := cmd.Wait(); err != nil {
			if ee, ok := err.(*exec.ExitError); ok {
				if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
					exitCode = 128 + int(ws.Signal())
				} else {
					exitCode = ee.ExitCode()
				}
			} else {
				runErr = err
			}
		}
	}

	var status obj
	switch {
	case runErr != nil:
		msg := "error executing command in container: " + runErr.Error()
		status = obj{"metadata": obj{}, "status": "Failure", "message": "Internal error occurred: " + msg, "reason": "InternalError", "details": obj{"causes": []obj{{"message": msg}}}, "code": 500}
	case exitCode != 0:
		status = obj{"metadata": obj{}, "status": "Failure",
			"message": fmt.Sprintf("command terminated with non-zero exit code: error executing command %v, exit code %d", command, exitCode),
			"reason":  "NonZeroExitCode", "details": obj{"causes": []obj{{"reason": "ExitCode", "message": strconv.Itoa(exitCode)}}}}
	default:
		status = obj{"metadata": obj{}, "status": "Success"}
	}
	errStream := streams["error"]
	if ver >= 4 {
		b, _ := json.Marshal(status)
		_, _ = errStream.Write(b)
	} else if status["status"] != "Success" {
		_, _ = errStream.Write([]byte(status["message"].(string)))
	}
	emit(obj{"event": "exec", "command": command, "protocol": protocol, "exitCode": exitCode, "error": fmt.Sprint(runErr)})
	// As the kubelet's connection Close: reset every stream, then close the connection.
	for _, s := range streams {
		_ = s.Reset()
	}
	_ = sc.Close()
	time.AfterFunc(5*time.Second, func() { conn.Close() })
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	protocols := flag.String("protocols", "v5.channel.k8s.io,v4.channel.k8s.io,v3.channel.k8s.io,v2.channel.k8s.io,channel.k8s.io", "X-Stream-Protocol-Version values served")
	flag.DurationVar(&streamTimeout, "stream-timeout", 30*time.Second, "wait for the expected streams")
	flag.Parse()
	serverProtocols = strings.Split(*protocols, ",")
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		emit(obj{"event": "error", "error": err.Error()})
		os.Exit(1)
	}
	emit(obj{"event": "listening", "addr": ln.Addr().String()})
	_ = http.Serve(ln, http.HandlerFunc(handle))
}
