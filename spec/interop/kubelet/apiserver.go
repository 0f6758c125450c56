// The parts of an API server in front of the kubelet that a client meets before the upgrade: TLS, bearer
// token authentication, and the pod GET that kubectl and kube-spdy make for a pod/NAME target.
//
//	-tls-cert FILE -tls-key FILE   serve https (HTTP/1.1 only: the SPDY upgrade and the WebSocket tunnel
//	                               hijack the connection, as the API server's do)
//	-token-file FILE               every request must carry "Authorization: Bearer <the file's content>";
//	                               the file is read again for each request, so a test can rotate the token
//	                               (or restart the server with a new one). Without it: 401 and a Status,
//	                               as the API server's authentication filter answers.
//
// GET /api/v1/namespaces/NS/pods/NAME answers a Running pod named NAME (any name: this server forwards
// to whatever pod it is asked for).
package main

import (
	"encoding/json"
	"net/http"
	"os"
	"strings"
)

// authorized checks the bearer token against -token-file (read now). It writes the 401 when not.
func authorized(w http.ResponseWriter, req *http.Request) bool {
	if cfg.tokenFile == "" {
		return true
	}
	want, err := os.ReadFile(cfg.tokenFile)
	if err == nil {
		token := strings.TrimSpace(string(want))
		got := req.Header.Get("Authorization")
		if token != "" && got == "Bearer "+token {
			return true
		}
	}
	emit(obj{"event": "unauthorized", "path": req.URL.Path})
	writeStatus(w, http.StatusUnauthorized, "Unauthorized", "Unauthorized")
	return false
}

// writeStatus answers a metav1.Status, as the API server does for errors.
func writeStatus(w http.ResponseWriter, code int, reason, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(obj{
		"kind": "Status", "apiVersion": "v1", "metadata": obj{},
		"status": "Failure", "message": message, "reason": reason, "code": code,
	})
}

// servePodGet answers GET /api/v1/namespaces/NS/pods/NAME with a Running pod; false for other paths.
func servePodGet(w http.ResponseWriter, req *http.Request) bool {
	parts := strings.Split(strings.Trim(req.URL.Path, "/"), "/")
	if req.Method != http.MethodGet || len(parts) != 6 || parts[0] != "api" || parts[1] != "v1" || parts[2] != "namespaces" || parts[4] != "pods" {
		return false
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(obj{
		"kind": "Pod", "apiVersion": "v1",
		"metadata": obj{"name": parts[5], "namespace": parts[3]},
		"spec":     obj{"containers": []obj{{"name": "app"}}},
		"status":   obj{"phase": "Running", "conditions": []obj{{"type": "Ready", "status": "True"}}},
	})
	return true
}
