// spdybench: the Go moby/spdystream baseline of `kube-spdy bench` (suites throughput and churn).
//
// A Go client and a Go server connected over loopback TCP in this process; prints one JSON line.
//
//	spdybench -mode throughput -streams N -bytes B -write W   N streams at once, B bytes in all, W-byte writes
//	spdybench -mode churn -inflight K -ms D                   open, 16 B echo, close; K in flight for D ms
//
// Built like spec/interop/go: GO111MODULE=off GOPATH=/usr/share/gocode go build (Debian's
// golang-github-docker-spdystream-dev).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/docker/spdystream"
)

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

// pair returns a client and a server spdystream connection over loopback TCP; the server answers
// streams with handler.
func pair(handler spdystream.StreamHandler) (*spdystream.Connection, *spdystream.Connection) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			fail(err)
		}
		accepted <- c
	}()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		fail(err)
	}
	b := <-accepted
	server, err := spdystream.NewConnection(b, true)
	if err != nil {
		fail(err)
	}
	go server.Serve(handler)
	client, err := spdystream.NewConnection(a, false)
	if err != nil {
		fail(err)
	}
	go client.Serve(spdystream.NoOpStreamHandler)
	return client, server
}

func throughput(streams int, total int64, write int) {
	per := total / int64(streams)
	var mu sync.Mutex
	var ends []time.Duration
	var got int64
	all := make(chan struct{})
	var t0 time.Time
	client, _ := pair(func(s *spdystream.Stream) {
		if err := s.SendReply(http.Header{}, false); err != nil {
			fail(err)
		}
		go func() {
			n, err := io.Copy(io.Discard, s)
			if err != nil {
				fail(err)
			}
			mu.Lock()
			ends = append(ends, time.Since(t0))
			got += n
			if len(ends) == streams {
				close(all)
			}
			mu.Unlock()
		}()
	})
	buf := make([]byte, write)
	for i := range buf {
		buf[i] = 'a'
	}
	t0 = time.Now()
	var wg sync.WaitGroup
	for i := 0; i < streams; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := client.CreateStream(http.Header{"Streamtype": {"data"}}, nil, false)
			if err != nil {
				fail(err)
			}
			if err := s.Wait(); err != nil {
				fail(err)
			}
			for left := per; left > 0; {
				k := int64(len(buf))
				if k > left {
					k = left
				}
				if _, err := s.Write(buf[:k]); err != nil {
					fail(err)
				}
				left -= k
			}
			if err := s.Close(); err != nil {
				fail(err)
			}
		}()
	}
	wg.Wait()
	select {
	case <-all:
	case <-time.After(60 * time.Second):
		fail(fmt.Errorf("timed out: %d of %d streams finished", len(ends), streams))
	}
	elapsed := time.Since(t0)
	first, last := ends[0], ends[0]
	for _, e := range ends {
		if e < first {
			first = e
		}
		if e > last {
			last = e
		}
	}
	_ = json.NewEncoder(os.Stdout).Encode(map[string]interface{}{
		"mbps":     float64(got) / 1e6 / elapsed.Seconds(),
		"fairness": first.Seconds() / last.Seconds(),
		"bytes":    got,
	})
}

func churn(inflight int, ms int) {
	client, _ := pair(spdystream.MirrorStreamHandler)
	msg := []byte("0123456789abcdef")
	var done int64
	deadline := time.Now().Add(time.Duration(ms) * time.Millisecond)
	t0 := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < inflight; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 64)
			for time.Now().Before(deadline) {
				s, err := client.CreateStream(http.Header{"Streamtype": {"data"}}, nil, false)
				if err != nil {
					fail(err)
				}
				if err := s.Wait(); err != nil {
					fail(err)
				}
				if _, err := s.Write(msg); err != nil {
					fail(err)
				}
				if err := s.Close(); err != nil {
					fail(err)
				}
				n := 0
				for n < len(msg) {
					k, err := s.Read(buf[n:])
					n += k
					if err != nil {
						break
					}
				}
				if n != len(msg) {
					fail(fmt.Errorf("echo returned %d of %d bytes", n, len(msg)))
				}
				atomic.AddInt64(&done, 1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(t0)
	_ = json.NewEncoder(os.Stdout).Encode(map[string]interface{}{
		"rate":    float64(done) / elapsed.Seconds(),
		"streams": done,
	})
}

func main() {
	mode := flag.String("mode", "throughput", "throughput or churn")
	streams := flag.Int("streams", 1, "throughput: concurrent streams")
	total := flag.Int64("bytes", 64<<20, "throughput: bytes in all")
	write := flag.Int("write", 1<<20, "throughput: bytes per Write (one DATA frame each; below 2^24)")
	inflight := flag.Int("inflight", 1, "churn: streams in flight")
	ms := flag.Int("ms", 1000, "churn: duration, ms")
	flag.Parse()
	switch *mode {
	case "throughput":
		throughput(*streams, *total, *write)
	case "churn":
		churn(*inflight, *ms)
	default:
		fail(fmt.Errorf("unknown mode %q", *mode))
	}
}
