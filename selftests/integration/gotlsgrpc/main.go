// gotlsgrpc: the grpc-go server and client over TLS of selftests/integration/test_tls_go.sh
// (grpc-go's own health service: no generated code of ours). The client writes one JSON line
// per call it made: the oracle the test compares floe's entries with.
//
//	gotlsgrpc server ADDR CERT KEY
//	gotlsgrpc client ADDR N LOG
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

type record struct {
	Service   string `json:"service"`
	Code      int    `json:"code"`
	Serving   string `json:"serving"`
	LocalPort int    `json:"local_port"`
	Pid       int    `json:"pid"`
}

func server(addr, cert, key string) {
	c, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	s := grpc.NewServer(grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{c}})))
	h := health.NewServer()
	h.SetServingStatus("floe.Up", healthpb.HealthCheckResponse_SERVING)
	h.SetServingStatus("floe.Down", healthpb.HealthCheckResponse_NOT_SERVING)
	healthpb.RegisterHealthServer(s, h)
	fmt.Println("listening", addr)
	s.Serve(l)
}

func client(addr string, n int, logPath string) {
	localPort := 0
	dial := func(ctx context.Context, a string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", a)
		if err == nil {
			localPort = c.LocalAddr().(*net.TCPAddr).Port
		}
		return c, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := grpc.DialContext(ctx, addr, grpc.WithBlock(), grpc.WithContextDialer(dial),
		grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{InsecureSkipVerify: true})))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer conn.Close()
	out, err := os.Create(logPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer out.Close()
	enc := json.NewEncoder(out)
	hc := healthpb.NewHealthClient(conn)
	services := []string{"floe.Up", "floe.Down", "floe.Missing"}
	for i := 0; i < n; i++ {
		rec := record{Service: services[i%len(services)], Pid: os.Getpid()}
		resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: rec.Service})
		rec.Code = int(status.Code(err))
		if resp != nil {
			rec.Serving = resp.Status.String()
		}
		rec.LocalPort = localPort
		enc.Encode(&rec)
	}
}

func main() {
	if len(os.Args) >= 5 && os.Args[1] == "server" {
		server(os.Args[2], os.Args[3], os.Args[4])
		return
	}
	if len(os.Args) >= 5 && os.Args[1] == "client" {
		n, _ := strconv.Atoi(os.Args[3])
		client(os.Args[2], n, os.Args[4])
		return
	}
	fmt.Fprintln(os.Stderr, "usage: gotlsgrpc server ADDR CERT KEY | gotlsgrpc client ADDR N LOG")
	os.Exit(2)
}
