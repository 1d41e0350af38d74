// gotlsload: the Go HTTPS load of selftests/bench/tls.sh, standard library only. CONC
// goroutines share one net/http client (HTTP/1.1: a connection each; HTTP/2: multiplexed)
// and make N GETs of PATH in all against the server of selftests/integration/gotls. Prints
// one line: requests/s over the whole run and the requests' latency percentiles. With RATE
// (requests/s in all), request i is due at i/RATE seconds from the start and its latency is
// counted from then, so a request held up by an earlier slow one counts the wait too.
//
//	gotlsload URL h1|h2 CONC N [RATE]
package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	if len(os.Args) != 5 && len(os.Args) != 6 {
		fmt.Fprintln(os.Stderr, "usage: gotlsload URL h1|h2 CONC N [RATE]")
		os.Exit(2)
	}
	rate := 0.0
	if len(os.Args) == 6 {
		rate, _ = strconv.ParseFloat(os.Args[5], 64)
		if rate <= 0 {
			fmt.Fprintln(os.Stderr, "gotlsload: RATE must be positive")
			os.Exit(2)
		}
	}
	url, proto := os.Args[1], os.Args[2]
	conc, _ := strconv.Atoi(os.Args[3])
	n, _ := strconv.Atoi(os.Args[4])
	if conc <= 0 || n <= 0 {
		fmt.Fprintln(os.Stderr, "gotlsload: CONC and N must be positive")
		os.Exit(2)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
		MaxIdleConnsPerHost: conc}
	if proto == "h2" {
		tr.ForceAttemptHTTP2 = true
	} else {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	lat := make([]time.Duration, n)
	var next, failed int64
	var wg sync.WaitGroup
	t0 := time.Now()
	for g := 0; g < conc; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := atomic.AddInt64(&next, 1) - 1
				if i >= int64(n) {
					return
				}
				s := time.Now()
				if rate > 0 {
					s = t0.Add(time.Duration(float64(i) / rate * float64(time.Second)))
					time.Sleep(time.Until(s))
				}
				resp, err := c.Get(url)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if err != nil || resp.StatusCode != 200 {
					atomic.AddInt64(&failed, 1)
				}
				lat[i] = time.Since(s)
			}
		}()
	}
	wg.Wait()
	el := time.Since(t0)
	sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
	ms := func(q float64) float64 { return float64(lat[int(q*float64(n-1))]) / 1e6 }
	fmt.Printf("rps=%.0f p50_ms=%.3f p99_ms=%.3f failed=%d\n", float64(n)/el.Seconds(), ms(0.5), ms(0.99), failed)
	if failed > 0 {
		os.Exit(1)
	}
}
