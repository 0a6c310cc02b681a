// Command conn measures Go's net.Pipe in the shapes of gopipe's criterion
// bench benches/conn.rs:
//
//   - pingpong: x/net/nettest's PingPong with 8-byte messages. The pinger (the
//     main goroutine) writes a little-endian uint64, the ponger goroutine
//     reads it, checks that it is two more than the last one it saw, and
//     writes it back plus one; the pinger checks the reply and writes it plus
//     one. Time per round trip.
//   - stream: a writer goroutine makes iters writes of 64 KiB, the main
//     goroutine reads with a 64 KiB buffer. Time per write, from the release
//     of both sides until the reader has the last byte.
//
// Goroutines run under the default GOMAXPROCS (the number of cores). Every
// case first runs a short check (every reply of the ping-pong, every byte of
// the stream, up to its end); measured streams check the first byte of every
// read. Rounds are calibrated to a target duration, each on a fresh net.Pipe;
// the median and minimum over the rounds are printed, one CSV line per case,
// after a comment line naming GOMAXPROCS:
//
//	go,shape,size,median ns per op,min ns per op,rounds
//
// Run it through benches/compare_conn.sh, or alone:
//
//	cd benches/go && go run ./conn [-quick]
package main

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sort"
	"time"
)

// msg is the size of one ping-pong message; chunk the size of a streaming
// write and of the streaming reader's buffer.
const (
	msg   = 8
	chunk = 64 << 10
)

// pattern is the byte at position i of the stream, as in the Rust bench.
func pattern(i int) byte { return byte((i % chunk) % 251) }

// fail reports a failed check and ends the process.
func fail(err error) {
	fmt.Fprintln(os.Stderr, "conn:", err)
	os.Exit(1)
}

// ponger answers every message on c with its value plus one until the pinger
// closes, checking that each value is two more than the previous one, and
// sends how many it answered (or an error) on done.
func ponger(c net.Conn, ready chan<- struct{}, done chan<- error, want int) {
	defer c.Close()
	buf := make([]byte, msg)
	var prev uint64
	answered := 0
	close(ready)
	for {
		if _, err := io.ReadFull(c, buf); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			done <- fmt.Errorf("ponger: read: %w", err)
			return
		}
		v := binary.LittleEndian.Uint64(buf)
		if answered > 0 && v != prev+2 {
			done <- fmt.Errorf("ponger: got %d after %d", v, prev)
			return
		}
		prev = v
		binary.LittleEndian.PutUint64(buf, v+1)
		if _, err := c.Write(buf); err != nil {
			done <- fmt.Errorf("ponger: write: %w", err)
			return
		}
		answered++
	}
	if answered != want {
		done <- fmt.Errorf("ponger: answered %d, want %d", answered, want)
		return
	}
	done <- nil
}

// pingPong makes iters round trips over a fresh net.Pipe and returns the time
// they took. Every reply is checked, whatever check says.
func pingPong(iters int, _ bool) time.Duration {
	c1, c2 := net.Pipe()
	ready := make(chan struct{})
	done := make(chan error, 1)
	go ponger(c2, ready, done, iters)
	<-ready
	buf := make([]byte, msg)
	start := time.Now()
	for i := 0; i < iters; i++ {
		binary.LittleEndian.PutUint64(buf, uint64(2*i))
		if _, err := c1.Write(buf); err != nil {
			fail(fmt.Errorf("pinger: write: %w", err))
		}
		if _, err := io.ReadFull(c1, buf); err != nil {
			fail(fmt.Errorf("pinger: read: %w", err))
		}
		if v := binary.LittleEndian.Uint64(buf); v != uint64(2*i+1) {
			fail(fmt.Errorf("pinger: got %d, want %d", v, 2*i+1))
		}
	}
	elapsed := time.Since(start)
	c1.Close()
	if err := <-done; err != nil {
		fail(err)
	}
	return elapsed
}

// stream makes iters writes of chunk bytes over a fresh net.Pipe, read with a
// chunk-byte buffer, checking every byte with check, else the first byte of
// every read; returns the time from the release of both sides until the reader
// has the last byte.
func stream(iters int, check bool) time.Duration {
	rx, tx := net.Pipe()
	data := make([]byte, chunk)
	for i := range data {
		data[i] = pattern(i)
	}
	total := chunk * iters
	release := make(chan struct{})
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		close(ready)
		<-release
		for k := 0; k < iters; k++ {
			if _, err := tx.Write(data); err != nil {
				done <- fmt.Errorf("write: %w", err)
				tx.Close()
				return
			}
		}
		done <- tx.Close()
	}()
	buf := make([]byte, chunk)
	<-ready
	start := time.Now()
	close(release)
	got := 0
	for got < total {
		n, err := rx.Read(buf)
		if err != nil {
			fail(fmt.Errorf("read at %d of %d: %w", got, total, err))
		}
		upto := n
		if !check && n > 0 {
			upto = 1
		}
		for k := 0; k < upto; k++ {
			if buf[k] != pattern(got+k) {
				fail(fmt.Errorf("byte %d wrong", got+k))
			}
		}
		got += n
	}
	elapsed := time.Since(start)
	if n, err := rx.Read(buf); n != 0 || !errors.Is(err, io.EOF) {
		fail(fmt.Errorf("after the end: %d bytes, %v", n, err))
	}
	rx.Close()
	if err := <-done; err != nil {
		fail(err)
	}
	return elapsed
}

// measure runs a short check, calibrates iters so that one round takes about
// target/rounds, and prints the median and minimum ns per op.
func measure(shape string, size, checkIters int, run func(iters int, check bool) time.Duration, target time.Duration, rounds int) {
	run(checkIters, true)
	iters := 4
	for {
		if d := run(iters, false); d > target/time.Duration(rounds) || iters > 1<<26 {
			break
		}
		iters *= 2
	}
	per := make([]float64, rounds)
	for i := range per {
		per[i] = float64(run(iters, false).Nanoseconds()) / float64(iters)
	}
	sort.Float64s(per)
	fmt.Printf("go,%s,%d,%.1f,%.1f,%d\n", shape, size, per[rounds/2], per[0], rounds)
}

func main() {
	quick := flag.Bool("quick", false, "shorter rounds")
	flag.Parse()
	target := 3 * time.Second
	rounds := 15
	if *quick {
		target = 1500 * time.Millisecond
		rounds = 10
	}
	fmt.Printf("# GOMAXPROCS=%d\n", runtime.GOMAXPROCS(0))
	measure("pingpong", msg, 1000, pingPong, target, rounds)
	measure("stream", chunk, 8, stream, target, rounds)
}
