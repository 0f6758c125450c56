// apifront: the API-server half of the bench's Go port-forward path. It answers what kubectl and
// kube-spdy ask an API server before a port-forward (/version, discovery, pod GET: phase Running) and
// passes every …/portforward request, upgrade included, to a kubelet-style Go spdystream server
// (spec/interop/kubelet) with net/http/httputil's reverse proxy, as the real API server proxies to the
// kubelet. Prints {"event":"listening","addr":…} once listening; exits when stdin closes.
//
//	apifront -addr 127.0.0.1:0 -kubelet http://127.0.0.1:PORT
//
// Built like spec/interop/go: GO111MODULE=off GOPATH=/usr/share/gocode go build (standard library only).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"regexp"
)

var podPath = regexp.MustCompile(`^/api/v1/namespaces/([^/]+)/pods/([^/]+)$`)

func reply(w http.ResponseWriter, v interface{}) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	kubelet := flag.String("kubelet", "", "URL of the kubelet-style port-forward server")
	flag.Parse()
	target, err := url.Parse(*kubelet)
	if err != nil || *kubelet == "" {
		fmt.Fprintln(os.Stderr, "-kubelet URL is required")
		os.Exit(2)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(1)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case len(p) > 12 && p[len(p)-12:] == "/portforward":
			proxy.ServeHTTP(w, r)
		case p == "/version":
			reply(w, map[string]string{"major": "1", "minor": "32", "gitVersion": "v1.32.0-kube-spdy-bench"})
		case p == "/api":
			reply(w, map[string]interface{}{"kind": "APIVersions", "versions": []string{"v1"}, "serverAddressByClientCIDRs": []map[string]string{{"clientCIDR": "0.0.0.0/0", "serverAddress": ln.Addr().String()}}})
		case p == "/apis":
			reply(w, map[string]interface{}{"kind": "APIGroupList", "apiVersion": "v1", "groups": []string{}})
		case p == "/api/v1":
			reply(w, map[string]interface{}{"kind": "APIResourceList", "groupVersion": "v1", "resources": []map[string]interface{}{
				{"name": "pods", "singularName": "pod", "namespaced": true, "kind": "Pod", "verbs": []string{"get", "list"}},
				{"name": "pods/portforward", "singularName": "", "namespaced": true, "kind": "PodPortForwardOptions", "verbs": []string{"create", "get"}},
			}})
		default:
			m := podPath.FindStringSubmatch(p)
			if m == nil {
				http.Error(w, "not found", http.StatusNotFound)
				return
			}
			reply(w, map[string]interface{}{
				"apiVersion": "v1", "kind": "Pod",
				"metadata": map[string]string{"name": m[2], "namespace": m[1], "uid": "00000000-0000-4000-8000-000000000001", "resourceVersion": "1"},
				"spec":     map[string]interface{}{"containers": []map[string]string{{"name": "main", "image": "bench"}}},
				"status":   map[string]interface{}{"phase": "Running", "podIP": "127.0.0.1"},
			})
		}
	})
	_ = json.NewEncoder(os.Stdout).Encode(map[string]string{"event": "listening", "addr": ln.Addr().String()})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	if err := http.Serve(ln, mux); err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(1)
	}
}
