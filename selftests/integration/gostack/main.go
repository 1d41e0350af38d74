// gostack: a Go TLS client whose (*tls.Conn).Write and Read are called when the goroutine's
// stack has to grow at their very entry, for test_tls_gostack.sh (the server: gotls's
// net/http one). Standard library only.
//
//	gostack client ADDR ROUNDS MAXDEPTH
//	                               after a line on stdin, one connection; ROUNDS times, for each depth D in
//	                               0..MAXDEPTH: a fresh goroutine recurses D frames and then
//	                               calls Write with "GET /echo?r<round>-d<D>" (HTTP/1.1);
//	                               another fresh goroutine recurses D frames and then calls
//	                               Read for the answer (read to its end)
//
// Why it works: a fresh goroutine starts on a small stack (8 KiB with
// GODEBUG=adaptivestackstart=0), and the stack check in each function's prologue compares the
// stack pointer with the goroutine's guard. Each depth lowers the stack pointer at Write's
// entry by one frame of deep; the recursion's own checks pass while Write's fails for the
// depth at which the pointer crosses the guard between deep's last frame and Write's, so at
// that depth Write's prologue jumps to runtime.morestack, which grows the stack and enters
// Write again from its first instruction (the case the test is about). Sweeping the depths
// hits it at least once per round whatever the frames' exact sizes; likewise for Read.
//
// The client prints one line per request: "req path=P n=N len=L moved=M", n being what Write
// returned and M 1 when the goroutine's stack moved during the Write (it grew at Write's entry
// or deeper), then "resp path=P status=S body=B", and at the end "pid=PID requests=K
// bytes=SUM". Its own view: the oracle.
package main

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unsafe"
)

// deep recurses d frames, then runs f on the stack it has reached. Not inlined: every level
// is one frame, so the depth moves the stack pointer at f's callee in steps of one frame. It
// reports whether the goroutine's stack moved while f ran (its own frame's address changed).
//
//go:noinline
func deep(d int, f func()) bool {
	if d > 0 {
		return deep(d-1, f)
	}
	var here int
	before := uintptr(unsafe.Pointer(&here))
	f()
	return uintptr(unsafe.Pointer(&here)) != before
}

// onFreshGoroutine runs deep(d, f) on a new goroutine (a small stack) and waits for it.
func onFreshGoroutine(d int, f func()) bool {
	done := make(chan bool)
	go func() { done <- deep(d, f) }()
	return <-done
}

// readResponse reads one answer: the head, then Content-Length bytes. The first Read is made
// at depth d on a fresh goroutine; the rest (if the answer came in pieces) on this one.
func readResponse(conn *tls.Conn, d int) (status, body string, err error) {
	var got []byte
	buf := make([]byte, 4096)
	onFreshGoroutine(d, func() {
		var n int
		n, err = conn.Read(buf)
		got = append(got, buf[:n]...)
	})
	for err == nil {
		s := string(got)
		if i := strings.Index(s, "\r\n\r\n"); i >= 0 {
			cl := 0
			for _, l := range strings.Split(s[:i], "\r\n") {
				if v, ok := strings.CutPrefix(l, "Content-Length: "); ok {
					cl, _ = strconv.Atoi(v)
				}
			}
			if len(s) >= i+4+cl {
				f := strings.Fields(s)
				return f[1], s[i+4 : i+4+cl], nil
			}
		}
		var n int
		n, err = conn.Read(buf)
		got = append(got, buf[:n]...)
	}
	return "", "", err
}

func client(addr string, rounds, maxDepth int) error {
	// The test's go-ahead (it waits until floe has probed this program).
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		return err
	}
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.Handshake(); err != nil {
		return err
	}
	requests, bytes := 0, 0
	for r := 1; r <= rounds; r++ {
		for d := 0; d <= maxDepth; d++ {
			path := fmt.Sprintf("/echo?r%d-d%d", r, d)
			req := "GET " + path + " HTTP/1.1\r\nHost: b\r\nUser-Agent: gostack\r\n\r\n"
			// The slice is made here: made in the goroutine, its allocation (deeper than
			// Write's check) would take the stack's growth before Write is called.
			b := []byte(req)
			var n int
			var werr error
			moved := onFreshGoroutine(d, func() { n, werr = conn.Write(b) })
			m := 0
			if moved {
				m = 1
			}
			fmt.Printf("req path=%s n=%d len=%d moved=%d\n", path, n, len(req), m)
			if werr != nil {
				return werr
			}
			requests++
			bytes += n
			status, body, err := readResponse(conn, d)
			if err != nil {
				return err
			}
			fmt.Printf("resp path=%s status=%s body=%s\n", path, status, body)
		}
	}
	fmt.Printf("pid=%d requests=%d bytes=%d\n", os.Getpid(), requests, bytes)
	return nil
}

func main() {
	var err error
	switch {
	case len(os.Args) == 5 && os.Args[1] == "client":
		rounds, e1 := strconv.Atoi(os.Args[3])
		maxDepth, e2 := strconv.Atoi(os.Args[4])
		if e1 != nil || e2 != nil {
			err = fmt.Errorf("bad ROUNDS or MAXDEPTH")
			break
		}
		err = client(os.Args[2], rounds, maxDepth)
	default:
		err = fmt.Errorf("usage: gostack client ADDR ROUNDS MAXDEPTH")
	}
	if err != nil && err != io.EOF {
		fmt.Fprintln(os.Stderr, "gostack:", err)
		os.Exit(1)
	}
}
