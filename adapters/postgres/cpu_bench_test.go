package postgres_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// cpuMeter measures the CPU time that a benchmark costs this process and the PostgreSQL server
// (the backends of the benchmark's pool and the server's background processes), so the figures
// say what an order costs on 2 dedicated cores even when the machine is shared. A server
// process that exits during the measurement (an autovacuum worker) is not counted, so the server
// figure is a lower bound.
type cpuMeter struct {
	self   time.Duration
	server map[string]time.Duration // by pid
}

func readCPU() cpuMeter {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	m := cpuMeter{self: time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), server: map[string]time.Duration{}}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		s := string(b)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open || s[open+1:end] != "postgres" {
			continue
		}
		f := strings.Fields(s[end+1:])
		if len(f) < 13 {
			continue
		}
		// Fields 14 and 15 of /proc/pid/stat (utime, stime) in clock ticks of 1/100 s.
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		m.server[filepath.Base(filepath.Dir(p))] = time.Duration(ut+st) * 10 * time.Millisecond
	}
	return m
}

// report adds the CPU per operation since start to b's metrics. The server figure counts the
// backends of schema's stores (openStore names their connections after the schema) and the
// server's background processes (WAL writer, checkpointer…), not the backends of other clients
// of a shared server.
func (start cpuMeter) report(b *testing.B, schema string) {
	end := readCPU()
	n := float64(b.N)
	conn := adminConn(b, testURL(b))
	defer conn.Close(context.Background())
	rows, err := conn.Query(context.Background(), `SELECT pid::text FROM pg_stat_activity
		WHERE application_name = $1 OR backend_type NOT IN ('client backend', 'autovacuum worker', 'parallel worker')`, schema)
	if err != nil {
		b.Fatal(err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		b.Fatal(err)
	}
	var server time.Duration
	for _, pid := range pids {
		server += end.server[pid] - start.server[pid] // a process new since start counts whole
	}
	b.ReportMetric(float64((end.self-start.self).Microseconds())/n, "go-cpu-µs/op")
	b.ReportMetric(float64(server.Microseconds())/n, "pg-cpu-µs/op")
}
