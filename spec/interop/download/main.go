// download: a raw HTTP/1.1 download client for kube-spdy's port-forward tests, reading at a set rate.
// It reports how its TCP connection ended exactly as the kernel says (read → EOF or ECONNRESET), which a
// Node client cannot always do: libuv (1.46 in Node 20) turns a reset that arrives while unread data
// is queued into a clean end (its POLLHUP + partial read shortcut in uv__stream_io, reworked upstream
// by libuv pull request 4997). Seen as a flaky "clean end" in the reset-mid-transfer test.
//
//	download -addr 127.0.0.1:PORT -n BYTES [-rate BYTES_PER_SECOND]
//
// Sends GET /stream?n=BYTES, checks every body byte against the pattern of spec/portforward-servers.ts
// (xorshift32 from 0x9e3779b9, period 1048573), and prints one JSON object per line on stdout:
// {"event":"progress","received":N} on the first bytes and every 100 ms while bytes arrive, then
// {"event":"done","received":N,"eof":BOOL,"error":"…","corrupt":BOOL} and exits 0.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"
)

const period = 1048573

func pattern() []byte {
	b := make([]byte, period)
	x := uint32(0x9e3779b9)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

func emit(o map[string]interface{}) {
	_ = json.NewEncoder(os.Stdout).Encode(o)
}

func main() {
	addr := flag.String("addr", "", "host:port to connect to")
	n := flag.Int64("n", 0, "bytes to ask for")
	rate := flag.Float64("rate", 0, "read rate, bytes per second (0: as fast as possible)")
	flag.Parse()
	pat := pattern()
	c, err := net.Dial("tcp", *addr)
	if err != nil {
		emit(map[string]interface{}{"event": "done", "received": 0, "eof": false, "error": err.Error(), "corrupt": false})
		return
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /stream?n=%d HTTP/1.1\r\nHost: pod\r\nConnection: close\r\n\r\n", *n)
	r := bufio.NewReaderSize(c, 16384)
	var received int64
	corrupt := false
	finish := func(err error) {
		o := map[string]interface{}{"event": "done", "received": received, "eof": err == io.EOF, "error": "", "corrupt": corrupt}
		if err != nil && err != io.EOF {
			o["error"] = err.Error()
		}
		emit(o)
	}
	// Headers, up to the blank line.
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			finish(err)
			return
		}
		if strings.TrimRight(line, "\r\n") == "" {
			break
		}
	}
	start := time.Now()
	var lastReport time.Time // the first bytes are reported at once
	buf := make([]byte, 16384)
	for {
		if *rate > 0 {
			// Token bucket: wait until the bytes read so far fit the rate.
			due := start.Add(time.Duration(float64(received) / *rate * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				time.Sleep(d)
			}
		}
		k, err := r.Read(buf)
		for i := 0; i < k; i++ {
			if buf[i] != pat[(received+int64(i))%period] {
				corrupt = true
				break
			}
		}
		received += int64(k)
		if k > 0 && time.Since(lastReport) >= 100*time.Millisecond {
			lastReport = time.Now()
			emit(map[string]interface{}{"event": "progress", "received": received})
		}
		if err != nil {
			finish(err)
			return
		}
	}
}
