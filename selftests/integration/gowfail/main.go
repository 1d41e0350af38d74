// gowfail: a Go TLS client whose (*tls.Conn).Write fails, for test_tls_gowrite.sh. Standard
// library only.
//
//	gowfail server ADDR CERT KEY   accept TLS connections; on each, read one HTTP/1.1 request
//	                               (to its blank line), answer it with Connection: close and
//	                               close the connection
//	gowfail client ADDR N          dial ADDR, write "GET /ok", read the answer to its end (the
//	                               server has closed), then write "GET /after-K" N times
//	                               (K = 1..N), 100 ms apart
//
// The client prints one line per Write: "write path=P n=N err=E" (E "-" when none), its own
// view of what was written: the oracle.
package main

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"time"
)

func serve(addr, cert, key string) error {
	c, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		return err
	}
	ln, err := tls.Listen("tcp", addr, &tls.Config{Certificates: []tls.Certificate{c}})
	if err != nil {
		return err
	}
	for {
		conn, err := ln.Accept()
		if err != nil {
			return err
		}
		go func(conn net.Conn) {
			defer conn.Close()
			r := bufio.NewReader(conn)
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == "\r\n" {
					break
				}
			}
			io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
		}(conn)
	}
}

func write(conn *tls.Conn, path string) {
	req := "GET " + path + " HTTP/1.1\r\nHost: b\r\nUser-Agent: gowfail\r\n\r\n"
	n, err := conn.Write([]byte(req))
	e := "-"
	if err != nil {
		e = strconv.Quote(err.Error())
	}
	fmt.Printf("write path=%s n=%d len=%d err=%s\n", path, n, len(req), e)
}

func client(addr string, n int) error {
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		return err
	}
	defer conn.Close()
	write(conn, "/ok")
	body, err := io.ReadAll(conn)
	fmt.Printf("read bytes=%d err=%v\n", len(body), err)
	for k := 1; k <= n; k++ {
		time.Sleep(100 * time.Millisecond)
		write(conn, "/after-"+strconv.Itoa(k))
	}
	return nil
}

func main() {
	var err error
	switch {
	case len(os.Args) == 5 && os.Args[1] == "server":
		err = serve(os.Args[2], os.Args[3], os.Args[4])
	case len(os.Args) == 4 && os.Args[1] == "client":
		n, _ := strconv.Atoi(os.Args[3])
		err = client(os.Args[2], n)
	default:
		fmt.Fprintln(os.Stderr, "usage: gowfail server ADDR CERT KEY | client ADDR N")
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gowfail:", err)
		os.Exit(1)
	}
}
