// gotlsfail: a Go TLS client whose last Write fails, for selftests/integration/test_tls_go_write.sh.
// Standard library only. Over one TLS connection it sends an HTTP/1.1 GET of /r/1 and reads the
// response; then it closes the TCP socket under the TLS connection and writes a second request
// holding MARKER, which fails (nothing is sent). It prints what it saw, the test's oracle:
//
//	ok STATUS LOCALPORT
//	write n=N err=ERROR
//
//	gotlsfail HOST:PORT MARKER
package main

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: gotlsfail HOST:PORT MARKER")
		os.Exit(2)
	}
	raw, err := net.Dial("tcp", os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	c := tls.Client(raw, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	if _, err := c.Write([]byte("GET /r/1 HTTP/1.1\r\nHost: b\r\n\r\n")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	fmt.Printf("ok %d %d\n", resp.StatusCode, raw.LocalAddr().(*net.TCPAddr).Port)
	raw.Close()
	n, err := c.Write([]byte("GET /" + os.Args[2] + " HTTP/1.1\r\nHost: b\r\n\r\n"))
	fmt.Printf("write n=%d err=%v\n", n, err)
}
