// Command gopipebench measures Go's io.Pipe on the same grid as gopipe's
// criterion bench (benches/pipe.rs): one goroutine writes writes of S bytes,
// another reads them with an R-byte buffer.
//
// It prints one CSV line per grid point: go,S,R,median ns per write,
// min ns per write, rounds. Run it through benches/compare.sh, or alone:
//
//	cd benches/go && go run . [-quick]
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"time"
)

// pattern is the byte at position i of the stream, as in the Rust bench.
func pattern(i int) byte { return byte(i % 251) }

// run moves iters writes of s bytes through a fresh io.Pipe, read with an
// r-byte buffer, and returns the elapsed time. With check, every byte is
// verified; otherwise one byte per read.
func run(iters, s, r int, check bool) time.Duration {
	pr, pw := io.Pipe()
	data := make([]byte, s)
	for i := range data {
		data[i] = pattern(i)
	}
	total := s * iters
	done := make(chan error, 1)
	ready := make(chan struct{})
	go func() {
		buf := make([]byte, r)
		got := 0
		close(ready)
		for got < total {
			n, err := pr.Read(buf)
			if err != nil {
				done <- err
				return
			}
			if check {
				for k := 0; k < n; k++ {
					if buf[k] != pattern((got+k)%s) {
						done <- fmt.Errorf("byte %d wrong", got+k)
						return
					}
				}
			} else if n > 0 && buf[0] != pattern(got%s) {
				done <- fmt.Errorf("byte %d wrong", got)
				return
			}
			got += n
		}
		done <- nil
	}()
	<-ready
	start := time.Now()
	for i := 0; i < iters; i++ {
		if _, err := pw.Write(data); err != nil {
			fmt.Fprintln(os.Stderr, "write:", err)
			os.Exit(1)
		}
	}
	if err := <-done; err != nil {
		fmt.Fprintln(os.Stderr, "read:", err)
		os.Exit(1)
	}
	elapsed := time.Since(start)
	pw.Close()
	return elapsed
}

func main() {
	quick := flag.Bool("quick", false, "shorter rounds")
	flag.Parse()
	target := 2 * time.Second
	rounds := 15
	if *quick {
		target = 1 * time.Second
		rounds = 10
	}
	sizes := []int{64, 1 << 10, 16 << 10, 64 << 10, 1 << 20}
	for _, s := range sizes {
		reads := []int{s, 8 << 10}
		if s > 64<<10 {
			reads[0] = 64 << 10
		}
		if reads[0] == reads[1] {
			reads = reads[:1]
		}
		for _, r := range reads {
			run(4, s, r, true) // check the whole stream once
			// Calibrate so that one round takes about target/rounds.
			iters := 16
			for {
				if d := run(iters, s, r, false); d > target/time.Duration(rounds) || iters > 1<<26 {
					break
				}
				iters *= 2
			}
			per := make([]float64, rounds)
			for i := range per {
				per[i] = float64(run(iters, s, r, false).Nanoseconds()) / float64(iters)
			}
			sort.Float64s(per)
			fmt.Printf("go,%d,%d,%.1f,%.1f,%d\n", s, r, per[rounds/2], per[0], rounds)
		}
	}
}
