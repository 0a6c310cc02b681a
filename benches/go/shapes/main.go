// Command shapes measures Go's io.Pipe in the shapes of gopipe's criterion
// bench benches/shapes.rs, where pipes outnumber cores:
//
//   - pairs: P independent pipes (P in 1, 8, 64; -pairs changes the list,
//     benches/compare_async.sh adds 1024), each with a writer goroutine
//     and a reader goroutine (reader buffer = S), every writer making iters
//     writes of S bytes (S in 1 KiB, 64 KiB), all pairs at once;
//   - chain: K pipes in a row (K in 2, 8, 64): a source writes into pipe 1,
//     K-1 relays each read pipe i with an S-byte buffer and write what they
//     read into pipe i+1, a sink reads pipe K;
//   - pinned: pairs with P = 1 under GOMAXPROCS=1, Go's counterpart of
//     gopipe's two threads pinned to one core.
//
// Every case reports the time per write of one source: wall time from the
// release of all goroutines (created beforehand) until the last reader (or the
// sink) has its last byte, divided by iters. Rounds are calibrated to a target
// duration; the median and minimum over the rounds are printed, one CSV line
// per case:
//
//	go,shape,P_or_K,S,median ns per write,min ns per write,rounds
//
// Run it through benches/compare_shapes.sh, or alone:
//
//	cd benches/go && go run ./shapes [-quick] [-pairs 1,8,64,1024] [-chains 2,8,64] [-pinned=false]
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// pattern is the byte at position i of stream number seed, as in the Rust bench.
func pattern(seed, i int) byte { return byte((i + 13*seed) % 251) }

// payload is one write's worth of stream seed: every write of size s carries
// the same bytes, so a reader can check any read from its stream position.
func payload(seed, s int) []byte {
	data := make([]byte, s)
	for i := range data {
		data[i] = pattern(seed, i)
	}
	return data
}

// drain reads total bytes of stream seed (writes of s bytes) from r into buf,
// checking every byte with check, else the first byte of every read.
func drain(r io.Reader, buf []byte, total, s, seed int, check bool) error {
	got := 0
	for got < total {
		n, err := r.Read(buf)
		if err != nil {
			return fmt.Errorf("stream %d: read at %d of %d: %w", seed, got, total, err)
		}
		if check {
			for k := 0; k < n; k++ {
				if buf[k] != pattern(seed, (got+k)%s) {
					return fmt.Errorf("stream %d: byte %d wrong", seed, got+k)
				}
			}
		} else if n > 0 && buf[0] != pattern(seed, got%s) {
			return fmt.Errorf("stream %d: byte %d wrong", seed, got)
		}
		got += n
	}
	return nil
}

// atEnd checks that r has nothing after the bytes drained from it.
func atEnd(r io.Reader, buf []byte, seed int) error {
	if n, err := r.Read(buf); n != 0 || !errors.Is(err, io.EOF) {
		return fmt.Errorf("stream %d: after the end: %d bytes, %v", seed, n, err)
	}
	return nil
}

// errs collects the first failure of any goroutine.
type errs struct {
	mu  sync.Mutex
	err error
}

func (e *errs) set(err error) {
	if err == nil {
		return
	}
	e.mu.Lock()
	if e.err == nil {
		e.err = err
	}
	e.mu.Unlock()
}

func (e *errs) check() {
	if e.err != nil {
		fmt.Fprintln(os.Stderr, "shapes:", e.err)
		os.Exit(1)
	}
}

// pairs runs p independent pairs, each writer making iters writes of s bytes,
// and returns the time from the release of all goroutines until every reader
// has its last byte.
func pairs(p, s, iters int, check bool) time.Duration {
	total := s * iters
	var ready, done, finished sync.WaitGroup
	var failed errs
	start := make(chan struct{})
	ready.Add(2 * p)
	done.Add(p)
	finished.Add(2 * p)
	for i := 0; i < p; i++ {
		pr, pw := io.Pipe()
		data := payload(i, s)
		buf := make([]byte, s)
		seed := i
		go func() {
			defer finished.Done()
			ready.Done()
			<-start
			for k := 0; k < iters; k++ {
				if _, err := pw.Write(data); err != nil {
					failed.set(fmt.Errorf("stream %d: write: %w", seed, err))
					break
				}
			}
			pw.Close()
		}()
		go func() {
			defer finished.Done()
			ready.Done()
			<-start
			err := drain(pr, buf, total, s, seed, check)
			done.Done()
			if err == nil {
				err = atEnd(pr, buf, seed)
			}
			failed.set(err)
			pr.Close()
		}()
	}
	ready.Wait()
	t0 := time.Now()
	close(start)
	done.Wait()
	elapsed := time.Since(t0)
	finished.Wait()
	failed.check()
	return elapsed
}

// chain runs k pipes in a row with a source making iters writes of s bytes,
// k-1 relays and a sink, and returns the time from the release of all
// goroutines until the sink has its last byte.
func chain(k, s, iters int, check bool) time.Duration {
	total := s * iters
	var ready, done, finished sync.WaitGroup
	var failed errs
	start := make(chan struct{})
	prs := make([]*io.PipeReader, k)
	pws := make([]*io.PipeWriter, k)
	for i := range prs {
		prs[i], pws[i] = io.Pipe()
	}
	ready.Add(k + 1)
	done.Add(1)
	finished.Add(k + 1)
	data := payload(0, s)
	go func() { // source
		defer finished.Done()
		ready.Done()
		<-start
		for n := 0; n < iters; n++ {
			if _, err := pws[0].Write(data); err != nil {
				failed.set(fmt.Errorf("source: write: %w", err))
				break
			}
		}
		pws[0].Close()
	}()
	for j := 1; j < k; j++ {
		pr, pw := prs[j-1], pws[j]
		buf := make([]byte, s)
		relay := j
		go func() {
			defer finished.Done()
			defer pw.Close()
			defer pr.Close()
			ready.Done()
			<-start
			got := 0
			for {
				n, err := pr.Read(buf)
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					failed.set(fmt.Errorf("relay %d: read: %w", relay, err))
					return
				}
				got += n
				if _, err := pw.Write(buf[:n]); err != nil {
					failed.set(fmt.Errorf("relay %d: write: %w", relay, err))
					return
				}
			}
			if got != total {
				failed.set(fmt.Errorf("relay %d: %d bytes, want %d", relay, got, total))
			}
		}()
	}
	go func() { // sink
		defer finished.Done()
		pr := prs[k-1]
		buf := make([]byte, s)
		ready.Done()
		<-start
		err := drain(pr, buf, total, s, 0, check)
		done.Done()
		if err == nil {
			err = atEnd(pr, buf, 0)
		}
		failed.set(err)
		pr.Close()
	}()
	ready.Wait()
	t0 := time.Now()
	close(start)
	done.Wait()
	elapsed := time.Since(t0)
	finished.Wait()
	failed.check()
	return elapsed
}

// measure checks a short stream in full, calibrates iters so that one round
// takes about target/rounds, and prints the median and minimum ns per write.
func measure(shape string, n, s int, run func(iters int, check bool) time.Duration, target time.Duration, rounds int) {
	run(4, true)
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
	fmt.Printf("go,%s,%d,%d,%.1f,%.1f,%d\n", shape, n, s, per[rounds/2], per[0], rounds)
}

// counts parses a comma-separated list of positive counts.
func counts(list string) []int {
	var out []int
	for _, f := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "shapes: bad count %q in %q\n", f, list)
			os.Exit(2)
		}
		out = append(out, n)
	}
	return out
}

func main() {
	quick := flag.Bool("quick", false, "shorter rounds")
	pairsList := flag.String("pairs", "1,8,64", "numbers of independent pairs (benches/compare_async.sh adds 1024)")
	chainsList := flag.String("chains", "2,8,64", "lengths of the chains, in pipes")
	pinned := flag.Bool("pinned", true, "also run the pinned rows (GOMAXPROCS=1)")
	flag.Parse()
	target := 3 * time.Second
	rounds := 15
	if *quick {
		target = 1500 * time.Millisecond
		rounds = 10
	}
	sizes := []int{1 << 10, 64 << 10}
	for _, s := range sizes {
		for _, p := range counts(*pairsList) {
			p, s := p, s
			measure("pairs", p, s, func(iters int, check bool) time.Duration { return pairs(p, s, iters, check) }, target, rounds)
		}
	}
	for _, s := range sizes {
		for _, k := range counts(*chainsList) {
			k, s := k, s
			measure("chain", k, s, func(iters int, check bool) time.Duration { return chain(k, s, iters, check) }, target, rounds)
		}
	}
	if !*pinned {
		return
	}
	prev := runtime.GOMAXPROCS(1)
	for _, s := range sizes {
		s := s
		measure("pinned", 1, s, func(iters int, check bool) time.Duration { return pairs(1, s, iters, check) }, target, rounds)
	}
	runtime.GOMAXPROCS(prev)
}
