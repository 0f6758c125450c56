// spdypeer: a moby/spdystream peer for kube-spdy's interop tests (spec/interop-go.test.ts).
//
// One process = one SPDY connection over loopback TCP, in either role:
//
//	spdypeer -mode server -addr 127.0.0.1:0 -scenario none      listens, prints {"event":"listening","addr":…}
//	spdypeer -mode client -addr 127.0.0.1:PORT -scenario ping   dials kube-spdy
//	spdypeer -mode pair -scenario open-echo                     Go client ↔ Go server in this process (baseline)
//
// Streams the other side opens are handled by their "action" header:
//
//	echo      reply, copy everything back, FIN; prints "echoed" (bytes, sha256) unless header "quiet" is set
//	headers   prints the SYN_STREAM headers, replies with headers, reads to EOF, writes "hello from go", FIN
//	refuse    RST_STREAM REFUSED_STREAM instead of a reply
//	sink      reply, read to EOF; prints "sink-end" with reset=true when the stream ended by a RST_STREAM
//	go-reset  reply, read one chunk, then Reset() (RST_STREAM CANCEL)
//
// Scenarios (comma-separated, run in order once the connection is up) are what this side starts:
//
//	none           nothing: the other side drives
//	open-headers   opens a stream with headers, waits for SYN_REPLY, then a HEADERS frame, sends text, reads text
//	open-echo      opens a stream, sends -size bytes in ≤1 MiB writes, reads them back (sha256 both ways)
//	open-parallel  opens -n streams at once, each echoing -chunk bytes
//	open-reset     opens a stream, sends 1 KiB, then Reset()
//	open-refused   opens a stream that the other side resets: WaitTimeout must fail
//	ping           5 × Ping()
//	go-close       waits until one "echo" stream handled here finished, then Close() (GOAWAY)
//
// Every result is one JSON object per line on stdout. The last line is {"event":"end",…}: whether a
// GOAWAY was received and whether spdystream's shutdown finished cleanly (graceful).
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/spdystream"
)

const maxWrite = 1 << 20 // one Write is one DATA frame: stay far below 2^24-1

var (
	outMu sync.Mutex
	enc   = json.NewEncoder(os.Stdout)

	echoDone     = make(chan struct{}, 1024)
	replyTimeout = 10 * time.Second
)

type obj map[string]interface{}

func emit(o obj) {
	outMu.Lock()
	defer outMu.Unlock()
	_ = enc.Encode(o)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// lowerHeaders flattens an http.Header (canonical keys) to lower-case names, values in order.
func lowerHeaders(h http.Header) map[string][]string {
	m := make(map[string][]string, len(h))
	for k, v := range h {
		m[strings.ToLower(k)] = v
	}
	return m
}

func pattern(n int, seed int64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewSource(seed))
	r.Read(b)
	return b
}

func shaHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// readAll reads a stream to EOF, hashing it.
func readAll(s *spdystream.Stream) (int64, string, []byte, error) {
	h := sha256.New()
	buf := make([]byte, maxWrite)
	var n int64
	var keep []byte
	for {
		k, err := s.Read(buf)
		if k > 0 {
			h.Write(buf[:k])
			if len(keep) < 4096 {
				keep = append(keep, buf[:k]...)
			}
			n += int64(k)
		}
		if err == io.EOF {
			return n, hex.EncodeToString(h.Sum(nil)), keep, nil
		}
		if err != nil {
			return n, hex.EncodeToString(h.Sum(nil)), keep, err
		}
	}
}

// writeChunks writes b in writes of at most maxWrite bytes, then FIN.
func writeChunks(s *spdystream.Stream, b []byte) error {
	for len(b) > 0 {
		k := len(b)
		if k > maxWrite {
			k = maxWrite
		}
		if _, err := s.Write(b[:k]); err != nil {
			return err
		}
		b = b[k:]
	}
	return s.Close()
}

// handler answers streams opened by the other side (runs on a spdystream frame worker: never block it).
func handler(conn *spdystream.Connection) spdystream.StreamHandler {
	return func(s *spdystream.Stream) {
		id := s.Identifier()
		h := s.Headers()
		switch h.Get("action") {
		case "echo":
			quiet := h.Get("quiet") != ""
			if err := s.SendReply(http.Header{"X-Go-Reply": {"echo"}, "X-Got-Id": {h.Get("x-id")}}, false); err != nil {
				emit(obj{"event": "error", "id": id, "where": "echo reply", "err": err.Error()})
				return
			}
			go func() {
				sum := sha256.New()
				buf := make([]byte, maxWrite)
				var n int64
				var werr, rerr error
				for {
					k, err := s.Read(buf)
					if k > 0 {
						sum.Write(buf[:k])
						n += int64(k)
						if _, werr = s.Write(buf[:k]); werr != nil {
							break
						}
					}
					if err != nil {
						if err != io.EOF {
							rerr = err
						}
						break
					}
				}
				cerr := s.Close()
				if !quiet || werr != nil || rerr != nil {
					emit(obj{"event": "echoed", "id": id, "bytes": n, "sha256": hex.EncodeToString(sum.Sum(nil)),
						"err": errString(werr) + errString(rerr) + errString(cerr)})
				}
				echoDone <- struct{}{}
			}()
		case "headers":
			emit(obj{"event": "stream", "id": id, "headers": lowerHeaders(h)})
			if err := s.SendReply(http.Header{"X-Reply-From": {"go"}, "X-Multi": {"x", "y"}}, false); err != nil {
				emit(obj{"event": "error", "id": id, "where": "headers reply", "err": err.Error()})
				return
			}
			go func() {
				n, _, text, err := readAll(s)
				_, werr := s.Write([]byte("hello from go"))
				cerr := s.Close()
				emit(obj{"event": "stream-data", "id": id, "bytes": n, "text": string(text), "err": errString(err) + errString(werr) + errString(cerr)})
			}()
		case "refuse":
			err := s.Refuse()
			emit(obj{"event": "refused", "id": id, "err": errString(err)})
		case "sink":
			if err := s.SendReply(http.Header{}, false); err != nil {
				emit(obj{"event": "error", "id": id, "where": "sink reply", "err": err.Error()})
				return
			}
			go func() {
				n, _, _, err := readAll(s)
				// spdystream removes a stream from its table when a RST_STREAM arrives, before Read sees EOF;
				// after a FIN the stream stays until this side closes too.
				reset := conn.FindStream(id) == nil
				emit(obj{"event": "sink-end", "id": id, "bytes": n, "reset": reset, "err": errString(err)})
				if !reset {
					_ = s.Close()
				}
			}()
		case "go-reset":
			if err := s.SendReply(http.Header{}, false); err != nil {
				emit(obj{"event": "error", "id": id, "where": "go-reset reply", "err": err.Error()})
				return
			}
			go func() {
				buf := make([]byte, 65536)
				k, err := s.Read(buf)
				rerr := s.Reset()
				emit(obj{"event": "go-reset-sent", "id": id, "bytes": k, "err": errString(err) + errString(rerr)})
			}()
		default:
			emit(obj{"event": "error", "id": id, "where": "handler", "err": "unknown action " + strconv.Quote(h.Get("action"))})
			_ = s.Refuse()
		}
	}
}

func openHeaders(conn *spdystream.Connection) {
	s, err := conn.CreateStream(http.Header{"Action": {"headers"}, "X-From": {"go"}, "X-Multi": {"a", "b"}}, nil, false)
	if err != nil {
		emit(obj{"event": "open-headers", "err": err.Error()})
		return
	}
	if err := s.WaitTimeout(replyTimeout); err != nil {
		emit(obj{"event": "open-headers", "id": s.Identifier(), "err": "wait: " + err.Error()})
		return
	}
	// The other side sends a HEADERS frame right after its SYN_REPLY (ReceiveHeader must be called
	// before data can flow: spdystream hands headers over on an unbuffered channel).
	hh, err := s.ReceiveHeader()
	if err != nil {
		emit(obj{"event": "open-headers", "id": s.Identifier(), "err": "headers: " + err.Error()})
		return
	}
	if _, err := s.Write([]byte("hello from go")); err != nil {
		emit(obj{"event": "open-headers", "id": s.Identifier(), "err": "write: " + err.Error()})
		return
	}
	if err := s.Close(); err != nil {
		emit(obj{"event": "open-headers", "id": s.Identifier(), "err": "close: " + err.Error()})
		return
	}
	n, _, text, err := readAll(s)
	emit(obj{"event": "open-headers", "id": s.Identifier(), "headers": lowerHeaders(hh), "bytes": n, "text": string(text), "err": errString(err)})
}

func openEcho(conn *spdystream.Connection, size int) {
	data := pattern(size, 42)
	sentSha := shaHex(data)
	start := time.Now()
	s, err := conn.CreateStream(http.Header{"Action": {"echo"}}, nil, false)
	if err != nil {
		emit(obj{"event": "open-echo", "err": err.Error()})
		return
	}
	if err := s.WaitTimeout(replyTimeout); err != nil {
		emit(obj{"event": "open-echo", "id": s.Identifier(), "err": "wait: " + err.Error()})
		return
	}
	werr := make(chan error, 1)
	go func() { werr <- writeChunks(s, data) }()
	n, recvSha, _, rerr := readAll(s)
	elapsed := time.Since(start)
	we := <-werr
	emit(obj{"event": "open-echo", "id": s.Identifier(), "bytes": size, "received": n, "sentSha": sentSha, "recvSha": recvSha,
		"ms": float64(elapsed.Microseconds()) / 1000, "mbps": float64(size) / 1e6 / elapsed.Seconds(), "err": errString(we) + errString(rerr)})
}

func openParallel(conn *spdystream.Connection, n, chunk int) {
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	var errs []string
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			fail := func(e string) {
				mu.Lock()
				if len(errs) < 5 {
					errs = append(errs, fmt.Sprintf("stream %d: %s", i, e))
				}
				mu.Unlock()
			}
			s, err := conn.CreateStream(http.Header{"Action": {"echo"}, "Quiet": {"1"}, "X-Id": {strconv.Itoa(i)}}, nil, false)
			if err != nil {
				fail(err.Error())
				return
			}
			if err := s.WaitTimeout(replyTimeout); err != nil {
				fail("wait: " + err.Error())
				return
			}
			data := pattern(chunk, int64(i))
			werr := make(chan error, 1)
			go func() { werr <- writeChunks(s, data) }()
			got, sum, _, err := readAll(s)
			if e := <-werr; e != nil {
				fail("write: " + e.Error())
				return
			}
			if err != nil {
				fail("read: " + err.Error())
				return
			}
			if got != int64(chunk) || sum != shaHex(data) {
				fail(fmt.Sprintf("echo mismatch: %d bytes", got))
				return
			}
			mu.Lock()
			ok++
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(start)
	emit(obj{"event": "open-parallel", "n": n, "ok": ok, "ms": float64(elapsed.Microseconds()) / 1000, "errors": errs})
}

func openReset(conn *spdystream.Connection) {
	s, err := conn.CreateStream(http.Header{"Action": {"expect-reset"}}, nil, false)
	if err != nil {
		emit(obj{"event": "open-reset", "err": err.Error()})
		return
	}
	if err := s.WaitTimeout(replyTimeout); err != nil {
		emit(obj{"event": "open-reset", "id": s.Identifier(), "err": "wait: " + err.Error()})
		return
	}
	_, werr := s.Write(pattern(1024, 7))
	rerr := s.Reset()
	emit(obj{"event": "open-reset", "id": s.Identifier(), "err": errString(werr) + errString(rerr)})
}

func openRefused(conn *spdystream.Connection) {
	s, err := conn.CreateStream(http.Header{"Action": {"refuse"}}, nil, false)
	if err != nil {
		emit(obj{"event": "open-refused", "err": err.Error()})
		return
	}
	werr := s.WaitTimeout(replyTimeout)
	emit(obj{"event": "open-refused", "id": s.Identifier(), "waitErr": errString(werr), "isReset": werr == spdystream.ErrReset})
}

func ping(conn *spdystream.Connection) {
	var rtts []float64
	for i := 0; i < 5; i++ {
		d, err := conn.Ping()
		if err != nil {
			emit(obj{"event": "ping", "err": err.Error(), "rttsMs": rtts})
			return
		}
		rtts = append(rtts, float64(d.Microseconds())/1000)
	}
	emit(obj{"event": "ping", "rttsMs": rtts})
}

func runScenario(conn *spdystream.Connection, name string, size, n, chunk int) {
	switch name {
	case "none", "":
	case "open-headers":
		openHeaders(conn)
	case "open-echo":
		openEcho(conn, size)
	case "open-parallel":
		openParallel(conn, n, chunk)
	case "open-reset":
		openReset(conn)
	case "open-refused":
		openRefused(conn)
	case "ping":
		ping(conn)
	case "go-close":
		select {
		case <-echoDone:
		case <-time.After(replyTimeout):
			emit(obj{"event": "go-close", "err": "no echo stream finished"})
		}
		err := conn.Close()
		emit(obj{"event": "go-close", "err": errString(err)})
	default:
		emit(obj{"event": "error", "where": "scenario", "err": "unknown scenario " + strconv.Quote(name)})
	}
}

// serveConn runs one spdystream connection: Serve, the scenarios, then waits for the connection to end.
func serveConn(nc net.Conn, server bool, scenarios []string, size, n, chunk int, endTimeout time.Duration) obj {
	conn, err := spdystream.NewConnection(nc, server)
	if err != nil {
		return obj{"event": "end", "err": err.Error()}
	}
	goaway := make(chan *spdystream.Stream, 1)
	conn.NotifyClose(goaway, 0)
	served := make(chan struct{})
	go func() {
		conn.Serve(handler(conn))
		close(served)
	}()
	for _, sc := range scenarios {
		runScenario(conn, sc, size, n, chunk)
	}
	emit(obj{"event": "scenarios-done", "server": server})
	res := obj{"event": "end", "server": server}
	select {
	case <-served:
	case <-time.After(endTimeout):
		res["err"] = "connection still open after " + endTimeout.String()
		_ = nc.Close()
		<-served
	}
	select {
	case <-goaway:
		res["goaway"] = true
	case <-time.After(200 * time.Millisecond):
		res["goaway"] = false
	}
	// After a GOAWAY (received or sent), spdystream's shutdown closes the socket once no stream is left;
	// Wait returns nil then. Without a GOAWAY there is no shutdown and Wait times out.
	werr := conn.Wait(2 * time.Second)
	res["graceful"] = werr == nil
	res["waitErr"] = errString(werr)
	_ = nc.Close()
	return res
}

func main() {
	mode := flag.String("mode", "server", "client | server | pair (Go client and Go server in this process)")
	addr := flag.String("addr", "127.0.0.1:0", "listen address (server, pair) or address to dial (client); loopback only")
	scenario := flag.String("scenario", "none", "comma-separated scenarios this side runs")
	size := flag.Int("size", 64<<20, "bytes of open-echo")
	n := flag.Int("n", 200, "streams of open-parallel")
	chunk := flag.Int("chunk", 4096, "bytes per stream of open-parallel")
	timeout := flag.Duration("timeout", 45*time.Second, "the whole run; then exit 3")
	endTimeout := flag.Duration("end-timeout", 20*time.Second, "how long to wait for the other side to close after the scenarios")
	flag.Parse()
	if host, _, err := net.SplitHostPort(*addr); err != nil || (host != "127.0.0.1" && host != "localhost" && host != "::1") {
		fmt.Fprintf(os.Stderr, "spdypeer: -addr must be a loopback host:port, got %q\n", *addr)
		os.Exit(2)
	}
	time.AfterFunc(*timeout, func() {
		emit(obj{"event": "timeout", "after": timeout.String()})
		os.Exit(3)
	})
	scenarios := strings.Split(*scenario, ",")

	switch *mode {
	case "server":
		ln, err := net.Listen("tcp", *addr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "spdypeer: listen:", err)
			os.Exit(1)
		}
		emit(obj{"event": "listening", "addr": ln.Addr().String()})
		nc, err := ln.Accept()
		ln.Close()
		if err != nil {
			fmt.Fprintln(os.Stderr, "spdypeer: accept:", err)
			os.Exit(1)
		}
		emit(serveConn(nc, true, scenarios, *size, *n, *chunk, *endTimeout))
	case "client":
		nc, err := net.DialTimeout("tcp", *addr, 5*time.Second)
		if err != nil {
			fmt.Fprintln(os.Stderr, "spdypeer: dial:", err)
			os.Exit(1)
		}
		emit(serveConn(nc, false, scenarios, *size, *n, *chunk, *endTimeout))
	case "pair":
		// Baseline: the same scenarios between two spdystream connections over loopback TCP.
		ln, err := net.Listen("tcp", *addr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "spdypeer: listen:", err)
			os.Exit(1)
		}
		accepted := make(chan net.Conn, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				fmt.Fprintln(os.Stderr, "spdypeer: accept:", err)
				os.Exit(1)
			}
			accepted <- c
		}()
		cc, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
		if err != nil {
			fmt.Fprintln(os.Stderr, "spdypeer: dial:", err)
			os.Exit(1)
		}
		sc := <-accepted
		ln.Close()
		srv, err := spdystream.NewConnection(sc, true)
		if err != nil {
			fmt.Fprintln(os.Stderr, "spdypeer:", err)
			os.Exit(1)
		}
		go srv.Serve(handler(srv))
		cli, err := spdystream.NewConnection(cc, false)
		if err != nil {
			fmt.Fprintln(os.Stderr, "spdypeer:", err)
			os.Exit(1)
		}
		go cli.Serve(handler(cli))
		for _, s := range scenarios {
			runScenario(cli, s, *size, *n, *chunk)
		}
		cerr := cli.CloseWait()
		emit(obj{"event": "end", "graceful": cerr == nil, "waitErr": errString(cerr)})
	default:
		fmt.Fprintf(os.Stderr, "spdypeer: unknown -mode %q\n", *mode)
		os.Exit(2)
	}
}
