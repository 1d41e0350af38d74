// gotls: the Go HTTPS server and client of selftests/integration/test_tls_go.sh, standard
// library only. The client writes one JSON line per request it made: the oracle the test
// compares floe's entries with.
//
//	gotls server ADDR CERT KEY
//	gotls client BASEURL h1|h2 N LOG
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"strconv"
	"strings"
	"time"
)

type record struct {
	Method    string `json:"method"`
	Path      string `json:"path"`
	Proto     string `json:"proto"`
	Status    int    `json:"status"`
	ReqBody   string `json:"req_body"`
	RespBody  string `json:"resp_body"`
	RespSize  int    `json:"resp_size"`
	LocalPort int    `json:"local_port"`
	Pid       int    `json:"pid"`
}

func server(addr, cert, key string) {
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/plain")
		w.Write(bytes.ToUpper(b))
	})
	mux.HandleFunc("/r/", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/r/"))
		if n%3 == 2 {
			w.WriteHeader(http.StatusNotFound)
		}
		fmt.Fprintf(w, "hello %d from go %s\n", n, strings.Repeat("x", n*100))
	})
	s := &http.Server{Addr: addr, Handler: mux}
	fmt.Println("listening", addr)
	if err := s.ListenAndServeTLS(cert, key); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func client(base, proto string, n int, logPath string) {
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	if proto == "h2" {
		tr.ForceAttemptHTTP2 = true
	} else {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	out, err := os.Create(logPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer out.Close()
	enc := json.NewEncoder(out)
	failed := 0
	for i := 1; i <= n; i++ {
		rec := record{Pid: os.Getpid()}
		var req *http.Request
		if i%2 == 0 {
			rec.Method, rec.Path = "POST", fmt.Sprintf("/echo?i=%d", i)
			rec.ReqBody = fmt.Sprintf("go body %d %s", i, strings.Repeat("y", i*50))
			req, _ = http.NewRequest("POST", base+rec.Path, strings.NewReader(rec.ReqBody))
		} else {
			rec.Method, rec.Path = "GET", fmt.Sprintf("/r/%d", i)
			req, _ = http.NewRequest("GET", base+rec.Path, nil)
		}
		req.Header.Set("X-Floe-Test", fmt.Sprintf("go-%s-%d", proto, i))
		trace := &httptrace.ClientTrace{GotConn: func(ci httptrace.GotConnInfo) {
			if a, ok := ci.Conn.LocalAddr().(*net.TCPAddr); ok {
				rec.LocalPort = a.Port
			}
		}}
		req = req.WithContext(httptrace.WithClientTrace(context.Background(), trace))
		resp, err := c.Do(req)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			failed++
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		rec.Proto, rec.Status, rec.RespBody, rec.RespSize = resp.Proto, resp.StatusCode, string(b), len(b)
		enc.Encode(&rec)
	}
	tr.CloseIdleConnections()
	if failed > 0 {
		os.Exit(1)
	}
}

func main() {
	if len(os.Args) >= 5 && os.Args[1] == "server" {
		server(os.Args[2], os.Args[3], os.Args[4])
		return
	}
	if len(os.Args) >= 6 && os.Args[1] == "client" {
		n, _ := strconv.Atoi(os.Args[4])
		client(os.Args[2], os.Args[3], n, os.Args[5])
		return
	}
	fmt.Fprintln(os.Stderr, "usage: gotls server ADDR CERT KEY | gotls client BASEURL h1|h2 N LOG")
	os.Exit(2)
}
